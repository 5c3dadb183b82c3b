package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/redact"
	"github.com/waguard/waguard/shared/retention"
)

// These tests run the handler over fakes, without the stack: the rules
// themselves are table-tested in shared/retention and shared/audit; here
// what is read, written, measured and recorded in which order.

// t0 is the runs' clock: a scheduled sweep's time, before any real
// deadline the tests' contexts carry.
var t0 = time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// fixture is a handler over fakes, with what it logged and flushed.
type fixture struct {
	h         *Handler
	st        *fakeStore
	audit     *fakeAudit
	digester  *fakeDigester
	logs, emf bytes.Buffer
}

func newFixture(t *testing.T, st *fakeStore) *fixture {
	t.Helper()
	rec, err := metrics.NewRecorder("retention")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, audit: &fakeAudit{}, digester: &fakeDigester{}}
	f.h = &Handler{Store: st, Policy: retention.DefaultPolicy(), Audit: f.audit, Digester: f.digester, Metrics: rec,
		Log: redact.NewLogger(&f.logs, slog.LevelInfo), Cursor: "retention", Lookback: 30 * day,
		Now: func() time.Time { return t0 }, MetricsOut: &f.emf}
	return f
}

// run handles one event under ctx, with fresh log and EMF buffers.
func (f *fixture) run(ctx context.Context, a Action) (any, error) {
	f.logs.Reset()
	f.emf.Reset()
	return f.h.Handle(ctx, Event{Action: a})
}

func (f *fixture) sweep(t *testing.T, ctx context.Context) Result {
	t.Helper()
	out, err := f.run(ctx, ActionSweep)
	if err != nil {
		t.Fatalf("Handle(sweep) err = %v, want nil", err)
	}
	return out.(Result)
}

// lastAudit is the details of the last audit event, which must be a
// sweep's.
func (f *fixture) lastAudit(t *testing.T) map[string]string {
	t.Helper()
	if len(f.audit.events) == 0 {
		t.Fatal("no audit event")
	}
	ev := f.audit.events[len(f.audit.events)-1]
	if ev.Type != audit.EventRetentionSweep || ev.Actor.Caller != "schedule" {
		t.Errorf("audit event = %s by %q, want %s by schedule", ev.Type, ev.Actor.Caller, audit.EventRetentionSweep)
	}
	return ev.Details
}

// seedExpiry writes, under the default policy and relative to t0:
// expired items (six OTPs in one bucket, more than two pages; a marketing
// message; a status expiring exactly at t0), items still in force, and
// one that expired before the 30-day lookback (left to TTL).
func seedExpiry(st *fakeStore) (expired, kept [][2]string) {
	p := retention.DefaultPolicy()
	add := func(pk, sk string, c retention.Class, written time.Time, gone bool) {
		st.put(pk, sk, c, written, p)
		if gone {
			expired = append(expired, [2]string{pk, sk})
		} else {
			kept = append(kept, [2]string{pk, sk})
		}
	}
	for i := range 6 {
		add("sub#a", "otp"+strconv.Itoa(i), retention.ClassOTP, t0.Add(-2*day+time.Duration(i)*time.Minute), true)
	}
	add("sub#a", "mkt-old", retention.ClassMarketing, t0.Add(-31*day), true)
	add("sub#c", "status", retention.ClassStatus, t0.Add(-30*day), true)
	add("sub#b", "mkt-new", retention.ClassMarketing, t0.Add(-10*day), false)
	add("sub#d", "ancient", retention.ClassOTP, t0.Add(-45*day), false)
	return expired, kept
}

