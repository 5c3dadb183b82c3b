package streams

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recs makes n records with sequence numbers 1…n, zero-padded like
// DynamoDB's.
func recs(n int) []record {
	out := make([]record, n)
	for i := range out {
		out[i] = record{seq: fmt.Sprintf("%021d", i+1)}
	}
	return out
}

func seq(i int) string { return fmt.Sprintf("%021d", i) }

// seqs summarises batches as "first-last×attempts" for comparison.
func seqs(bs []batch) []string {
	var out []string
	for _, b := range bs {
		out = append(out, fmt.Sprintf("%d-%d×%d", atoi(b.records[0].seq), atoi(b.records[len(b.records)-1].seq), b.attempts))
	}
	return out
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

func TestDecide(t *testing.T) {
	base := Mapping{MaximumRetryAttempts: 2, ReportBatchItemFailures: true}
	bisect := base
	bisect.BisectBatchOnFunctionError = true
	noReport := base
	noReport.ReportBatchItemFailures = false
	forever := base
	forever.MaximumRetryAttempts = -1
	ok := func(resp string) outcome { return outcome{kind: outcomeOK, response: []byte(resp)} }
	fnErr := outcome{kind: outcomeFunctionError}
	failing := func(ids ...int) outcome {
		s := `{"batchItemFailures":[`
		for i, id := range ids {
			if i > 0 {
				s += ","
			}
			s += `{"itemIdentifier":"` + seq(id) + `"}`
		}
		return ok(s + "]}")
	}
	type want struct {
		done    int
		next    []string
		discard string
		retry   bool
	}
	tests := []struct {
		name     string
		m        Mapping
		attempts int
		n        int
		out      outcome
		want     want
	}{
		{"success", base, 0, 4, ok(`{"batchItemFailures":[]}`), want{done: 4}},
		{"null list is success", base, 0, 4, ok(`{"batchItemFailures":null}`), want{done: 4}},
		{"empty response is success", base, 0, 4, ok(``), want{done: 4}},
		{"null response is success", base, 0, 4, ok(`null`), want{done: 4}},
		{"object without the list is success", base, 0, 4, ok(`{"other":1}`), want{done: 4}},
		{"partial failure retries from the lowest failed", base, 0, 5, failing(4, 3), want{done: 2, next: []string{"3-5×1"}, retry: true}},
		{"failure of the first retries all", base, 0, 3, failing(1), want{done: 0, next: []string{"1-3×1"}, retry: true}},
		{"partial failure, retries used up", base, 2, 5, failing(4), want{done: 3, discard: "4-5×3"}},
		{"partial failure is not bisected", bisect, 0, 4, failing(3), want{done: 2, next: []string{"3-4×1"}, retry: true}},
		{"unknown identifier fails the batch", base, 0, 3, failing(9), want{next: []string{"1-3×1"}, retry: true}},
		{"empty identifier fails the batch", base, 0, 3, ok(`{"batchItemFailures":[{"itemIdentifier":""}]}`), want{next: []string{"1-3×1"}, retry: true}},
		{"null identifier fails the batch", base, 0, 3, ok(`{"batchItemFailures":[{"itemIdentifier":null}]}`), want{next: []string{"1-3×1"}, retry: true}},
		{"misnamed key fails the batch", base, 0, 3, ok(`{"batchItemFailures":[{"itemIdentifer":"` + seq(2) + `"}]}`), want{next: []string{"1-3×1"}, retry: true}},
		{"not JSON fails the batch", base, 0, 3, ok(`oops`), want{next: []string{"1-3×1"}, retry: true}},
		{"a malformed answer is not bisected", bisect, 0, 4, ok(`[1]`), want{next: []string{"1-4×1"}, retry: true}},
		{"without ReportBatchItemFailures a response is success", noReport, 0, 3, failing(2), want{done: 3}},
		{"function error retries the batch", base, 0, 3, fnErr, want{next: []string{"1-3×1"}, retry: true}},
		{"function error, retries used up", base, 2, 3, fnErr, want{discard: "1-3×3"}},
		{"infinite retries", forever, 500, 3, fnErr, want{next: []string{"1-3×501"}, retry: true}},
		{"zero retries discards at once", Mapping{MaximumRetryAttempts: 0}, 0, 2, fnErr, want{discard: "1-2×1"}},
		{"bisect splits without a retry", bisect, 1, 5, fnErr, want{next: []string{"1-2×1", "3-5×1"}}},
		{"bisect of one record retries it", bisect, 1, 1, fnErr, want{next: []string{"1-1×2"}, retry: true}},
		{"bisect of one record, retries used up", bisect, 2, 1, fnErr, want{discard: "1-1×3"}},
		{"not invoked: same batch, uncounted", base, 1, 3, outcome{kind: outcomeNotInvoked}, want{next: []string{"1-3×1"}, retry: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decide(tt.m, batch{records: recs(tt.n), attempts: tt.attempts}, tt.out)
			got := want{done: d.done, next: seqs(d.next), retry: d.retry}
			if d.discard != nil {
				got.discard = seqs([]batch{*d.discard})[0]
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("decide() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzFirstFailure: any response either fails the batch or names a record
// of it (or none), never a panic.
func FuzzFirstFailure(f *testing.F) {
	f.Add(`{"batchItemFailures":[{"itemIdentifier":"000000000000000000002"}]}`)
	f.Add(`{"batchItemFailures":[{"itemIdentifier":null},{}]}`)
	f.Add(`null`)
	f.Add(`{"batchItemFailures":"x"}`)
	batch := recs(3)
	f.Fuzz(func(t *testing.T, resp string) {
		i, ok := firstFailure([]byte(resp), batch)
		if ok && (i < -1 || i >= len(batch)) {
			t.Fatalf("firstFailure(%q) = %d, true: not a record of the batch", resp, i)
		}
	})
}

func TestReadyShards(t *testing.T) {
	shards := map[string]*shard{
		"a":  {id: "a", state: shardEnded},
		"a1": {id: "a1", parent: "a", state: shardWaiting},
		"b":  {id: "b", state: shardReading},
		"b1": {id: "b1", parent: "b", state: shardWaiting},
		"b2": {id: "b2", parent: "b1", state: shardWaiting},
		"c1": {id: "c1", parent: "trimmed", state: shardWaiting},
		"d":  {id: "d", state: shardWaiting},
		"e":  {id: "e", state: shardReading},
	}
	var got []string
	for _, s := range readyShards(shards) {
		got = append(got, s.id)
	}
	if diff := cmp.Diff([]string{"a1", "c1", "d"}, got); diff != "" {
		t.Errorf("readyShards() mismatch (-want +got):\n%s", diff)
	}
}
