package idempotency_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/idempotency"
)

func fakeN(t *testing.T, v types.AttributeValue) int64 {
	t.Helper()
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("attribute = %#v, want a number", v)
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatalf("ParseInt(%q) err = %v", n.Value, err)
	}
	return i
}

// containsClear reports whether any attribute of it holds needle.
func containsClear(it map[string]types.AttributeValue, needle []byte) bool {
	for name, v := range it {
		var b []byte
		switch a := v.(type) {
		case *types.AttributeValueMemberS:
			b = []byte(a.Value)
		case *types.AttributeValueMemberB:
			b = a.Value
		}
		if bytes.Contains(b, needle) || bytes.Contains([]byte(name), needle) {
			return true
		}
	}
	return false
}

func TestClaimRecord(t *testing.T) {
	tests := []struct {
		name      string
		deadline  time.Duration // 0 for none
		lease     time.Duration
		wantUntil time.Duration
	}{
		{name: "lease ends at the deadline", deadline: 8 * time.Second, wantUntil: 8 * time.Second},
		{name: "lease rounds up to the second", deadline: 8500 * time.Millisecond, wantUntil: 9 * time.Second},
		{name: "default lease without a deadline", wantUntil: idempotency.DefaultLease},
		{name: "configured lease without a deadline", lease: time.Minute, wantUntil: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, idempotency.Config{Lease: tt.lease})
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			if _, _, err := f.store.Claim(ctx, testClient, testKey, testBody); err != nil {
				t.Fatalf("Claim() err = %v, want nil", err)
			}
			it := f.table.only(t)
			if got, want := fakeN(t, it["in_progress_until"]), t0.Add(tt.wantUntil).Unix(); got != want {
				t.Errorf("in_progress_until = %d, want %d (now + %v)", got, want, tt.wantUntil)
			}
			if got, want := fakeN(t, it["expires_at"]), t0.Add(24*time.Hour).Unix(); got != want {
				t.Errorf("expires_at = %d, want %d", got, want)
			}
			if pk := fakeS(it["pk"]); !strings.HasPrefix(pk, "idem#"+testClient+"#") || len(pk) != len("idem#ops#")+43 {
				t.Errorf("pk = %q, want idem#ops#<43 base64url characters>", pk)
			}
			if containsClear(it, []byte(testKey)) || containsClear(it, testBody) || containsClear(it, []byte("+447700900123")) {
				t.Errorf("record %v holds the raw key, body or phone number", it)
			}
		})
	}
}

func TestCompletedRecord(t *testing.T) {
	f := newFixture(t, idempotency.Config{})
	f.do(t, testBody, okResp)
	it := f.table.only(t)
	for _, name := range []string{"pk", "sk", "status", "payload_hash", "claim_id", "created_at", "expires_at", "resp_status", "resp_body", "resp_headers"} {
		if it[name] == nil {
			t.Errorf("completed record lacks %s", name)
		}
	}
	if it["in_progress_until"] != nil {
		t.Errorf("completed record keeps in_progress_until")
	}
	if containsClear(it, []byte(testKey)) || containsClear(it, testBody) {
		t.Errorf("record %v holds the raw key or body", it)
	}
}

func TestKeyScope(t *testing.T) {
	f := newFixture(t, idempotency.Config{})
	hmacFixture := newFixture(t, idempotency.Config{Key: bytes.Repeat([]byte{7}, 32)})
	pks := map[string]bool{}
	for _, c := range []struct {
		f      *fixture
		client string
	}{{f, "ops"}, {f, "crm"}, {hmacFixture, "ops"}} {
		resp, replayed, err := c.f.store.Do(c.f.ctx, c.client, testKey, testBody, c.f.op(okResp, nil))
		if err != nil || replayed || resp.Status != okResp.Status {
			t.Fatalf("Do(%s) = %v, %v, %v, want a first execution", c.client, resp.Status, replayed, err)
		}
		for pk := range c.f.table.items {
			pks[pk] = true
		}
	}
	if f.runs != 2 || hmacFixture.runs != 1 {
		t.Errorf("runs = %d and %d, want 2 and 1: clients must not share keys", f.runs, hmacFixture.runs)
	}
	if len(pks) != 3 {
		t.Errorf("record keys %v, want 3 distinct (per client, per hash key)", pks)
	}
}

