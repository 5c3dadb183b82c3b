package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/identity"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/store"
)

// person is what the fakes hold of one person for the erasure tests: two
// partitions (their own, A, and one merged into it, B), two identifiers,
// items of every kind (more than one page in A), rate-limit records,
// event records, and endpoints that received events about them.
type person struct {
	a, b   string // partitions
	idKeys []string
	want   store.Counts
}

func (f *fixture) person(t testing.TB, num string) person {
	t.Helper()
	p := person{a: keyOf(num), b: keyOf(num + "-merged"), idKeys: []string{"I-phone", "I-user"}}
	s := f.store
	s.parts[p.a] = []string{p.a, p.b}
	s.identifiers[p.a] = []store.Identifier{{ID: identity.ID{Kind: identity.KindPhone, Key: "I-phone"}, Value: num}}
	s.identifiers[p.b] = []store.Identifier{{ID: identity.ID{Kind: identity.KindUser, Key: "I-user"}, Value: userID}}
	for _, k := range p.idKeys {
		s.aliases[k] = true
	}
	for i := range 30 {
		s.message(p.a, i, store.Message{Direction: "in", Content: store.Content{Phone: num, Body: []byte("hello")}}, i%10 == 0)
	}
	for i := range 5 {
		s.message(p.b, 100+i, store.Message{Direction: "in", Content: store.Content{UserID: userID}}, false)
	}
	s.add(p.a, fakeItem{sk: "status#L1#sent"}, fakeItem{sk: "status#L1#read"}, fakeItem{sk: "status#L2#sent"},
		fakeItem{sk: "consent#1"}, fakeItem{sk: "window"}, fakeItem{sk: "ident#phone#I-phone"})
	s.add(p.b, fakeItem{sk: "ident#user#I-user"})
	s.rate["rl#send#to-marketing-"+p.a], s.rate["rl#send#to-otp-"+p.b], s.rate["rl#send#to-marketing-other"] = true, true, true
	s.outbox[p.a], s.outbox[p.b] = 2, 1
	s.recipients[p.a], s.recipients[p.b] = []string{"crm"}, []string{"analytics", "crm"}
	p.want = store.Counts{Messages: 35, Statuses: 3, ConsentEvents: 1, Other: 3, RateRecords: 2}
	return p
}

