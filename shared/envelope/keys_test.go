package envelope_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/envelope"
)

func TestFailClosed(t *testing.T) {
	tests := []struct {
		name       string
		seedBranch bool // a healthy instance created the branch key first
		kmsErr     error
		tableErr   error
		cancel     bool
	}{
		{name: "KMS unreachable", kmsErr: errors.New("dial tcp 127.0.0.1:1: connection refused")},
		{name: "KMS denies", kmsErr: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}},
		{name: "KMS key disabled", kmsErr: &kmstypes.DisabledException{Message: aws.String("disabled")}},
		{name: "KMS down, branch exists", seedBranch: true, kmsErr: errors.New("connection refused")},
		{name: "keys table down", tableErr: errors.New("connection refused")},
		{name: "context cancelled", cancel: true},
		{name: "context cancelled, branch exists", seedBranch: true, cancel: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if tc.seedBranch {
				if _, err := f.envelope(t, nil).Encrypt(t.Context(), "seed", []byte("x"), testAD); err != nil {
					t.Fatalf("seed Encrypt() err = %v, want nil", err)
				}
			}
			before := f.db.len()
			f.kms.setErr(tc.kmsErr)
			f.db.setErr(tc.tableErr)
			ctx, cancel := context.WithCancel(t.Context())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			ct, err := f.env.Encrypt(ctx, "new-subject", []byte("must not leak"), testAD)
			if err == nil || ct != nil {
				t.Errorf("Encrypt() = %x, %v; want nil, error", ct, err)
			}
			f.db.setErr(nil)
			if got := f.db.len(); got != before {
				t.Errorf("keys table has %d items after failed Encrypt, want %d", got, before)
			}
			if item := f.db.item("subject#new-subject", "key"); item != nil {
				t.Errorf("subject key written despite failure: %v", item)
			}
		})
	}
}

// TestBranchKeyCache checks the KMS request count and encryption context:
// one request per instance per BranchTTL, however many subjects.
func TestBranchKeyCache(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	var ct []byte
	for i := range 100 {
		var err error
		if ct, err = f.env.Encrypt(ctx, fmt.Sprint("a-", i), []byte("m"), testAD); err != nil {
			t.Fatalf("Encrypt() err = %v, want nil", err)
		}
	}
	if gen, dec := f.kms.calls(); gen != 1 || dec != 0 {
		t.Errorf("KMS calls after first instance = %d GenerateDataKey, %d Decrypt; want 1, 0", gen, dec)
	}
	cold := f.envelope(t, nil)
	if _, err := cold.Decrypt(ctx, "a-99", ct, testAD); err != nil {
		t.Fatalf("Decrypt(ct, ad) on a cold instance err = %v, want nil", err)
	}
	step := func(name string, advance time.Duration, wantDecrypt int) {
		t.Helper()
		f.clock.Advance(advance)
		for i := range 50 {
			if _, err := cold.Encrypt(ctx, fmt.Sprint(name, i), []byte("m"), testAD); err != nil {
				t.Fatalf("%s: Encrypt() err = %v, want nil", name, err)
			}
		}
		if _, dec := f.kms.calls(); dec != wantDecrypt {
			t.Errorf("%s: KMS Decrypt calls = %d, want %d", name, dec, wantDecrypt)
		}
	}
	step("warm", 0, 1)
	step("just before TTL", 10*time.Minute-time.Second, 1)
	step("after TTL", 2*time.Second, 2)

	want := map[string]string{"purpose": "waguard-branch-key", "version": "1"}
	for _, ec := range f.kms.contexts {
		if diff := cmp.Diff(want, ec); diff != "" {
			t.Errorf("KMS encryption context mismatch (-want +got):\n%s", diff)
		}
	}
	for _, id := range f.kms.keyIDs {
		if id != testKeyAlias {
			t.Errorf("KMS Decrypt KeyId = %q, want %q", id, testKeyAlias)
		}
	}
	if got := cold.Stats(); got.KMSDecrypt != 2 || got.KMSRequests() != 2 || got.SubjectKeysCreated != 150 {
		t.Errorf("Stats() = %+v, want 2 KMS decrypts and 150 subject keys", got)
	}
}

