package secrets

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"
)

// testSecret is synthetic and used nowhere else.
const testSecret = "s3cr3t-test-value-0001"

func TestValueNeverPrints(t *testing.T) {
	v := NewValue([]byte(testSecret))
	type holder struct {
		Token Value
	}
	tests := []struct {
		name string
		out  func() string
		want string
	}{
		{"String", v.String, "[secret]"},
		{"GoString", v.GoString, "[secret]"},
		{"%v", func() string { return fmt.Sprintf("%v", v) }, "[secret]"},
		{"%+v", func() string { return fmt.Sprintf("%+v", v) }, "[secret]"},
		{"%#v", func() string { return fmt.Sprintf("%#v", v) }, "[secret]"},
		{"%s", func() string { return fmt.Sprintf("%s", v) }, "[secret]"},
		{"%q", func() string { return fmt.Sprintf("%q", v) }, "[secret]"},
		{"%x", func() string { return fmt.Sprintf("%x", v) }, "[secret]"},
		{"%d", func() string { return fmt.Sprintf("%d", v) }, "[secret]"},
		{"%d pointer", func() string { return fmt.Sprintf("%d", &v) }, "[secret]"},
		{"Sprint", func() string { return fmt.Sprint(v) }, "[secret]"},
		{"in a struct %+v", func() string { return fmt.Sprintf("%+v", holder{v}) }, "{Token:[secret]}"},
		{"in a struct %#v", func() string { return fmt.Sprintf("%#v", holder{v}) }, "secrets.holder{Token:[secret]}"},
		{"json.Marshal", func() string { b, _ := json.Marshal(v); return string(b) }, `"[secret]"`},
		{"json.Marshal struct", func() string { b, _ := json.Marshal(holder{v}); return string(b) }, `{"Token":"[secret]"}`},
		{"slog JSON", func() string { return logJSON(slog.Any("token_value", v)) }, `"token_value":"[secret]"`},
		{"slog JSON struct", func() string { return logJSON(slog.Any("h", holder{v})) }, `"h":{"Token":"[secret]"}`},
		{"slog JSON group", func() string { return logJSON(slog.Group("g", "v", v)) }, `"g":{"v":"[secret]"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := tt.out()
			if !strings.Contains(out, tt.want) {
				t.Errorf("output = %q, want it to contain %q", out, tt.want)
			}
			assertNoSecret(t, out)
		})
	}
}

// logJSON logs one line with attr through slog's JSON handler.
func logJSON(attr slog.Attr) string {
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).LogAttrs(context.Background(), slog.LevelInfo, "msg", attr)
	return buf.String()
}

// assertNoSecret fails if out holds testSecret in plain, hex or as a
// decimal byte list.
func assertNoSecret(t *testing.T, out string) {
	t.Helper()
	b := []byte(testSecret)
	forms := map[string]string{
		"plain": testSecret, "hex": hex.EncodeToString(b), "decimal bytes": strings.Trim(fmt.Sprint(b), "[]"),
	}
	for name, form := range forms {
		if strings.Contains(out, form) {
			t.Errorf("output reveals the test secret as %s", name)
		}
	}
}

func TestValueEqual(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		other  []byte
		want   bool
	}{
		{"equal", []byte("abc"), []byte("abc"), true},
		{"differs", []byte("abc"), []byte("abd"), false},
		{"prefix", []byte("abc"), []byte("ab"), false},
		{"longer", []byte("abc"), []byte("abcd"), false},
		{"nil other", []byte("abc"), nil, false},
		{"empty secret, empty other", []byte{}, []byte{}, false},
		{"zero value, nil other", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewValue(tt.secret)
			if got := v.Equal(tt.other); got != tt.want {
				t.Errorf("Equal(%q) = %v, want %v", tt.other, got, tt.want)
			}
		})
	}
	if !(Value{}).Empty() || NewValue([]byte("x")).Empty() {
		t.Errorf("Empty() wrong: zero value must be empty, a one-byte value must not")
	}
	if got := NewValue([]byte("x")).Reveal(); string(got) != "x" {
		t.Errorf("Reveal() = %q, want %q", got, "x")
	}
}

// fakeSM answers GetSecretValue with get, after honouring ctx, and records
// the calls.
type fakeSM struct {
	mu    sync.Mutex
	calls []string // "id/stage"
	get   func(in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error)
}

func (f *fakeSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.calls = append(f.calls, aws.ToString(in.SecretId)+"/"+aws.ToString(in.VersionStage))
	f.mu.Unlock()
	return f.get(in)
}

func (f *fakeSM) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// answer returns a get func serving doc as version "v1".
func answer(doc string) func(*secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
	return func(in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
		return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(doc), VersionId: aws.String("v1-" + aws.ToString(in.VersionStage))}, nil
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("ReadFile(%s) err = %v, want nil", name, err)
	}
	return string(b)
}

// clock is a controllable Store clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time            { return c.t }
func (c *clock) advance(d time.Duration)   { c.t = c.t.Add(d) }
func newStore(sm *fakeSM, c *clock) *Store { s := NewStore(sm, time.Minute); s.now = c.now; return s }

func TestStoreCaches(t *testing.T) {
	ctx := context.Background()
	sm := &fakeSM{get: answer(readTestdata(t, "meta_webhook.json"))}
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newStore(sm, c)
	steps := []struct {
		name      string
		advance   time.Duration
		stage     string
		wantCalls int
	}{
		{"first read", 0, StageCurrent, 1},
		{"cached", 0, StageCurrent, 1},
		{"just inside TTL", time.Minute - time.Nanosecond, StageCurrent, 1},
		{"TTL passed", time.Nanosecond, StageCurrent, 2},
		{"other stage is its own entry", 0, StagePrevious, 3},
		{"other stage cached", time.Second, StagePrevious, 3},
	}
	for _, st := range steps {
		c.advance(st.advance)
		f, err := s.Get(ctx, "waguard/meta", st.stage)
		if err != nil {
			t.Fatalf("%s: Get(waguard/meta, %s) err = %v, want nil", st.name, st.stage, err)
		}
		if got := sm.count(); got != st.wantCalls {
			t.Errorf("%s: GetSecretValue calls = %d, want %d", st.name, got, st.wantCalls)
		}
		if want := "v1-" + st.stage; f.VersionID != want {
			t.Errorf("%s: VersionID = %q, want %q", st.name, f.VersionID, want)
		}
	}
	want := []string{"waguard/meta/AWSCURRENT", "waguard/meta/AWSCURRENT", "waguard/meta/AWSPREVIOUS"}
	if diff := cmp.Diff(want, sm.calls); diff != "" {
		t.Errorf("GetSecretValue calls mismatch (-want +got):\n%s", diff)
	}
}

func TestStoreNotFoundIsCached(t *testing.T) {
	ctx := context.Background()
	sm := &fakeSM{get: func(*secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
		return nil, fmt.Errorf("operation error: %w", &types.ResourceNotFoundException{Message: aws.String("no such secret")})
	}}
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newStore(sm, c)
	for i, wantCalls := range []int{1, 1} {
		if _, err := s.Get(ctx, "waguard/missing", StagePending); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get #%d err = %v, want ErrNotFound", i+1, err)
		}
		if got := sm.count(); got != wantCalls {
			t.Errorf("Get #%d: GetSecretValue calls = %d, want %d", i+1, got, wantCalls)
		}
	}
	c.advance(time.Minute)
	if _, err := s.Get(ctx, "waguard/missing", StagePending); !errors.Is(err, ErrNotFound) || sm.count() != 2 {
		t.Errorf("Get after TTL err, calls = %v, %d; want ErrNotFound, 2", err, sm.count())
	}
}

func TestStoreTransientErrorsNotCached(t *testing.T) {
	ctx := context.Background()
	doc := readTestdata(t, "meta_webhook.json")
	failures := 2
	sm := &fakeSM{get: func(in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
		if failures > 0 {
			failures--
			return nil, errors.New("throttling: rate exceeded")
		}
		return answer(doc)(in)
	}}
	s := newStore(sm, &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	for i := range 2 {
		_, err := s.Get(ctx, "waguard/meta", StageCurrent)
		if err == nil || errors.Is(err, ErrNotFound) {
			t.Fatalf("Get #%d err = %v, want a transient error", i+1, err)
		}
	}
	f, err := s.Get(ctx, "waguard/meta", StageCurrent)
	if err != nil || !f.Get("verify_token").Equal([]byte("test-verify-token-0001")) {
		t.Fatalf("Get after recovery = %v, %v; want the secret, nil", f.VersionID, err)
	}
	if got := sm.count(); got != 3 {
		t.Errorf("GetSecretValue calls = %d, want 3", got)
	}
}

func TestStoreHonoursContext(t *testing.T) {
	sm := &fakeSM{get: answer(`{}`)}
	s := newStore(sm, &clock{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(ctx, "waguard/meta", StageCurrent); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get(cancelled ctx) err = %v, want context.Canceled", err)
	}
	if _, err := s.Get(context.Background(), "waguard/meta", StageCurrent); err != nil {
		t.Errorf("Get after a cancelled Get err = %v, want nil (cancellation not cached)", err)
	}
}

func TestStoreRejectsNonObjectSecrets(t *testing.T) {
	for _, tt := range []struct{ name, doc string }{
		{"plain text", readTestdata(t, "not_json.txt")},
		{"json string", `"` + testSecret + `"`},
		{"json array", `["` + testSecret + `"]`},
		{"truncated", `{"key":"` + testSecret},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sm := &fakeSM{get: answer(tt.doc)}
			s := newStore(sm, &clock{})
			_, err := s.Get(context.Background(), "waguard/meta", StageCurrent)
			if err == nil {
				t.Fatalf("Get(%s) err = nil, want an error", tt.name)
			}
			if strings.Contains(err.Error(), strings.TrimSpace(tt.doc)) || strings.Contains(err.Error(), testSecret) {
				t.Errorf("Get(%s) error echoes the secret", tt.name)
			}
		})
	}
}