// TestErasure erases a person held in two partitions and checks the
// order that is the guarantee (suppression first, the subject keys last),
// that nothing of theirs is left, the exact counts, the proof and its
// recipients, and that the request closes only once every endpoint
// settled.
func TestErasure(t *testing.T) {
	fx := newFixture(t)
	p := fx.person(t, num1)
	allKeys := []string{p.a, p.b, "I-phone", "I-user"}
	fx.store.fail = func(op string) error {
		if op == "ErasePage" && len(fx.store.erased) != len(allKeys) {
			t.Errorf("items deleted before every key was suppressed (%d of %d)", len(fx.store.erased), len(allKeys))
		}
		return nil
	}
	fx.keys.fail = func(string) error {
		if n := len(fx.store.items[p.a]) + len(fx.store.items[p.b]); n > 0 {
			t.Errorf("a subject key deleted while %d items are left", n)
		}
		return nil
	}
	status, out, _ := fx.call(t, request{route: routeErasures, body: js(map[string]string{"phone": num1, "reason": "user_request"})})
	if status != 202 || out["status"] == "completed" {
		t.Fatalf("erasure = %d %v, want 202 not completed (the endpoints have not acknowledged)", status, out)
	}
	id := out["id"].(string)
	r := fx.store.requests[id]
	if r.Counts != p.want || !r.KeyDeleted || r.Step != stepNotified {
		t.Errorf("request = %+v, want counts %+v, key deleted, step notified", r, p.want)
	}
	for _, k := range allKeys {
		if fx.store.erased[k] != id {
			t.Errorf("key %s suppressed by %q, want %s", k, fx.store.erased[k], id)
		}
	}
	if len(fx.store.aliases) != 0 || len(fx.store.items[p.a])+len(fx.store.items[p.b]) != 0 || len(fx.store.outbox) != 0 {
		t.Errorf("left: aliases %v, items %d, event records %v; want nothing", fx.store.aliases, len(fx.store.items[p.a])+len(fx.store.items[p.b]), fx.store.outbox)
	}
	if !fx.store.rate["rl#send#to-marketing-other"] || len(fx.store.rate) != 1 {
		t.Errorf("rate records left = %v, want only another subject's", fx.store.rate)
	}
	if !cmp.Equal(fx.keys.deleted, []string{p.a, p.b}) {
		t.Errorf("subject keys deleted = %v, want both partitions'", fx.keys.deleted)
	}
	if want := []string{stepSuppressed, stepDeleted, stepKeyDeleted}; !cmp.Equal(fx.store.steps, want) {
		t.Errorf("steps = %v, want %v (notified is written by the proof)", fx.store.steps, want)
	}

	requested, proof := fx.store.units[0], fx.store.units[1]
	if ev := requested.Audit[0]; ev.Type != audit.EventErasureRequested || ev.Actor.Caller != "ops" || ev.Subject != "p"+p.a ||
		ev.Details["erasure_request"] != id || ev.Details["reason"] != "user_request" {
		t.Errorf("erasure_requested event = %+v", ev)
	}
	recipients := []string{"analytics", "bus", "crm"}
	if diff := cmp.Diff(deletionEvent(r, p.want, recipients), proof.Audit[0]); diff != "" {
		t.Errorf("data_deletion event mismatch (-want +got):\n%s", diff)
	}
	if rec := proof.Events[0]; rec.Type != events.TypeSubjectErased || rec.Fields.ErasureRequestID != id ||
		rec.Fields.ContactID != events.ContactID(fx.h.ContactKey, p.a) {
		t.Errorf("subject.erased record = %+v, want the request and the subject's contact id", rec)
	}
	var got []string
	for _, rc := range r.Recipients {
		got = append(got, rc.Destination)
	}
	if !cmp.Equal(got, recipients) {
		t.Errorf("recipients notified = %v, want %v", got, recipients)
	}

	status, out, _ = fx.call(t, request{route: routeStatus, path: map[string]string{"id": id}})
	if status != 200 || out["status"] != "in_progress" || out["step"] != stepNotified {
		t.Errorf("status before the endpoints settled = %d %v, want in_progress at notified", status, out)
	}
	fx.store.settle(id, "crm", t0)
	fx.store.settle(id, "analytics", t0)
	status, out, _ = fx.call(t, request{route: routeStatus, path: map[string]string{"id": id}})
	if status != 200 || out["status"] != "completed" || out["completed_at"] == nil || out["audit_event"] != r.AuditEvent {
		t.Errorf("status once settled = %d %v, want completed with its proof", status, out)
	}
	status, out, _ = fx.call(t, request{route: routeErasures, body: js(map[string]string{"phone": num1, "reason": "user_request"})})
	if status != 202 || out["id"] == id {
		t.Errorf("a new request after completion = %d %v, want 202 and a new id", status, out)
	}
	if strings.Contains(fx.logs.String(), "4155550123") {
		t.Errorf("the log holds the phone number")
	}
}

// TestResumeAfterFailure fails one call of each step, as a crash or a
// dependency would, and checks the POST still answers the request (202,
// its id) and the scheduled run finishes it with exact counts.
func TestResumeAfterFailure(t *testing.T) {
	for _, tc := range []struct {
		op   string
		n    int // the nth call fails
		keys bool
	}{
		{op: "ErasureRequest", n: 1}, {op: "ScopeErasure", n: 1}, {op: "MarkErased", n: 3}, {op: "DropAliases", n: 1},
		{op: "SetErasureStep", n: 1}, {op: "ErasePage", n: 2}, {op: "EraseRecords", n: 2}, {op: "EraseEventRecords", n: 1},
		{op: "DeleteSubjectKey", n: 2, keys: true}, {op: "MarkKeyDeleted", n: 1}, {op: "SetErasureStep", n: 3},
		{op: "Recipients", n: 2}, {op: "ProveErasure", n: 1}, {op: "FinishErasure", n: 1}, {op: "ErasureRequest", n: 2},
	} {
		t.Run(fmt.Sprintf("%s#%d", tc.op, tc.n), func(t *testing.T) {
			fx := newFixture(t)
			fx.quiet()
			p := fx.person(t, num1)
			fx.store.recipients = map[string][]string{} // only the bus: nothing to wait for
			if tc.keys {
				fx.keys.fail = failOnce(tc.op, tc.n, errDown)
			} else {
				fx.store.fail = failOnce(tc.op, tc.n, errDown)
			}
			status, out, _ := fx.call(t, request{route: routeErasures, body: js(map[string]string{"phone": num1, "reason": "contract_end"})})
			id, _ := out["id"].(string)
			if status != 202 || !strings.HasPrefix(id, "er_") || out["status"] == "completed" {
				t.Fatalf("interrupted erasure = %d %v, want 202 with the request's id, not completed", status, out)
			}
			res, err := fx.h.Handle(context.Background(), Event{Action: actionResume})
			if err != nil {
				t.Fatalf("resume err = %v", err)
			}
			if want := map[string]int{"pending": 1, "completed": 1}; !cmp.Equal(res, want) {
				t.Errorf("resume = %v, want %v", res, want)
			}
			r := fx.store.requests[id]
			if r.Status != "completed" || r.Counts != p.want || !r.KeyDeleted {
				t.Errorf("after resume: %+v, want completed with counts %+v", r, p.want)
			}
		})
	}
}

