package endpoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/waguard/waguard/shared/events"
)

const testPrefix = "waguard/test/endpoints/"

// fakeSM is a hand-written Secrets Manager holding one current value per
// secret. It pages ListSecrets as AWS does (MaxResults, NextToken, a
// prefix name filter), honours ctx, fails the calls it is told to, and
// counts calls.
type fakeSM struct {
	mu       sync.Mutex
	values   map[string]string // name → current value
	versions map[string]int    // name → current version number
	listErr  error
	getErr   map[string]error // name → error
	lists    int
	gets     []string
}

func newFakeSM() *fakeSM {
	return &fakeSM{values: map[string]string{}, versions: map[string]int{}, getErr: map[string]error{}}
}

// put sets the current value of secret name, as PutSecretValue would.
func (f *fakeSM) put(name string, value []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values[name] = string(value)
	f.versions[name]++
}

func (f *fakeSM) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.values, name)
}

func arnOf(name string) string {
	return "arn:aws:secretsmanager:eu-west-2:111122223333:secret:" + name + "-AbCdEf"
}

func (f *fakeSM) ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.listErr != nil {
		return nil, f.listErr
	}
	if len(in.Filters) != 1 || in.Filters[0].Key != types.FilterNameStringTypeName || len(in.Filters[0].Values) != 1 {
		return nil, errors.New("fake: want one name filter")
	}
	var names []string
	for n := range f.values {
		if strings.HasPrefix(n, in.Filters[0].Values[0]) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	start, _ := strconv.Atoi(aws.ToString(in.NextToken))
	end := min(start+int(aws.ToInt32(in.MaxResults)), len(names))
	out := &secretsmanager.ListSecretsOutput{}
	for _, n := range names[start:end] {
		out.SecretList = append(out.SecretList, types.SecretListEntry{Name: aws.String(n), ARN: aws.String(arnOf(n)),
			SecretVersionsToStages: map[string][]string{"v" + strconv.Itoa(f.versions[n]): {"AWSCURRENT"}}})
	}
	if end < len(names) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func (f *fakeSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(in.SecretId), arnOf("")[:len(arnOf(""))-len("-AbCdEf")]), "-AbCdEf")
	f.gets = append(f.gets, name)
	if err := f.getErr[name]; err != nil {
		return nil, err
	}
	v, ok := f.values[name]
	if !ok || aws.ToString(in.VersionStage) != "AWSCURRENT" {
		return nil, &types.ResourceNotFoundException{Message: aws.String("not found")}
	}
	return &secretsmanager.GetSecretValueOutput{ARN: in.SecretId, Name: aws.String(name), SecretString: aws.String(v),
		VersionId: aws.String("v" + strconv.Itoa(f.versions[name]))}, nil
}

func (f *fakeSM) takeGets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.gets
	f.gets = nil
	slices.Sort(g)
	return g
}

// newTestLoader returns a loader on sm with a clock the test moves.
func newTestLoader(t *testing.T, sm *fakeSM) (*Loader, *time.Time) {
	t.Helper()
	l, err := NewLoader(sm, testPrefix)
	if err != nil {
		t.Fatalf("NewLoader() err = %v, want nil", err)
	}
	now := testNow
	l.now = func() time.Time { return now }
	return l, &now
}

func names(s Set) (ok, problems []string) {
	for _, e := range s.Endpoints {
		ok = append(ok, e.Name())
	}
	for _, p := range s.Problems {
		problems = append(problems, p.Name)
	}
	return ok, problems
}

func TestLoad(t *testing.T) {
	sm := newFakeSM()
	sm.put(testPrefix+"crm", doc(map[string]any{"types": []string{"message.received"}}))
	sm.put(testPrefix+"bot", doc(map[string]any{"include_content": true}))
	sm.put(testPrefix+"typo", doc(map[string]any{"include_contents": true}))
	sm.put(testPrefix+"nested/name", doc(nil))
	sm.put("waguard/test/endpointsx/other", doc(nil))
	sm.put("waguard/test/clients/ops", []byte(`{"kind":"api-client"}`))
	l, _ := newTestLoader(t, sm)
	set, err := l.Load(context.Background())
	if err != nil {
		t.Fatalf("Load() err = %v, want nil", err)
	}
	ok, problems := names(set)
	if !slices.Equal(ok, []string{"bot", "crm"}) || !slices.Equal(problems, []string{"nested/name", "typo"}) {
		t.Fatalf("Load() endpoints %v, problems %v; want [bot crm], [nested/name typo]", ok, problems)
	}
	for _, p := range set.Problems {
		if !errors.Is(p.Err, ErrInvalid) {
			t.Errorf("problem %s err = %v, want ErrInvalid", p.Name, p.Err)
		}
	}
	if e, found := set.Get("crm"); !found || !e.Accepts(events.TypeMessageReceived) || e.Accepts(events.TypeSubjectErased) {
		t.Errorf("Get(crm) = %v, %v; want the crm endpoint with its types", e, found)
	}
	if _, found := set.Get("typo"); found {
		t.Errorf("Get(typo) found a malformed endpoint")
	}
	if got := set.For(events.TypeSubjectErased); len(got) != 1 || got[0].Name() != "bot" {
		t.Errorf("For(subject.erased) = %v, want [bot]", got)
	}
}

