package main

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/store"
)

// t0 is the unit tests' clock.
var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// errDown is a dependency failure.
var errDown = errors.New("dependency down")

func TestValidReason(t *testing.T) {
	for _, tc := range []struct {
		reason string
		want   bool
	}{
		{"user_request", true}, {"whatsapp_keyword", true}, {"contract_end", true}, {"other", true},
		{"", false}, {"bored", false}, {"USER_REQUEST", false},
	} {
		if got := validReason(tc.reason); got != tc.want {
			t.Errorf("validReason(%q) = %v, want %v", tc.reason, got, tc.want)
		}
	}
}

func TestParseWho(t *testing.T) {
	const user = "US.00000000000000000042"
	for _, tc := range []struct {
		name, phone, user string
		want              error
	}{
		{"phone", "+14155550123", "", nil},
		{"user id", "", user, nil},
		{"neither", "", "", errInvalidRequest},
		{"both", "+14155550123", user, errInvalidRequest},
		{"not E.164", "0044", "", errInvalidPhone},
		{"not a user id", "", "someone", errInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			who, err := parseWho(tc.phone, tc.user)
			if !errors.Is(err, tc.want) {
				t.Fatalf("parseWho() err = %v, want %v", err, tc.want)
			}
			if err == nil && who.Empty() {
				t.Errorf("parseWho() = an empty person, want one identifier")
			}
		})
	}
}

func TestPartitionsAndSuppressionKeys(t *testing.T) {
	old := store.ErasureRequest{Subject: "S"}
	if got := partitions(&old); !cmp.Equal(got, []string{"S"}) {
		t.Errorf("partitions(no scope) = %v, want the subject alone", got)
	}
	scoped := store.ErasureRequest{Subject: "S", Scope: &store.ErasureScope{Partitions: []string{"A", "S"}, Identifiers: []string{"I1", "I2"}}}
	if got := partitions(&scoped); !cmp.Equal(got, []string{"A", "S"}) {
		t.Errorf("partitions(scoped) = %v, want the scope's partitions", got)
	}
	keys := suppressionKeys(*scoped.Scope)
	if want := []string{"A", "S", "I1", "I2"}; !cmp.Equal(keys, want) {
		t.Errorf("suppressionKeys() = %v, want %v", keys, want)
	}
	keys[0] = "changed"
	if scoped.Scope.Partitions[0] != "A" {
		t.Errorf("suppressionKeys() shares the scope's slice")
	}
}