// TestDeadline: with no more than the reserve left, processing stops
// before deleting anything and reports the request unfinished, without an
// error; the next run goes on.
func TestDeadline(t *testing.T) {
	fx := newFixture(t)
	p := fx.person(t, num1)
	r, _ := fx.store.OpenErasure(context.Background(), store.ErasureRequest{ID: openID, Subject: p.a, RequestedAt: t0}, store.Unit{})
	ctx, cancel := context.WithTimeout(context.Background(), reserve)
	defer cancel()
	got, err := fx.h.process(ctx, r.ID)
	if err != nil || got.Status == "completed" || fx.store.count("ErasePage") != 0 {
		t.Errorf("process(no time left) = %+v, %v after %d pages; want unfinished, no error, nothing deleted", got, err, fx.store.count("ErasePage"))
	}
	if fx.store.requests[r.ID].Step != stepSuppressed {
		t.Errorf("step = %q, want %q (the suppression comes first, whatever the time)", fx.store.requests[r.ID].Step, stepSuppressed)
	}
	if _, err := fx.h.process(context.Background(), r.ID); err != nil || fx.store.requests[r.ID].Counts != p.want {
		t.Errorf("next run: %+v, %v; want every item deleted (waiting for the endpoints)", fx.store.requests[r.ID], err)
	}
}

// TestScheduled checks the resume schedule: every pending request is run,
// one that fails does not hold up the others but fails the run, and the
// age of the oldest still open is reported.
func TestScheduled(t *testing.T) {
	fx := newFixture(t)
	fx.quiet()
	ctx := context.Background()
	a, b := keyOf(num1), keyOf(num2)
	for i, s := range []string{a, b} {
		fx.store.message(s, i, store.Message{}, false)
		_, _ = fx.store.OpenErasure(ctx, store.ErasureRequest{ID: fmt.Sprintf("er_%024d", i), Subject: s, RequestedAt: t0.Add(-30 * time.Hour)}, store.Unit{})
	}
	fx.store.recipients[b] = []string{"crm"} // b waits for its endpoint
	fx.store.pending = append(fx.store.pending, "er_GONE")

	_, err := fx.h.Handle(ctx, Event{Action: actionResume})
	if err == nil || err.Error() != "1 erasure requests failed this run" {
		t.Errorf("resume with a broken request err = %v, want 1 failed", err)
	}
	if fx.store.requests["er_000000000000000000000000"].Status != "completed" || fx.store.requests["er_000000000000000000000001"].Step != stepNotified {
		t.Errorf("the other requests were not run to their end")
	}
	if got := metric(t, fx.metrics.String(), metrics.ErasurePendingOldestHours); got != 30 {
		t.Errorf("%s = %v, want 30", metrics.ErasurePendingOldestHours, got)
	}

	fx.store.pending = slices.DeleteFunc(fx.store.pending, func(id string) bool { return id == "er_GONE" })
	if res, err := fx.h.Handle(ctx, Event{Action: actionResume}); err != nil || !cmp.Equal(res, map[string]int{"pending": 1, "completed": 0}) {
		t.Errorf("resume = %v, %v; want 1 pending, none completed", res, err)
	}
	if res, err := fx.h.Handle(ctx, Event{Action: "sweep"}); err != nil || !cmp.Equal(res, map[string]string{"error": "unknown action"}) {
		t.Errorf("unknown action = %v, %v; want the unknown action answer", res, err)
	}
	fx.store.fail = failOnce("PendingErasures", 1, errDown)
	if _, err := fx.h.Handle(ctx, Event{Action: actionResume}); err == nil {
		t.Errorf("resume with the store down err = nil, want the error (the schedule's metric and retry)")
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if res, err := fx.h.Handle(short, Event{Action: actionResume}); err != nil || !cmp.Equal(res, map[string]int{"pending": 1, "completed": 0}) {
		t.Errorf("resume with no time left = %v, %v; want nothing run", res, err)
	}
}

// metric returns the last value of name in the EMF lines out.
func metric(t testing.TB, out, name string) float64 {
	t.Helper()
	v, found := 0.0, false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if f, ok := line[name].(float64); ok {
			v, found = f, true
		}
	}
	if !found {
		t.Fatalf("no %s in the metrics", name)
	}
	return v
}