func TestFields(t *testing.T) {
	sm := &fakeSM{get: answer(readTestdata(t, "meta_webhook.json"))}
	f, err := newStore(sm, &clock{}).Get(context.Background(), "waguard/meta", StageCurrent)
	if err != nil {
		t.Fatalf("Get err = %v, want nil", err)
	}
	if !f.Get("verify_token").Equal([]byte("test-verify-token-0001")) {
		t.Errorf("Get(verify_token) does not equal the test token")
	}
	for _, name := range []string{"missing", "scopes", "max_age"} {
		if !f.Get(name).Empty() {
			t.Errorf("Get(%s) not empty, want empty for a missing or non-string field", name)
		}
	}
	var scopes []string
	if err := f.Decode("scopes", &scopes); err != nil || !cmp.Equal(scopes, []string{"webhook", "send"}) {
		t.Errorf("Decode(scopes) = %v, %v; want [webhook send], nil", scopes, err)
	}
	var maxAge int
	if err := f.Decode("max_age", &maxAge); err != nil || maxAge != 300 {
		t.Errorf("Decode(max_age) = %d, %v; want 300, nil", maxAge, err)
	}
	if err := f.Decode("missing", &maxAge); err == nil {
		t.Errorf("Decode(missing) err = nil, want an error")
	}
	if err := f.Decode("kind", &maxAge); err == nil {
		t.Errorf("Decode(kind) into an int err = nil, want an error")
	}
}

func TestStoreConcurrentUse(t *testing.T) {
	sm := &fakeSM{get: answer(`{"key":"k"}`)}
	s := NewStore(sm, time.Minute)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			stage := []string{StageCurrent, StagePrevious}[i%2]
			if _, err := s.Get(context.Background(), "waguard/index", stage); err != nil {
				t.Errorf("Get(%s) err = %v, want nil", stage, err)
			}
		})
	}
	wg.Wait()
}