func TestSubjectCacheBounds(t *testing.T) {
	f := newFixture(t, func(c *envelope.Config) { c.SubjectCacheSize = 2; c.SubjectTTL = time.Minute })
	steps := []struct {
		subject string
		advance time.Duration
		wantHit bool
	}{
		{subject: "s1"},
		{subject: "s2"},
		{subject: "s1", wantHit: true},
		{subject: "s3"},                // evicts s2, the least recently used
		{subject: "s1", wantHit: true}, // still cached
		{subject: "s2"},                // evicted
		{subject: "s2", advance: 59 * time.Second, wantHit: true},
		{subject: "s2", advance: 2 * time.Second}, // expired
	}
	for i, st := range steps {
		f.clock.Advance(st.advance)
		before := f.env.Stats().SubjectCacheHits
		if _, err := f.env.Encrypt(t.Context(), st.subject, []byte("m"), testAD); err != nil {
			t.Fatalf("step %d: Encrypt(%s) err = %v, want nil", i, st.subject, err)
		}
		if hit := f.env.Stats().SubjectCacheHits > before; hit != st.wantHit {
			t.Errorf("step %d: Encrypt(%s) cache hit = %v, want %v", i, st.subject, hit, st.wantHit)
		}
	}
}

// TestConcurrentFirstUse races two instances creating the branch key and
// the same subject key: they must agree on one of each.
func TestConcurrentFirstUse(t *testing.T) {
	f := newFixture(t, nil)
	envs := []*envelope.Envelope{f.env, f.envelope(t, nil)}
	var wg sync.WaitGroup
	cts := make([][]byte, 40)
	errs := make([]error, 40)
	for i := range cts {
		wg.Go(func() {
			cts[i], errs[i] = envs[i%2].Encrypt(t.Context(), "shared", []byte("m"), testAD)
		})
	}
	wg.Wait()
	for i, ct := range cts {
		if errs[i] != nil {
			t.Fatalf("Encrypt() err = %v, want nil", errs[i])
		}
		if _, err := envs[(i+1)%2].Decrypt(t.Context(), "shared", ct, testAD); err != nil {
			t.Errorf("Decrypt(ct, ad) in the other instance err = %v, want nil", err)
		}
	}
	if got := f.db.len(); got != 3 {
		t.Errorf("keys table items = %d, want 3 (branch v#1, active, one subject key)", got)
	}
}

// TestCreateRaceLoserRereads makes another instance win the subject key
// put and the branch key put while this one is mid-way.
func TestCreateRaceLoserRereads(t *testing.T) {
	for _, pk := range []string{"branch", "subject#race"} {
		t.Run(pk, func(t *testing.T) {
			f := newFixture(t, nil)
			rival := f.envelope(t, nil)
			var fired atomic.Bool
			f.db.onPut = func(in *dynamodb.PutItemInput) {
				if in.Item["pk"].(*types.AttributeValueMemberS).Value == pk && fired.CompareAndSwap(false, true) {
					if _, err := rival.Encrypt(t.Context(), "race", []byte("rival"), testAD); err != nil {
						t.Errorf("rival Encrypt() err = %v, want nil", err)
					}
				}
			}
			ct, err := f.env.Encrypt(t.Context(), "race", []byte("m"), testAD)
			if err != nil {
				t.Fatalf("Encrypt() err = %v, want nil", err)
			}
			if _, err := rival.Decrypt(t.Context(), "race", ct, testAD); err != nil {
				t.Errorf("rival Decrypt(ct, ad) err = %v, want nil", err)
			}
			if got := f.env.Stats().SubjectKeysCreated + rival.Stats().SubjectKeysCreated; got != 1 {
				t.Errorf("subject keys created = %d, want 1", got)
			}
		})
	}
}