func TestErasureRecipients(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   [][]string
		want []string
	}{
		{"bus alone", nil, []string{"bus"}},
		{"sorted and unique across partitions", [][]string{{"crm", "bus"}, {"analytics", "crm"}}, []string{"analytics", "bus", "crm"}},
		{"empty partitions", [][]string{{}, nil}, []string{"bus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := erasureRecipients(tc.in...); !cmp.Equal(got, tc.want) {
				t.Errorf("erasureRecipients(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestDeletionEvent(t *testing.T) {
	r := store.ErasureRequest{ID: "er_1", Pseudonym: "P", Reason: "contract_end"}
	got := deletionEvent(r, store.Counts{Messages: 12, Statuses: 3, ConsentEvents: 1, Other: 4, RateRecords: 2}, []string{"bus", "crm"})
	want := audit.Event{Type: audit.EventDataDeletion, Subject: "P", Actor: audit.Actor{Caller: "erasure"}, RequestID: "er_1",
		Details: map[string]string{"erasure_request": "er_1", "messages": "12", "statuses": "3", "consent_events": "1", "other_items": "4",
			"rate_records": "2", "subject_key": "deleted", "reason": "contract_end", "recipients": "bus,crm"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deletionEvent() mismatch (-want +got):\n%s", diff)
	}
}

func TestCompletedAndAwaitingNotices(t *testing.T) {
	for _, tc := range []struct {
		r               store.ErasureRequest
		done, awaitings bool
	}{
		{store.ErasureRequest{Status: "pending"}, false, false},
		{store.ErasureRequest{Status: "in_progress", Step: stepDeleted}, false, false},
		{store.ErasureRequest{Status: "in_progress", Step: stepNotified}, false, true},
		{store.ErasureRequest{Status: "completed", Step: stepCompleted}, true, false},
	} {
		if got := completed(tc.r); got != tc.done {
			t.Errorf("completed(%s/%s) = %v, want %v", tc.r.Status, tc.r.Step, got, tc.done)
		}
		if got := awaitingNotices(tc.r); got != tc.awaitings {
			t.Errorf("awaitingNotices(%s/%s) = %v, want %v", tc.r.Status, tc.r.Step, got, tc.awaitings)
		}
	}
}

func TestAcceptedAndStatusBody(t *testing.T) {
	r := store.ErasureRequest{ID: "er_1", Subject: "S", Pseudonym: "P", Reason: "other", Status: "completed", Step: stepCompleted,
		RequestedAt: t0, DueBy: t0.Add(store.ErasureDeadline), CompletedAt: t0.Add(time.Minute),
		Counts: store.Counts{Messages: 2, Statuses: 1, ConsentEvents: 1, Other: 3, RateRecords: 1}, KeyDeleted: true, AuditEvent: "ev_9",
		Recipients: []store.ErasureRecipient{{Destination: "bus", NotifiedAt: t0}, {Destination: "crm", NotifiedAt: t0, FailedAt: t0.Add(time.Hour)}}}
	if diff := cmp.Diff(map[string]string{"id": "er_1", "status": "completed", "due_by": "2026-06-03T10:00:00Z"}, acceptedBody(r)); diff != "" {
		t.Errorf("acceptedBody() mismatch (-want +got):\n%s", diff)
	}
	want := map[string]any{"id": "er_1", "status": "completed", "reason": "other", "requested_at": "2026-05-04T10:00:00Z",
		"due_by": "2026-06-03T10:00:00Z", "step": "completed", "completed_at": "2026-05-04T10:01:00Z", "audit_event": "ev_9",
		"counts": map[string]any{"messages": 2, "statuses": 1, "consent_events": 1, "other_items": 3, "rate_and_idempotency_records": 1,
			"subject_key": true},
		"recipients": []map[string]string{{"destination": "bus", "notified_at": "2026-05-04T10:00:00Z"},
			{"destination": "crm", "notified_at": "2026-05-04T10:00:00Z", "failed_at": "2026-05-04T11:00:00Z"}}}
	if diff := cmp.Diff(want, statusBody(r)); diff != "" {
		t.Errorf("statusBody() mismatch (-want +got):\n%s", diff)
	}
	open := statusBody(store.ErasureRequest{ID: "er_2", Status: "pending", RequestedAt: t0, DueBy: t0})
	for _, k := range []string{"completed_at", "audit_event", "recipients"} {
		if _, ok := open[k]; ok {
			t.Errorf("statusBody(pending) has %s, want it only once set", k)
		}
	}
}

func TestHasReserve(t *testing.T) {
	for _, tc := range []struct {
		name string
		left time.Duration
		ok   bool
		want bool
	}{
		{"no deadline", 0, false, true},
		{"plenty", time.Minute, true, true},
		{"just over the reserve", reserve + time.Millisecond, true, true},
		{"exactly the reserve", reserve, true, false},
		{"past", -time.Second, true, false},
	} {
		if got := hasReserve(t0.Add(tc.left), tc.ok, t0); got != tc.want {
			t.Errorf("%s: hasReserve() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestResumeTally(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	var tally resumeTally
	tally.add(store.ErasureRequest{Status: "completed", RequestedAt: t0}, nil, now)                       // done: not pending
	tally.add(store.ErasureRequest{Status: "in_progress", RequestedAt: t0.Add(36 * time.Hour)}, nil, now) // 12 h open
	tally.add(store.ErasureRequest{}, errDown, now)                                                       // unreadable: no age
	tally.add(store.ErasureRequest{Status: "pending", RequestedAt: t0.Add(24 * time.Hour)}, errDown, now) // 24 h, failed
	if tally.done != 1 || tally.failed != 2 || tally.oldest != 24*time.Hour {
		t.Errorf("tally = %+v, want 1 done, 2 failed, oldest 24h", tally)
	}
	if err := tally.err(); err == nil || err.Error() != "2 erasure requests failed this run" {
		t.Errorf("tally.err() = %v, want 2 failed", err)
	}
	if err := (resumeTally{done: 3}).err(); err != nil {
		t.Errorf("err() with no failure = %v, want nil", err)
	}
}

func TestRateRecordsAreRateLimitKeys(t *testing.T) {
	for _, k := range rateRecords("B") {
		if k[1] != "rl" || len(k[0]) <= len("rl#send#to-") {
			t.Errorf("rateRecords(B) has %v, want an rl#send#to-… key with sort key rl", k)
		}
	}
}

func TestStepDone(t *testing.T) {
	for _, tc := range []struct {
		last, step string
		want       bool
	}{
		{"", stepConfirmed, false},
		{"", stepSuppressed, false},
		{stepConfirmed, stepConfirmed, true},
		{stepConfirmed, stepSuppressed, false},
		{stepSuppressed, stepConfirmed, true},
		{stepDeleted, stepDeleted, true},
		{stepDeleted, stepKeyDeleted, false},
		{stepNotified, stepSuppressed, true}, // a request waiting for its endpoints never goes back
		{stepNotified, stepKeyDeleted, true},
		{stepNotified, stepNotified, true},
		{stepNotified, stepCompleted, false},
		{"something_old", stepSuppressed, false}, // unknown: run everything again (every step is safe to repeat)
	} {
		if got := stepDone(tc.last, tc.step); got != tc.want {
			t.Errorf("stepDone(%q, %q) = %v, want %v", tc.last, tc.step, got, tc.want)
		}
	}
}
