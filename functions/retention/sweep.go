package main

import (
	"context"
	"strconv"
	"time"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// Result is what one sweep did and what it left.
type Result struct {
	Deleted      map[retention.Class]int `json:"deleted"`
	Finished     bool                    `json:"finished"`
	OverdueHours float64                 `json:"overdue_hours"`
	Cursor       string                  `json:"cursor"`
	// OldestAgeHours is, per class, the age of the oldest surviving item
	// the probe after the sweep found (classes with nothing near expiry
	// are absent); ExcessHours is the most any class's oldest item has
	// outlived its policy (0 when none has).
	OldestAgeHours map[retention.Class]float64 `json:"oldest_age_hours"`
	ExcessHours    float64                     `json:"excess_hours"`
	// PolicyPending is set while a shortened retention period has not
	// reached every item yet; ExcessHours then shows it (see
	// [retention.PendingExcessHours]).
	PolicyPending bool `json:"policy_pending,omitempty"`
}

// probeDays is how many days of expiry buckets the oldest-item probe
// reads, from the first day the sweep has not emptied.
const probeDays = 3

// sweep deletes expired items bucket by bucket from the cursor's day to
// today, saving progress so a timed-out run resumes where it stopped, and
// then applies any shortened retention period to the items written under
// the longer one.
func (h *Handler) sweep(ctx context.Context) (Result, error) {
	now := h.now().UTC()
	res := Result{Deleted: map[retention.Class]int{}}
	day, finished, err := h.sweepExpired(ctx, now, res.Deleted)
	if err != nil {
		return res, err
	}
	pending, err := h.applyPolicyChanges(ctx, now, res.Deleted)
	if err != nil {
		return res, err
	}
	return h.finish(ctx, res, retention.Outcome{Now: now, StoppedAt: day, Finished: finished,
		Pending: pending.changes, PendingSince: pending.since})
}

// sweepExpired deletes the expired items of every bucket from the
// cursor's day through today. It returns the day it stopped at and
// whether it got through today.
func (h *Handler) sweepExpired(ctx context.Context, now time.Time, deleted map[retention.Class]int) (time.Time, bool, error) {
	cur, err := h.Store.SweepCursor(ctx, h.Cursor)
	if err != nil {
		return time.Time{}, false, err
	}
	today := now.Truncate(24 * time.Hour)
	for day := retention.StartDay(cur, now, h.Lookback); !day.After(today); day = day.Add(24 * time.Hour) {
		for shard := 0; shard < retention.Shards; shard++ {
			if done, err := h.sweepBucket(ctx, retention.BucketFor(day, shard), now, deleted); err != nil || !done {
				return day, false, err
			}
		}
		if day.Before(today) {
			if err := h.Store.SetSweepCursor(ctx, h.Cursor, day.Add(24*time.Hour).Format(time.DateOnly)); err != nil {
				return day, false, err
			}
		}
	}
	return today, true, nil
}

// sweepBucket deletes a bucket's expired items page by page; false when
// the run's time ended first.
func (h *Handler) sweepBucket(ctx context.Context, bucket string, now time.Time, deleted map[retention.Class]int) (bool, error) {
	var page store.PageKey
	for {
		if !h.timeLeft(ctx) {
			return false, nil
		}
		counts, next, err := h.Store.SweepBucket(ctx, bucket, now, page)
		for c, n := range counts {
			deleted[c] += n
		}
		if err != nil || next == "" {
			return err == nil, err
		}
		page = next
	}
}

// finish reports the run: metrics, the audit event and the result, with
// the lag [retention.Policy.Assess] measures from the probe of the
// buckets the sweep has not emptied.
func (h *Handler) finish(ctx context.Context, res Result, o retention.Outcome) (Result, error) {
	res.Finished, res.Cursor = o.Finished && len(o.Pending) == 0, o.StoppedAt.Format(time.DateOnly)
	var err error
	if o.Oldest, err = h.probe(ctx, o.StoppedAt); err != nil {
		return res, err
	}
	lag := h.Policy.Assess(o)
	res.OverdueHours, res.OldestAgeHours, res.ExcessHours = lag.OverdueHours, lag.OldestAgeHours, lag.ExcessHours
	res.PolicyPending = len(o.Pending) > 0
	h.record(res)
	_, err = h.Audit.Append(ctx, audit.Event{Type: audit.EventRetentionSweep, Actor: audit.Actor{Caller: "schedule"},
		Details: sweepDetails(res, o.Finished)})
	return res, err
}

// record sets the run's metrics.
func (h *Handler) record(res Result) {
	total := 0
	for _, c := range retention.Classes {
		total += res.Deleted[c]
	}
	h.Metrics.Add(metrics.RetentionDeleted, total)
	h.Metrics.Set(metrics.RetentionOverdueHours, res.OverdueHours, metrics.UnitNone)
	h.Metrics.Set(metrics.RetentionExcessHours, res.ExcessHours, metrics.UnitNone)
	for c, age := range res.OldestAgeHours {
		h.Metrics.Set(metrics.RetentionOldestAgeHours(string(c)), age, metrics.UnitNone)
	}
}

// sweepDetails are the audit event's details: whether the sweep got
// through today (finished, which a pending policy does not clear), what it
// deleted per class and the lag it left.
func sweepDetails(res Result, finished bool) map[string]string {
	details := map[string]string{"finished": strconv.FormatBool(finished), "cursor": res.Cursor}
	for _, c := range retention.Classes {
		details["deleted_"+string(c)] = strconv.Itoa(res.Deleted[c])
	}
	if res.PolicyPending {
		details["policy_pending"] = "true"
	}
	for c, age := range res.OldestAgeHours {
		details["oldest_hours_"+string(c)] = strconv.FormatFloat(age, 'f', 1, 64)
	}
	details["excess_hours"] = strconv.FormatFloat(res.ExcessHours, 'f', 1, 64)
	return details
}

// probe finds each class's earliest write time among the surviving items
// by reading the first page of every shard's bucket for probeDays days
// from day, the first day the sweep has not emptied: an item that
// outlived its policy can only be there or later, and the earliest
// expiries come first.
func (h *Handler) probe(ctx context.Context, day time.Time) (map[retention.Class]time.Time, error) {
	found := map[retention.Class]time.Time{}
	for d := 0; d < probeDays; d++ {
		for shard := 0; shard < retention.Shards; shard++ {
			got, err := h.Store.OldestInBucket(ctx, retention.BucketFor(day.Add(time.Duration(d)*24*time.Hour), shard))
			if err != nil {
				return nil, err
			}
			for c, w := range got {
				if o, ok := found[c]; !ok || w.Before(o) {
					found[c] = w
				}
			}
		}
	}
	return found, nil
}
