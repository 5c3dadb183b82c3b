package main

import (
	"context"
	"slices"
	"time"

	"github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/store"
)

// acknowledged records a destination's 2xx: for an event about a person
// it becomes one of their recipients (told of an erasure later, GDPR Art.
// 19); for subject.erased the erasure request notes the acknowledgement.
func (h *Handler) acknowledged(ctx context.Context, rec store.EventRecord, dest string, at time.Time) error {
	if rec.Type == events.TypeSubjectErased {
		return h.noticeSettled(ctx, rec, dest, store.RecipientAcknowledged, at)
	}
	return h.Store.RecordRecipient(ctx, rec.Subject, dest, at)
}

// failed records that a destination ran out of retries; for
// subject.erased the erasure request notes the failure (and the erasure
// alarm sees it).
func (h *Handler) failed(ctx context.Context, rec store.EventRecord, dest string, at time.Time) error {
	if rec.Type != events.TypeSubjectErased {
		return nil
	}
	return h.noticeSettled(ctx, rec, dest, store.RecipientFailed, at)
}

// noticeSettled records a recipient's outcome on the erasure request;
// the erase function closes the request once every endpoint settled (its
// resume runs every 15 minutes), so this role deletes nothing.
func (h *Handler) noticeSettled(ctx context.Context, rec store.EventRecord, dest, outcome string, at time.Time) error {
	return h.Store.SetErasureRecipient(ctx, rec.Fields.ErasureRequestID, dest, outcome, at)
}

// erasureRecipients are the destinations of subject.erased: the bus, and
// the endpoints the erasure request lists (every endpoint that received an
// event about the person, fixed when the erasure was proven), among those
// configured now.
func (h *Handler) erasureRecipients(ctx context.Context, rec store.EventRecord, configured []string) ([]string, error) {
	r, err := h.Store.ErasureRequest(ctx, rec.Fields.ErasureRequestID)
	if err != nil {
		return nil, err
	}
	out := []string{busDestination}
	for _, n := range r.Recipients {
		if n.Destination != store.BusRecipient && slices.Contains(configured, n.Destination) {
			out = append(out, n.Destination)
		}
	}
	return out, nil
}