func TestSweepDeletesTheExpired(t *testing.T) {
	tests := []struct {
		name        string
		cursor      string
		wantDeleted map[retention.Class]int
		wantGone    []string // sks deleted
	}{
		{"first sweep from the lookback", "", map[retention.Class]int{retention.ClassOTP: 6, retention.ClassMarketing: 1, retention.ClassStatus: 1},
			[]string{"otp0", "otp1", "otp2", "otp3", "otp4", "otp5", "mkt-old", "status"}},
		{"resumes at the cursor", "2026-03-10", map[retention.Class]int{retention.ClassStatus: 1}, []string{"status"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeStore(2)
			seedExpiry(st)
			st.cursor = tc.cursor
			f := newFixture(t, st)
			res := f.sweep(t, context.Background())
			if !res.Finished || res.Cursor != "2026-03-10" || res.OverdueHours != 0 || res.PolicyPending {
				t.Errorf("sweep = %+v, want finished at 2026-03-10, not overdue", res)
			}
			if diff := cmp.Diff(tc.wantDeleted, res.Deleted, cmpDeleted); diff != "" {
				t.Errorf("deleted (-want +got):\n%s", diff)
			}
			gone := map[string]bool{}
			for _, sk := range tc.wantGone {
				gone[sk] = true
			}
			for k := range map[[2]string]bool{{"sub#a", "otp0"}: true, {"sub#a", "mkt-old"}: true, {"sub#c", "status"}: true,
				{"sub#b", "mkt-new"}: true, {"sub#d", "ancient"}: true} {
				if st.has(k[0], k[1]) == gone[k[1]] {
					t.Errorf("%s present = %v, want %v", k[1], st.has(k[0], k[1]), !gone[k[1]])
				}
			}
			if st.cursor != "2026-03-10" {
				t.Errorf("saved cursor = %q, want 2026-03-10", st.cursor)
			}
			d := f.lastAudit(t)
			if d["finished"] != "true" || d["cursor"] != "2026-03-10" || d["deleted_otp"] != strconv.Itoa(tc.wantDeleted[retention.ClassOTP]) ||
				d["deleted_status"] != "1" || d["excess_hours"] != "0.0" {
				t.Errorf("audit details = %v, want finished, cursor 2026-03-10, the deletions, no excess", d)
			}
			total := 0
			for _, n := range tc.wantDeleted {
				total += n
			}
			if !strings.Contains(f.emf.String(), `"RetentionDeleted":`+strconv.Itoa(total)+",") ||
				!strings.Contains(f.logs.String(), `"action":"sweep"`) || !strings.Contains(f.logs.String(), `"level":"INFO"`) {
				t.Errorf("EMF %s, log %s: want RetentionDeleted %d and an INFO summary of the sweep", f.emf.String(), f.logs.String(), total)
			}
		})
	}
}

// cmpDeleted compares deletion counts, a missing class as 0.
var cmpDeleted = cmp.Transformer("nonzero", func(m map[retention.Class]int) map[retention.Class]int {
	out := map[retention.Class]int{}
	for c, n := range m {
		if n != 0 {
			out[c] = n
		}
	}
	return out
})

// TestSweepStopsAtTheDeadline ends a sweep where its time ends, as the
// invocation's deadline would: it reports how far behind it is, keeps the
// days it finished, and the next run resumes there and finishes.
func TestSweepStopsAtTheDeadline(t *testing.T) {
	st := newFakeStore(2)
	expired, kept := seedExpiry(st)
	f := newFixture(t, st)
	ctx, restore := stopAfterBuckets(f.h, 2*retention.Shards+3) // the lookback's first two days, and three shards
	res := f.sweep(t, ctx)
	restore()
	wantOverdue := t0.Sub(time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)).Hours()
	if res.Finished || res.Cursor != "2026-02-10" || res.OverdueHours != wantOverdue || res.ExcessHours < wantOverdue {
		t.Errorf("interrupted sweep = %+v, want unfinished at 2026-02-10, overdue and excess %.0f h", res, wantOverdue)
	}
	if st.cursor != "2026-02-10" {
		t.Errorf("saved cursor = %q, want 2026-02-10", st.cursor)
	}
	if d := f.lastAudit(t); d["finished"] != "false" || d["cursor"] != "2026-02-10" {
		t.Errorf("audit details = %v, want unfinished at 2026-02-10", d)
	}
	if !strings.Contains(f.emf.String(), `"RetentionOverdueHours":`) {
		t.Errorf("EMF = %s, want RetentionOverdueHours", f.emf.String())
	}
	if res := f.sweep(t, context.Background()); !res.Finished || res.OverdueHours != 0 {
		t.Errorf("resumed sweep = %+v, want finished", res)
	}
	for _, k := range expired {
		if st.has(k[0], k[1]) {
			t.Errorf("%s survived the resumed sweep", k[1])
		}
	}
	for _, k := range kept {
		if !st.has(k[0], k[1]) {
			t.Errorf("%s was deleted", k[1])
		}
	}
}

