package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// marketing7 is the default policy with marketing shortened from 30 to 7
// days.
func marketing7(t *testing.T) retention.Policy {
	t.Helper()
	p, err := retention.PolicyFromEnv(func(k string) string { return map[string]string{"RETENTION_DAYS_MARKETING": "7"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// days is a policy's days per class, as the sweep records them.
func days(p retention.Policy) map[retention.Class]int {
	m := map[retention.Class]int{}
	for _, c := range retention.Classes {
		m[c], _ = p.Days(c)
	}
	return m
}

// TestShortenedPolicyResumesMidBucket shortens marketing from 30 to 7
// days over a bucket whose first index entries are transactional: with
// two entries a page, the first pages hold no marketing item, and the
// walk must go on with the page key, as on DynamoDB. The first run ends
// after the bucket's first page, as a timeout would: the change is
// pending, shown in the excess, and saved with its page; the next run
// resumes at that page, deletes the marketing items older than 7 days,
// moves a younger one's expiry, keeps the transactional ones and records
// the policy; a third run has nothing to walk.
func TestShortenedPolicyResumesMidBucket(t *testing.T) {
	st := newFakeStore(2)
	st.cursor, st.policy = "2026-03-10", days(retention.DefaultPolicy())
	exp := t0.Add(20 * day) // 2026-03-30
	for i := range 3 {
		st.items[[2]string{"sub#p", "txn" + string(rune('a'+i))}] = &fakeItem{pk: "sub#p", sk: "txn" + string(rune('a'+i)),
			class: retention.ClassTransactional, written: exp.Add(-90 * day), expires: exp.Add(time.Duration(i-300) * time.Second)}
	}
	for i := range 2 {
		sk := "mkt-old" + string(rune('a'+i))
		st.items[[2]string{"sub#p", sk}] = &fakeItem{pk: "sub#p", sk: sk, class: retention.ClassMarketing,
			written: exp.Add(-30*day + time.Duration(i)*time.Second), expires: exp.Add(time.Duration(i) * time.Second)}
	}
	st.put("sub#q", "mkt-young", retention.ClassMarketing, t0.Add(-2*day), retention.DefaultPolicy())
	bucket := retention.Bucket("sub#p", exp)
	f := newFixture(t, st)
	f.h.Policy = marketing7(t)

	ctx, restore := stopWhen(f.h, func(*bucketCounter) bool {
		return len(st.reexpired) > 0 && st.reexpired[len(st.reexpired)-1] == bucket+"@"
	})
	res := f.sweep(t, ctx)
	restore()
	if !res.PolicyPending || res.Finished || res.ExcessHours != (30-7)*24 {
		t.Errorf("interrupted sweep = %+v, want unfinished, policy pending, excess %d h", res, (30-7)*24)
	}
	if d := f.lastAudit(t); d["policy_pending"] != "true" || d["finished"] != "true" {
		t.Errorf("audit details = %v, want policy pending after a finished sweep", d)
	}
	prog := st.progress
	if prog.Target != marketing7(t).Target() || prog.Class != retention.ClassMarketing || prog.Day != "2026-03-30" ||
		retention.BucketFor(exp, prog.Shard) != bucket || prog.Page == "" || !prog.StartedAt.Equal(t0) {
		t.Fatalf("saved progress = %+v, want marketing at bucket %s with a page, started at t0", prog, bucket)
	}
	if st.policy[retention.ClassMarketing] != 30 {
		t.Errorf("recorded marketing days = %d before the walk ended, want 30", st.policy[retention.ClassMarketing])
	}

	calls := len(st.reexpired)
	res = f.sweep(t, context.Background())
	if got, want := st.reexpired[calls], bucket+"@"+string(prog.Page); got != want {
		t.Errorf("resumed walk's first page = %s, want %s", got, want)
	}
	if res.PolicyPending || !res.Finished || res.Deleted[retention.ClassMarketing] != 2 {
		t.Errorf("resumed sweep = %+v, want finished, nothing pending, 2 marketing deleted", res)
	}
	for _, sk := range []string{"mkt-olda", "mkt-oldb"} {
		if st.has("sub#p", sk) {
			t.Errorf("%s survived the 7-day period", sk)
		}
	}
	for _, sk := range []string{"txna", "txnb", "txnc"} {
		if !st.has("sub#p", sk) {
			t.Errorf("%s deleted by a marketing change", sk)
		}
	}
	if y := st.items[[2]string{"sub#q", "mkt-young"}]; y == nil || !y.expires.Equal(t0.Add(5*day)) {
		t.Errorf("young marketing item = %+v, want expiry t0 + 5 days", y)
	}
	if st.policy[retention.ClassMarketing] != 7 {
		t.Errorf("recorded marketing days = %d, want 7", st.policy[retention.ClassMarketing])
	}

	calls = len(st.reexpired)
	if res := f.sweep(t, context.Background()); !res.Finished || res.PolicyPending || len(st.reexpired) != calls {
		t.Errorf("third sweep = %+v with %d re-expiry pages, want finished and none", res, len(st.reexpired)-calls)
	}
}

// TestPolicyProgressTowardsAnotherTarget: progress saved towards another
// policy does not count; the walk starts afresh today.
func TestPolicyProgressTowardsAnotherTarget(t *testing.T) {
	st := newFakeStore(2)
	st.cursor, st.policy = "2026-03-10", days(retention.DefaultPolicy())
	st.progress = store.PolicyProgress{Target: "marketing=14;", Class: retention.ClassMarketing, Day: "2026-03-20", Shard: 7,
		Page: "1|sub#x|y", StartedAt: t0.Add(-3 * day)}
	f := newFixture(t, st)
	f.h.Policy = marketing7(t)
	f.sweep(t, context.Background())
	if len(st.reexpired) == 0 || st.reexpired[0] != retention.BucketFor(t0, 0)+"@" {
		t.Fatalf("first re-expiry page = %v, want today's shard 0 from its start", st.reexpired[:min(1, len(st.reexpired))])
	}
	if want := t0.Add(30 * day).Truncate(day).Add(day).Format(time.DateOnly); st.progress.Day != want || !st.progress.StartedAt.Equal(t0) {
		t.Errorf("progress = %+v, want walked through %s, started at t0", st.progress, want)
	}
}

// TestPolicyRecorded: a first run and a lengthened period record the
// policy in force without walking; the policy already recorded is not
// written again.
func TestPolicyRecorded(t *testing.T) {
	longer := days(retention.DefaultPolicy())
	longer[retention.ClassMarketing] = 5
	tests := []struct {
		name       string
		applied    map[retention.Class]int
		wantRecord bool
	}{
		{"first run", nil, true},
		{"lengthened", longer, true},
		{"unchanged", days(retention.DefaultPolicy()), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeStore(2)
			st.cursor, st.policy = "2026-03-10", tc.applied
			var calls []string
			st.fail = func(m string) error { calls = append(calls, m); return nil }
			f := newFixture(t, st)
			if res := f.sweep(t, context.Background()); !res.Finished || res.PolicyPending {
				t.Errorf("sweep = %+v, want finished", res)
			}
			recorded := strings.Contains(strings.Join(calls, ","), "SetSweepPolicy")
			if recorded != tc.wantRecord || len(st.reexpired) != 0 || !cmp.Equal(st.policy, days(retention.DefaultPolicy())) {
				t.Errorf("recorded %v (policy %v) with %d re-expiry pages, want recorded %v and no walk", recorded, st.policy, len(st.reexpired), tc.wantRecord)
			}
		})
	}
}