func TestRotateBranchKey(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	ct1, err := f.env.Encrypt(ctx, "s1", []byte("one"), testAD)
	if err != nil {
		t.Fatalf("Encrypt() err = %v, want nil", err)
	}
	if v, err := f.env.RotateBranchKey(ctx); v != 2 || err != nil {
		t.Fatalf("RotateBranchKey() = %d, %v; want 2, nil", v, err)
	}
	ct2, err := f.env.Encrypt(ctx, "s2", []byte("two"), testAD)
	if err != nil {
		t.Fatalf("Encrypt() err = %v, want nil", err)
	}
	for subject, want := range map[string]string{"s1": "1", "s2": "2"} {
		got := f.db.item("subject#"+subject, "key")["branch_version"].(*types.AttributeValueMemberN).Value
		if got != want {
			t.Errorf("%s branch_version = %s, want %s", subject, got, want)
		}
	}
	cold := f.envelope(t, nil)
	for subject, ct := range map[string][]byte{"s1": ct1, "s2": ct2} {
		if _, err := cold.Decrypt(ctx, subject, ct, testAD); err != nil {
			t.Errorf("Decrypt(%s) after rotation err = %v, want nil", subject, err)
		}
	}
	if v, err := cold.RotateBranchKey(ctx); v != 3 || err != nil {
		t.Fatalf("second RotateBranchKey() = %d, %v; want 3, nil", v, err)
	}
	// A rival moves the pointer between our read and our compare-and-swap.
	f.db.onPut = func(in *dynamodb.PutItemInput) {
		if aws.ToString(in.ConditionExpression) == "#v = :v" {
			f.db.onPut = nil
			f.db.setItem("branch", "active", map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "branch"}, "sk": &types.AttributeValueMemberS{Value: "active"},
				"version": &types.AttributeValueMemberN{Value: "4"},
			})
		}
	}
	if v, err := f.env.RotateBranchKey(ctx); v != 4 || err != nil {
		t.Errorf("RotateBranchKey() losing the race = %d, %v; want 4, nil", v, err)
	}
}

// TestTamperedKeyItems checks that a modified keys table item is refused.
func TestTamperedKeyItems(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	tests := []struct {
		name    string
		subject string // decrypt as
		tamper  func(db *fakeTable)
	}{
		{"wrapped subject key bit flip", "a", func(db *fakeTable) {
			item := db.item("subject#a", "key")
			w := item["wrapped"].(*types.AttributeValueMemberB).Value
			w[20] ^= 1
		}},
		{"subject key copied to another subject", "b", func(db *fakeTable) {
			item := db.item("subject#a", "key")
			item["pk"] = s("subject#b")
			db.setItem("subject#b", "key", item)
		}},
		{"branch version relabelled", "a", func(db *fakeTable) {
			db.setItem("branch", "v#2", db.item("branch", "v#1"))
			item := db.item("subject#a", "key")
			item["branch_version"] = n("2")
			db.setItem("subject#a", "key", item)
		}},
		{"wrapped attribute wrong type", "a", func(db *fakeTable) {
			item := db.item("subject#a", "key")
			item["wrapped"] = s("AAAA")
			db.setItem("subject#a", "key", item)
		}},
		{"branch key bit flip", "a", func(db *fakeTable) {
			w := db.item("branch", "v#1")["wrapped"].(*types.AttributeValueMemberB).Value
			w[len(w)-1] ^= 1
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			ct, err := f.env.Encrypt(t.Context(), "a", []byte("m"), testAD)
			if err != nil {
				t.Fatalf("Encrypt() err = %v, want nil", err)
			}
			tc.tamper(f.db)
			pt, err := f.envelope(t, nil).Decrypt(t.Context(), tc.subject, ct, testAD)
			if err == nil || errors.Is(err, envelope.ErrSubjectKeyNotFound) {
				t.Errorf("Decrypt(ct, ad) = %q, %v; want a key integrity error", pt, err)
			}
		})
	}
}
