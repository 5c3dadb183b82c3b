package idempotency_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/idempotency"
)

var printableKey = regexp.MustCompile(`^[\x20-\x7e]{1,255}$`)

// FuzzValidKey checks ValidKey against a reference expression, and that
// every valid key works end to end: claimed once, then replayed, with the
// raw key nowhere in the record.
func FuzzValidKey(f *testing.F) {
	for _, k := range []string{"", "a", testKey, "tab\t", "é", "\x7f", string(make([]byte, 256))} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		valid := idempotency.ValidKey(key)
		if want := printableKey.MatchString(key); valid != want {
			t.Fatalf("ValidKey(%q) = %v, want %v", key, valid, want)
		}
		table := newFakeTable()
		s, err := idempotency.New(table, idempotency.Config{Table: testTable, Wait: time.Millisecond})
		if err != nil {
			t.Fatalf("New() err = %v", err)
		}
		op := func(context.Context) (idempotency.Response, error) { return okResp, nil }
		for i, wantReplayed := range []bool{false, true} {
			_, replayed, err := s.Do(context.Background(), testClient, key, testBody, op)
			if !valid {
				if err == nil {
					t.Fatalf("Do(%q) err = nil, want an error", key)
				}
				return
			}
			if err != nil || replayed != wantReplayed {
				t.Fatalf("Do #%d (%q) = replayed %v, err %v; want %v, nil", i+1, key, replayed, err, wantReplayed)
			}
		}
		it := table.only(t)
		delete(it, "resp_body") // our own response holds short strings
		delete(it, "resp_headers")
		if len(key) >= 16 && containsClear(it, []byte(key)) {
			t.Fatalf("record holds the raw key %q", key)
		}
	})
}