// TestLoadRefresh checks that a load is reused for RefreshPeriod, then a
// new listing picks up a new, changed and deleted endpoint, re-reading
// only the secrets whose current version changed.
func TestLoadRefresh(t *testing.T) {
	sm := newFakeSM()
	sm.put(testPrefix+"a", doc(nil))
	sm.put(testPrefix+"b", doc(nil))
	sm.put(testPrefix+"bad", doc(map[string]any{"kind": "x"}))
	l, now := newTestLoader(t, sm)
	ctx := context.Background()
	if _, err := l.Load(ctx); err != nil {
		t.Fatalf("Load() err = %v", err)
	}
	if got := sm.takeGets(); len(got) != 3 {
		t.Fatalf("first Load() read %v, want all 3", got)
	}
	sm.put(testPrefix+"a", doc(map[string]any{"include_content": true}))
	sm.put(testPrefix+"c", doc(nil))
	sm.remove(testPrefix + "b")
	*now = now.Add(RefreshPeriod - time.Second)
	set, _ := l.Load(ctx)
	if ok, _ := names(set); !slices.Equal(ok, []string{"a", "b"}) || sm.lists != 1 {
		t.Errorf("Load() within the period = %v after %d listings, want the cached [a b] after 1", ok, sm.lists)
	}
	*now = now.Add(time.Second)
	set, _ = l.Load(ctx)
	ok, problems := names(set)
	if a, _ := set.Get("a"); !slices.Equal(ok, []string{"a", "c"}) || !slices.Equal(problems, []string{"bad"}) || !a.IncludeContent() {
		t.Errorf("Load() after the period = %v, problems %v, a with content %v; want [a c], [bad], true", ok, problems, a.IncludeContent())
	}
	if got := sm.takeGets(); !slices.Equal(got, []string{testPrefix + "a", testPrefix + "c"}) {
		t.Errorf("second Load() read %v, want only the changed a and the new c", got)
	}
}

func TestLoadFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("listing fails closed", func(t *testing.T) {
		sm := newFakeSM()
		sm.put(testPrefix+"a", doc(nil))
		l, now := newTestLoader(t, sm)
		if _, err := l.Load(ctx); err != nil {
			t.Fatalf("Load() err = %v", err)
		}
		sm.listErr = errors.New("throttled")
		*now = now.Add(RefreshPeriod)
		set, err := l.Load(ctx)
		if err == nil || len(set.Endpoints) != 0 || !strings.HasPrefix(err.Error(), "list endpoints: ") {
			t.Errorf("Load() with a failing listing = %d endpoints, %v; want none and a list error", len(set.Endpoints), err)
		}
	})
	t.Run("one read fails, the others load, it is retried soon", func(t *testing.T) {
		sm := newFakeSM()
		sm.put(testPrefix+"a", doc(nil))
		sm.put(testPrefix+"b", doc(nil))
		sm.getErr[testPrefix+"b"] = errors.New("timeout")
		l, now := newTestLoader(t, sm)
		set, err := l.Load(ctx)
		ok, problems := names(set)
		if err != nil || !slices.Equal(ok, []string{"a"}) || !slices.Equal(problems, []string{"b"}) || !errors.Is(set.Problems[0].Err, ErrUnavailable) {
			t.Fatalf("Load() = %v, problems %v, %v; want [a], [b] unavailable", ok, set.Problems, err)
		}
		delete(sm.getErr, testPrefix+"b")
		sm.takeGets()
		*now = now.Add(retryPeriod)
		set, _ = l.Load(ctx)
		if ok, _ := names(set); !slices.Equal(ok, []string{"a", "b"}) || !slices.Equal(sm.takeGets(), []string{testPrefix + "b"}) {
			t.Errorf("Load() %v after the retry period = %v, want [a b] re-reading only b", retryPeriod, ok)
		}
	})
	t.Run("too many secrets", func(t *testing.T) {
		sm := newFakeSM()
		for i := range maxPages*pageSize + 1 {
			sm.put(fmt.Sprintf("%se%05d", testPrefix, i), []byte(`{}`))
		}
		l, _ := newTestLoader(t, sm)
		if _, err := l.Load(ctx); err == nil || !strings.Contains(err.Error(), "more than 2000") {
			t.Errorf("Load() err = %v, want more than 2000 secrets", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		l, _ := newTestLoader(t, newFakeSM())
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.Load(cctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Load(cancelled) err = %v, want context.Canceled", err)
		}
	})
}

// TestLoadPages loads more endpoints than one page holds.
func TestLoadPages(t *testing.T) {
	sm := newFakeSM()
	for i := range 2*pageSize + 5 {
		sm.put(fmt.Sprintf("%se%03d", testPrefix, i), doc(nil))
	}
	l, _ := newTestLoader(t, sm)
	set, err := l.Load(context.Background())
	if err != nil || len(set.Endpoints) != 2*pageSize+5 || sm.lists != 3 {
		t.Errorf("Load() = %d endpoints in %d listings, %v; want %d in 3", len(set.Endpoints), sm.lists, err, 2*pageSize+5)
	}
}

// TestLoadConcurrent checks that concurrent callers share one load.
func TestLoadConcurrent(t *testing.T) {
	sm := newFakeSM()
	sm.put(testPrefix+"a", doc(nil))
	l, _ := newTestLoader(t, sm)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if set, err := l.Load(context.Background()); err != nil || len(set.Endpoints) != 1 {
				t.Errorf("Load() = %d endpoints, %v; want 1", len(set.Endpoints), err)
			}
		})
	}
	wg.Wait()
	if sm.lists != 1 {
		t.Errorf("16 concurrent Load() listed %d times, want 1", sm.lists)
	}
}

func TestNewLoaderRefuses(t *testing.T) {
	for _, prefix := range []string{"", "waguard/prod/endpoints", "!waguard/", "waguard/prod endpoints/"} {
		if _, err := NewLoader(newFakeSM(), prefix); err == nil {
			t.Errorf("NewLoader(%q) err = nil, want an error", prefix)
		}
	}
	if _, err := NewLoader(nil, testPrefix); err == nil {
		t.Errorf("NewLoader(nil) err = nil, want an error")
	}
}