// TestSweepMeasuresTheOldest checks what the breach alarm watches: each
// class's oldest item near expiry, and how long it has outlived its
// policy (an OTP written under a 4-day policy, now 1 day).
func TestSweepMeasuresTheOldest(t *testing.T) {
	st := newFakeStore(2)
	st.put("sub#m", "mkt", retention.ClassMarketing, t0.Add(-(30*24-12)*time.Hour), retention.DefaultPolicy())
	st.items[[2]string{"sub#o", "otp"}] = &fakeItem{pk: "sub#o", sk: "otp", class: retention.ClassOTP,
		written: t0.Add(-72 * time.Hour), expires: t0.Add(10 * time.Hour)}
	f := newFixture(t, st)
	res := f.sweep(t, context.Background())
	want := map[retention.Class]float64{retention.ClassMarketing: 30*24 - 12, retention.ClassOTP: 72}
	if diff := cmp.Diff(want, res.OldestAgeHours); diff != "" || res.ExcessHours != 48 {
		t.Errorf("oldest ages (-want +got):\n%s excess = %.1f h, want 48", diff, res.ExcessHours)
	}
	if d := f.lastAudit(t); d["oldest_hours_otp"] != "72.0" || d["oldest_hours_marketing"] != "708.0" || d["excess_hours"] != "48.0" {
		t.Errorf("audit details = %v, want the oldest ages and 48 h excess", d)
	}
	for _, m := range []string{`"RetentionOldestAgeHours_otp":72`, `"RetentionExcessHours":48`, `"RetentionOverdueHours":0`} {
		if !strings.Contains(f.emf.String(), m) {
			t.Errorf("EMF = %s, want %s", f.emf.String(), m)
		}
	}
}

// TestSweepErrors fails each call a sweep makes in turn: the run returns
// the error, logs one ERROR summary, counts a dependency failure, appends
// no audit event, and keeps the progress saved before the failure.
func TestSweepErrors(t *testing.T) {
	errBoom := errors.New("dynamodb unavailable")
	tests := []struct {
		fail       string // the store method that fails; "Append" for the audit trail
		wantCursor string
	}{
		{"SweepCursor", ""},
		{"SweepBucket", ""},
		{"SetSweepCursor", ""},
		{"SweepPolicy", "2026-03-10"},
		{"PolicyProgress", "2026-03-10"},
		{"SetPolicyProgress", "2026-03-10"},
		{"ReexpireBucket", "2026-03-10"},
		{"SetSweepPolicy", "2026-03-10"},
		{"OldestInBucket", "2026-03-10"},
		{"Append", "2026-03-10"},
	}
	for _, tc := range tests {
		t.Run(tc.fail, func(t *testing.T) {
			st := newFakeStore(2)
			seedExpiry(st)
			st.policy = days(retention.DefaultPolicy())
			st.fail = func(m string) error {
				if m == tc.fail {
					return errBoom
				}
				return nil
			}
			f := newFixture(t, st)
			f.h.Policy = marketing7(t) // every call is made
			if tc.fail == "Append" {
				f.audit.err = errBoom
			}
			out, err := f.run(context.Background(), ActionSweep)
			if !errors.Is(err, errBoom) {
				t.Fatalf("Handle(sweep) err = %v, want %v", err, errBoom)
			}
			if _, ok := out.(Result); !ok {
				t.Errorf("Handle(sweep) out = %T, want a Result", out)
			}
			if len(f.audit.events) != 0 || st.cursor != tc.wantCursor {
				t.Errorf("after the failure: %d audit events, cursor %q; want none and %q", len(f.audit.events), st.cursor, tc.wantCursor)
			}
			logs := f.logs.String()
			if strings.Count(logs, "\n") != 1 || !strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, errBoom.Error()) ||
				!strings.Contains(f.emf.String(), `"DependencyFailures":1`) {
				t.Errorf("log %s EMF %s: want one ERROR summary with the error and DependencyFailures 1", logs, f.emf.String())
			}
		})
	}
}
