package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/store"
)

// The processing steps, in order. Each is safe to repeat, so a crash or a
// timeout at any point leaves a request the next run finishes.
const (
	stepConfirmed  = "confirmed"   // final confirmation attempted (if configured): never sent twice
	stepSuppressed = "suppressed"  // erased# written: nothing new is stored or sent
	stepDeleted    = "deleted"     // every partition item deleted (counts exact)
	stepKeyDeleted = "key_deleted" // subject key gone: every other copy is shredded
	stepNotified   = "notified"    // data_deletion audited; subject.erased recorded for every recipient
	stepCompleted  = "completed"   // every endpoint recipient settled; request closed
)

// process runs (or resumes) erasure request id as far as the deadline
// allows and returns its state. The order is the guarantee: the
// suppression comes first, so a message arriving meanwhile is refused
// atomically by the store; the subject key goes last, after the items. A
// resume starts after the last step recorded ([stepDone]): a request
// proven and waiting for its endpoints only looks again whether they
// settled.
func (h *Handler) process(ctx context.Context, id string) (store.ErasureRequest, error) {
	r, err := h.Store.ErasureRequest(ctx, id)
	if err != nil || completed(r) {
		return r, err
	}
	for _, step := range []struct {
		name string
		run  func(context.Context, *store.ErasureRequest) (bool, error)
	}{{stepConfirmed, h.confirm}, {stepSuppressed, h.suppress}, {stepDeleted, h.deleteItems}, {stepKeyDeleted, h.deleteKey},
		{stepNotified, h.prove}, {stepCompleted, h.complete}} {
		if stepDone(r.Step, step.name) {
			continue
		}
		finished, err := step.run(ctx, &r)
		if err != nil || !finished {
			return r, err
		}
	}
	h.Metrics.Add(metrics.Erasures, 1)
	return h.Store.ErasureRequest(ctx, id)
}

// suppress fixes the erasure's scope (every partition and identifier of
// the person) and writes the erasure suppression for each, so that no
// identifier of theirs can store or send anything again, then drops the
// identifiers' aliases.
func (h *Handler) suppress(ctx context.Context, r *store.ErasureRequest) (bool, error) {
	scope, err := h.Store.ScopeErasure(ctx, *r)
	if err != nil {
		return false, err
	}
	r.Scope = &scope
	for _, k := range suppressionKeys(scope) {
		if err := h.Store.MarkErased(ctx, k, r.ID, h.now()); err != nil {
			return false, err
		}
	}
	if err := h.Store.DropAliases(ctx, scope.Identifiers); err != nil {
		return false, err
	}
	return true, h.Store.SetErasureStep(ctx, r.ID, stepSuppressed, h.now())
}

// deleteItems pages through every partition while time is left; a large
// subject continues in the next invocation.
func (h *Handler) deleteItems(ctx context.Context, r *store.ErasureRequest) (bool, error) {
	for _, part := range partitions(r) {
		for {
			if !h.timeLeft(ctx) {
				return false, nil
			}
			_, more, err := h.Store.ErasePage(ctx, r.ID, part)
			if err != nil {
				return false, err
			}
			if !more {
				break
			}
		}
		if _, err := h.Store.EraseRecords(ctx, r.ID, rateRecords(part)); err != nil {
			return false, err
		}
		if err := h.Store.EraseEventRecords(ctx, part); err != nil {
			return false, err
		}
	}
	return true, h.Store.SetErasureStep(ctx, r.ID, stepDeleted, h.now())
}

func (h *Handler) deleteKey(ctx context.Context, r *store.ErasureRequest) (bool, error) {
	for _, part := range partitions(r) {
		if err := h.Envelope.DeleteSubjectKey(ctx, part); err != nil {
			return false, fmt.Errorf("delete subject key: %w", err)
		}
	}
	if err := h.Store.MarkKeyDeleted(ctx, r.ID); err != nil {
		return false, err
	}
	return true, h.Store.SetErasureStep(ctx, r.ID, stepKeyDeleted, h.now())
}

// prove writes the data_deletion audit event with the exact counts and
// the recipients, and in the same transaction the subject.erased event
// for them (GDPR Art. 19): the event bus, and every endpoint that
// received an event about the person.
func (h *Handler) prove(ctx context.Context, r *store.ErasureRequest) (bool, error) {
	if r.Step == stepNotified {
		return true, nil
	}
	cur, err := h.Store.ErasureRequest(ctx, r.ID)
	if err != nil {
		return false, err
	}
	var names [][]string
	for _, part := range partitions(r) {
		n, err := h.Store.Recipients(ctx, part)
		if err != nil {
			return false, err
		}
		names = append(names, n)
	}
	recipients := erasureRecipients(names...)
	err = h.Store.ProveErasure(ctx, *r, recipients, h.now(), store.Unit{
		Audit: []audit.Event{deletionEvent(*r, cur.Counts, recipients)},
		Events: []store.EventRecord{{Type: events.TypeSubjectErased, At: h.now(),
			Fields: events.Data{ErasureRequestID: r.ID, ContactID: events.ContactID(h.ContactKey, r.Subject)}}},
	})
	if errors.Is(err, store.ErrDuplicate) {
		return true, nil // completed by another run
	}
	if err == nil {
		r.Step = stepNotified
	}
	return err == nil, err
}

// complete closes the request once every endpoint that received events
// about the person acknowledged subject.erased or ran out of retries (the
// events function records both; the 15-minute resume looks again). The bus gets the event through the same outbox but is not
// waited for (store.ErasureRequest.NoticesSettled).
func (h *Handler) complete(ctx context.Context, r *store.ErasureRequest) (bool, error) {
	return h.Store.FinishErasure(ctx, r.ID, h.now())
}
