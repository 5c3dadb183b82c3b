package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// The erasure's rules, as pure functions over plain values: what a request
// must name, what an erasure covers and deletes, what it proves, and what
// its answers show. The handlers call them; rules_test.go tests them
// without the stack.

// reasons are the erasure reasons docs/api.md lists.
var reasons = map[string]bool{"user_request": true, "whatsapp_keyword": true, "contract_end": true, "other": true}

// validReason reports whether reason is one of [reasons].
func validReason(reason string) bool { return reasons[reason] }

// parseWho reads the person a request names by exactly one of a phone
// number and a user id: 400 invalid_phone for a number that is not E.164,
// 400 invalid_request for anything else wrong.
func parseWho(phoneNumber, userID string) (subject.Who, error) {
	who, err := subject.Parse(phoneNumber, userID)
	switch {
	case errors.Is(err, subject.ErrInvalidPhone):
		return subject.Who{}, errInvalidPhone
	case err != nil:
		return subject.Who{}, errInvalidRequest
	}
	return who, nil
}

// statusCompleted is the status of a closed request.
const statusCompleted = "completed"

// completed reports whether r is closed: nothing is left to do for it.
func completed(r store.ErasureRequest) bool { return r.Status == statusCompleted }

// awaitingNotices reports whether r is proven and waits only for its
// endpoint recipients: every one may have settled since it was read, so a
// status answer looks again ([store.Store.FinishErasure]).
func awaitingNotices(r store.ErasureRequest) bool { return r.Step == stepNotified }

// steps are the processing steps in their order (process.go).
var steps = []string{stepConfirmed, stepSuppressed, stepDeleted, stepKeyDeleted, stepNotified, stepCompleted}

// stepDone reports whether step is done for a request whose last recorded
// step is last. Steps never go back: a resume starts after last, so that
// the schedule's runs do not record an earlier step over notified (which
// [store.Store.FinishErasure] waits for). An unknown or empty last step
// has done nothing.
func stepDone(last, step string) bool {
	i := slices.Index(steps, last)
	return i >= 0 && i >= slices.Index(steps, step)
}

// partitions is the erasure's scope: fixed by suppress, or the subject
// alone for a request suppressed before scopes existed.
func partitions(r *store.ErasureRequest) []string {
	if r.Scope != nil {
		return r.Scope.Partitions
	}
	return []string{r.Subject}
}

// suppressionKeys are the keys an erasure suppression is written for:
// every partition of the person and the blind index of every identifier,
// so that none of them can store or send anything again.
func suppressionKeys(s store.ErasureScope) []string {
	return append(slices.Clone(s.Partitions), s.Identifiers...)
}

// rateRecords are the send function's per-recipient rate-limit items of a
// subject (shared/ratelimit keys them rl#<scope>#<key>; the send function
// uses scope "send" and key "to-<purpose>-<blind index>", the purpose
// being a message purpose or consent_confirm, the double opt-in's
// confirmation templates).
func rateRecords(subject string) [][2]string {
	var keys [][2]string
	for _, purpose := range []string{"marketing", "transactional", "support", "otp", "consent_confirm"} {
		keys = append(keys, [2]string{"rl#send#to-" + purpose + "-" + subject, "rl"})
	}
	return keys
}

// erasureRecipients are who is told of an erasure (GDPR Art. 19): the
// event bus, and every endpoint that received an event about any
// partition of the person, each once, sorted.
func erasureRecipients(perPartition ...[]string) []string {
	out := []string{store.BusRecipient}
	for _, names := range perPartition {
		out = append(out, names...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// deletionEvent is the data_deletion audit event that proves request r:
// the exact counts c of what was deleted, the subject key's deletion and
// who is told.
func deletionEvent(r store.ErasureRequest, c store.Counts, recipients []string) audit.Event {
	return audit.Event{Type: audit.EventDataDeletion, Subject: r.Pseudonym, Actor: audit.Actor{Caller: "erasure"}, RequestID: r.ID,
		Details: map[string]string{"erasure_request": r.ID, "messages": strconv.Itoa(c.Messages), "statuses": strconv.Itoa(c.Statuses),
			"consent_events": strconv.Itoa(c.ConsentEvents), "other_items": strconv.Itoa(c.Other), "rate_records": strconv.Itoa(c.RateRecords),
			"subject_key": "deleted", "reason": r.Reason, "recipients": strings.Join(recipients, ",")}}
}

// acceptedBody is the 202 answer to POST /v1/erasure-requests.
func acceptedBody(r store.ErasureRequest) map[string]string {
	return map[string]string{"id": r.ID, "status": r.Status, "due_by": r.DueBy.Format(time.RFC3339)}
}

// statusBody is the 200 answer to GET /v1/erasure-requests/{id}: the
// request's state and proof, never the phone number.
func statusBody(r store.ErasureRequest) map[string]any {
	out := map[string]any{"id": r.ID, "status": r.Status, "reason": r.Reason, "requested_at": r.RequestedAt.Format(time.RFC3339),
		"due_by": r.DueBy.Format(time.RFC3339), "step": r.Step,
		"counts": map[string]any{"messages": r.Counts.Messages, "statuses": r.Counts.Statuses, "consent_events": r.Counts.ConsentEvents,
			"other_items": r.Counts.Other, "rate_and_idempotency_records": r.Counts.RateRecords, "subject_key": r.KeyDeleted}}
	if !r.CompletedAt.IsZero() {
		out["completed_at"] = r.CompletedAt.Format(time.RFC3339)
	}
	if r.AuditEvent != "" {
		out["audit_event"] = r.AuditEvent
	}
	if len(r.Recipients) > 0 {
		recipients := make([]map[string]string, 0, len(r.Recipients))
		for _, rc := range r.Recipients {
			e := map[string]string{"destination": rc.Destination}
			for k, t := range map[string]time.Time{"notified_at": rc.NotifiedAt, "acknowledged_at": rc.AcknowledgedAt, "failed_at": rc.FailedAt} {
				if !t.IsZero() {
					e[k] = t.Format(time.RFC3339)
				}
			}
			recipients = append(recipients, e)
		}
		out["recipients"] = recipients
	}
	return out
}

// resumeBatch is how many pending requests one scheduled run takes.
const resumeBatch = 100

// reserve is the time an invocation keeps to write the step, the audit
// event and the answer.
const reserve = 3 * time.Second

// hasReserve reports whether an invocation with deadline dl (ok false: none)
// has more than [reserve] left at now.
func hasReserve(dl time.Time, ok bool, now time.Time) bool {
	return !ok || dl.Sub(now) > reserve
}

// resumeTally sums up a scheduled run: requests completed and failed, and
// the age of the oldest one still open, for the alarm on
// ErasurePendingOldestHours.
type resumeTally struct {
	done, failed int
	oldest       time.Duration
}

// add counts request r as processing left it at now, err its failure.
func (t *resumeTally) add(r store.ErasureRequest, err error, now time.Time) {
	switch {
	case err != nil:
		t.failed++
		if !r.RequestedAt.IsZero() {
			t.oldest = max(t.oldest, now.Sub(r.RequestedAt))
		}
	case completed(r):
		t.done++
	default:
		t.oldest = max(t.oldest, now.Sub(r.RequestedAt))
	}
}

// err is the run's error when a request failed: the schedule's error
// metric and retry see it; nil otherwise.
func (t resumeTally) err() error {
	if t.failed > 0 {
		return fmt.Errorf("%d erasure requests failed this run", t.failed)
	}
	return nil
}