func TestInvalidInput(t *testing.T) {
	tests := []struct{ name, client, key string }{
		{name: "empty key", client: testClient, key: ""},
		{name: "long key", client: testClient, key: strings.Repeat("k", 256)},
		{name: "control character", client: testClient, key: "abc\n"},
		{name: "non-ASCII key", client: testClient, key: "clé"},
		{name: "empty client", client: "", key: testKey},
		{name: "client with separator", client: "a#b", key: testKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, idempotency.Config{})
			if _, _, err := f.store.Do(f.ctx, tt.client, tt.key, testBody, f.op(okResp, nil)); err == nil {
				t.Errorf("Do(%q, %q) err = nil, want an error", tt.client, tt.key)
			}
			if f.runs != 0 || len(f.table.calls) != 0 {
				t.Errorf("invalid input ran %d operations and %v table calls, want none", f.runs, f.table.calls)
			}
		})
	}
}

func TestValidKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"", false},
		{"a", true},
		{testKey, true},
		{"with space and ~!@#$%^&*()", true},
		{strings.Repeat("x", 255), true},
		{strings.Repeat("x", 256), false},
		{"tab\there", false},
		{"del\x7f", false},
		{"nul\x00", false},
		{"ünïcode", false},
	}
	for _, tt := range tests {
		if got := idempotency.ValidKey(tt.key); got != tt.want {
			t.Errorf("ValidKey(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		db      bool
		c       idempotency.Config
		wantErr bool
	}{
		{name: "defaults", db: true, c: idempotency.Config{Table: testTable}},
		{name: "HMAC key", db: true, c: idempotency.Config{Table: testTable, Key: make([]byte, 32)}},
		{name: "short HMAC key", db: true, c: idempotency.Config{Table: testTable, Key: make([]byte, 31)}, wantErr: true},
		{name: "no table name", db: true, wantErr: true},
		{name: "no client", c: idempotency.Config{Table: testTable}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.db {
				_, err = idempotency.New(newFakeTable(), tt.c)
			} else {
				_, err = idempotency.New(nil, tt.c)
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("New() err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestLease(t *testing.T) {
	f := newFixture(t, idempotency.Config{})
	lease := f.claim(t, testBody, 10*time.Second)
	if err := lease.Complete(f.ctx, idempotency.Response{Status: 42}); !errors.Is(err, idempotency.ErrNotRecorded) {
		t.Errorf("Complete(status 42) err = %v, want ErrNotRecorded", err)
	}
	f.cancel() // the request ended, yet its outcome is recorded
	if err := lease.Complete(f.ctx, okResp); err != nil {
		t.Fatalf("Complete() after cancel err = %v, want nil", err)
	}
	if err := lease.Complete(context.Background(), okResp); !errors.Is(err, idempotency.ErrNotRecorded) {
		t.Errorf("second Complete() err = %v, want ErrNotRecorded", err)
	}
	if err := lease.Release(context.Background()); err != nil || status(t, f) != "completed" {
		t.Errorf("Release() after Complete err = %v, status %q; want nil and the record kept", err, status(t, f))
	}
}

func TestMalformedRecord(t *testing.T) {
	f := newFixture(t, idempotency.Config{})
	f.claim(t, testBody, 10*time.Second)
	for pk, it := range f.table.items {
		it["status"] = &types.AttributeValueMemberS{Value: "bogus"}
		f.table.items[pk] = it
	}
	if _, _, err := f.store.Do(f.ctx, testClient, testKey, testBody, f.op(okResp, nil)); err == nil || f.runs != 0 {
		t.Errorf("Do() over a malformed record err = %v, runs %d; want an error and no run", err, f.runs)
	}
}

func TestWaitEndsBeforeDeadline(t *testing.T) {
	f := newFixture(t, idempotency.Config{Wait: time.Minute, CallTimeout: time.Second})
	f.claim(t, testBody, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, _, err := f.store.Do(ctx, testClient, testKey, testBody, f.op(okResp, nil)); !errors.Is(err, idempotency.ErrInProgress) {
		t.Fatalf("Do() err = %v, want ErrInProgress", err)
	}
	if waited := f.clock.Now().Sub(t0); waited > 2*time.Second {
		t.Errorf("Do() waited %v, want at most 2s (deadline minus one call)", waited)
	}
}

// TestConcurrent runs identical requests on the real clock against the
// fake table: one execution, every caller gets its response.
func TestConcurrent(t *testing.T) {
	table := newFakeTable()
	s, err := idempotency.New(table, idempotency.Config{Table: testTable, Poll: time.Millisecond})
	if err != nil {
		t.Fatalf("New() err = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	runs, replays := 0, 0
	op := func(context.Context) (idempotency.Response, error) {
		mu.Lock()
		runs++
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		return okResp, nil
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			resp, replayed, err := s.Do(ctx, testClient, testKey, testBody, op)
			if err != nil || !cmp.Equal(resp, okResp) {
				t.Errorf("Do() = %v, %v, want the response", resp, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if replayed {
				replays++
			}
		})
	}
	wg.Wait()
	if runs != 1 || replays != 19 {
		t.Errorf("runs = %d, replays = %d; want 1 and 19", runs, replays)
	}
}
