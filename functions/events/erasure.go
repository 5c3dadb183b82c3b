package main

import (
	"context"
	"slices"
	"time"

	"github.com/waguard/waguard/shared/endpoint"
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

// noticeDestinations are the destinations of subject.erased: the bus, and
// every endpoint the erasure request lists (each that received an event
// about the person, fixed when the erasure was proven), whatever types it
// subscribes to: Art. 19 obliges the notice. A listed endpoint that is not
// usable now is settled by [Handler.unusable] instead of attempted.
func (r *run) noticeDestinations(ctx context.Context, rec store.EventRecord) ([]string, map[string]endpoint.Endpoint, error) {
	req, err := r.h.Store.ErasureRequest(ctx, rec.Fields.ErasureRequestID)
	if err != nil {
		return nil, nil, err
	}
	set, err := r.h.Endpoints.Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	dests, eps := []string{busDestination}, map[string]endpoint.Endpoint{}
	for _, n := range req.Recipients {
		if n.Destination == store.BusRecipient {
			continue
		}
		if ep, ok := set.Get(n.Destination); ok {
			dests, eps[n.Destination] = append(dests, n.Destination), ep
			continue
		}
		if _, err := r.h.unusable(ctx, set, rec, store.Delivery{AuditID: rec.AuditID, Destination: n.Destination}); err != nil {
			return nil, nil, err
		}
	}
	return dests, eps, nil
}

// unusable settles delivery d to an endpoint the loaded set has no usable
// entry for, and returns its new state. An endpoint whose configuration
// could not be read stays pending for the retry run, its attempts
// unchanged; a removed endpoint's delivery ends as a dead letter, and for
// subject.erased the request records the recipient as failed, so the
// erasure completes and its alarm tells the DPO to notify that recipient
// another way.
func (h *Handler) unusable(ctx context.Context, set endpoint.Set, rec store.EventRecord, d store.Delivery) (string, error) {
	now := h.now()
	if slices.ContainsFunc(set.Problems, func(p endpoint.Problem) bool { return p.Name == d.Destination }) {
		d.State, d.NextAt, d.LastError = store.DeliveryPending, now.Add(retrySchedule[0]), "configuration unavailable"
		return d.State, h.Store.SaveDelivery(ctx, d)
	}
	d.State, d.LastError = store.DeliveryDead, "endpoint removed"
	h.Metrics.Add(metricDeadLetters, 1)
	if err := h.failed(ctx, rec, d.Destination, now); err != nil {
		return "", err
	}
	return d.State, h.Store.SaveDelivery(ctx, d)
}
