package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/waguard/waguard/shared/endpoint"
	"github.com/waguard/waguard/shared/store"
)

// RetryResult is what one retry run did.
type RetryResult struct {
	// Attempted counts deliveries tried; Delivered and Dead their outcomes.
	Attempted, Delivered, Dead int
	// Through is the last minute whose due deliveries are all done.
	Through time.Time `json:"through"`
}

// retryLookback is how far back a first run looks for due deliveries.
const retryLookback = 30 * time.Minute

// retry attempts every delivery due up to now, minute by minute from the
// first minute not yet done, and records where it got, so a run that hits
// its deadline, or a missed run, is caught up by the next. The current
// minute is never recorded as done: deliveries due later in it are the
// next run's.
func (h *Handler) retry(ctx context.Context) (RetryResult, error) {
	now := h.now().UTC()
	from, err := h.Store.RetryCursor(ctx, h.Config.retryCursor(), now.Add(-retryLookback))
	if err != nil {
		return RetryResult{}, err
	}
	var res RetryResult
	r := h.newRun()
	minute := from.Truncate(time.Minute)
	for ; !minute.After(now); minute = minute.Add(time.Minute) {
		done, err := h.retryMinute(ctx, r, minute, now, &res)
		if err != nil || !done {
			return res, err
		}
		next := minute.Add(time.Minute)
		if next.After(now) {
			return res, nil // the minute is not over: read it again next time
		}
		res.Through = minute
		if err := h.Store.SetRetryCursor(ctx, h.Config.retryCursor(), next); err != nil {
			return res, err
		}
	}
	return res, nil
}

// retryMinute attempts the deliveries filed as due in one minute, a page
// at a time, up to 16 at once; false when the run's time ran out.
func (h *Handler) retryMinute(ctx context.Context, r *run, minute, now time.Time, res *RetryResult) (bool, error) {
	var page store.PageKey
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < h.Config.attemptTimeout()+5*time.Second {
			return false, nil
		}
		due, next, err := h.Store.DueDeliveries(ctx, minute, page)
		if err != nil {
			return false, err
		}
		var mu sync.Mutex
		var errs []error
		sem := make(chan struct{}, 16)
		var wg sync.WaitGroup
		for _, d := range due {
			if d.State != store.DeliveryPending || d.NextAt.After(now) {
				continue // settled or re-filed meanwhile
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				outcome, err := h.retryOne(ctx, r, d)
				mu.Lock()
				defer mu.Unlock()
				res.Attempted++
				switch outcome {
				case store.DeliveryDelivered:
					res.Delivered++
				case store.DeliveryDead:
					res.Dead++
				}
				if err != nil {
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return false, err
		}
		if next == "" {
			return true, nil
		}
		page = next
	}
}

// retryOne attempts one due delivery again and returns its new state.
func (h *Handler) retryOne(ctx context.Context, r *run, d store.Delivery) (string, error) {
	rec, err := h.Store.Event(ctx, d.AuditID)
	if errors.Is(err, store.ErrNotFound) {
		// Its person's erasure deleted the record, or it expired: nothing
		// is left to deliver, and a dead letter would ask an operator to
		// redrive what must never be sent.
		d.State, d.LastError = store.DeliveryDropped, "event record gone"
		r.h.Metrics.Add(metricDropped, 1)
		return d.State, h.Store.SaveDelivery(ctx, d)
	}
	if err != nil {
		return "", err
	}
	ev, err := h.build(rec)
	if err != nil {
		return "", err
	}
	set, err := h.Endpoints.Load(ctx)
	if err != nil {
		return "", err
	}
	var ep endpoint.Endpoint
	if d.Destination != busDestination {
		var found bool
		if ep, found = set.Get(d.Destination); !found {
			return h.unusable(ctx, set, rec, d)
		}
	}
	if err := r.settle(ctx, rec, ev, d.Destination, ep, d.Attempts, true); err != nil {
		return "", err
	}
	cur, err := h.Store.GetDelivery(ctx, d.AuditID, d.Destination)
	if err != nil {
		return store.DeliveryDelivered, nil //nolint:nilerr // a success on the first retry may leave no state to read
	}
	return cur.State, nil
}
