package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/summary"
)

// Handler runs the scheduled jobs. It is built once per cold start and
// holds no request data.
type Handler struct {
	Store    *store.Store
	Policy   retention.Policy
	Audit    *audit.Writer
	Digester *audit.Digester
	Metrics  *metrics.Recorder
	Log      *slog.Logger
	// Cursor names the sweep's progress record; Lookback is how far back a
	// first sweep starts (older expiries are left to DynamoDB's TTL).
	Cursor   string
	Lookback time.Duration
	Now      func() time.Time
	// MetricsOut receives the EMF lines (default os.Stdout).
	MetricsOut io.Writer
	// stopAfterBuckets, in tests only, ends a sweep after that many
	// buckets, as a timeout would.
	stopAfterBuckets int
}

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
}

// probeDays is how many days of expiry buckets the oldest-item probe
// reads, from the first day the sweep has not emptied.
const probeDays = 3

// Handle runs {"action":"sweep"} or {"action":"audit_digest"}.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev struct {
		Action string `json:"action"`
	}
	_ = json.Unmarshal(raw, &ev)
	var out any
	var err error
	attrs := []any{"action", ev.Action}
	switch ev.Action {
	case "sweep":
		out, err = h.sweep(ctx)
	case "audit_digest":
		var res DigestResult
		res, err = h.digest(ctx)
		out, attrs = res, append(attrs, "digest_status", res.Status, "digested", len(res.Digested), "late_days", strings.Join(res.Late, ","))
	default:
		err = errors.New("unknown action")
	}
	h.done(err, attrs...)
	return out, err
}

// sweep deletes expired items bucket by bucket from the cursor's day to
// today, saving progress so a timed-out run resumes where it stopped.
func (h *Handler) sweep(ctx context.Context) (Result, error) {
	now := h.now().UTC()
	res := Result{Deleted: map[retention.Class]int{}}
	if done, err := h.applyPolicyChanges(ctx, now, res.Deleted); err != nil || !done {
		if err != nil {
			return res, err
		}
		return h.finish(ctx, res, now.Truncate(24*time.Hour), now, false)
	}
	day, err := h.startDay(ctx, now)
	if err != nil {
		return res, err
	}
	today := now.Truncate(24 * time.Hour)
	buckets := 0
	for ; !day.After(today); day = day.Add(24 * time.Hour) {
		for shard := 0; shard < retention.Shards; shard++ {
			if !h.timeLeft(ctx) || (h.stopAfterBuckets > 0 && buckets >= h.stopAfterBuckets) {
				return h.finish(ctx, res, day, now, false)
			}
			if err := h.sweepBucket(ctx, retention.BucketFor(day, shard), now, res.Deleted); err != nil {
				return res, err
			}
			buckets++
		}
		if day.Before(today) {
			if err := h.Store.SetSweepCursor(ctx, h.Cursor, day.Add(24*time.Hour).Format(time.DateOnly)); err != nil {
				return res, err
			}
		}
	}
	return h.finish(ctx, res, today, now, true)
}

func (h *Handler) sweepBucket(ctx context.Context, bucket string, now time.Time, deleted map[retention.Class]int) error {
	for {
		counts, more, err := h.Store.SweepBucket(ctx, bucket, now)
		for c, n := range counts {
			deleted[c] += n
		}
		if err != nil || !more {
			return err
		}
	}
}

// applyPolicyChanges makes a shortened retention period reach items
// written under the longer one: for each class whose days went down since
// the last run, it walks the buckets the old expiries can be in and
// deletes or re-expires that class's items by their write time. The new
// policy is recorded only once every change is applied, so an interrupted
// run repeats it (each change is conditional and idempotent).
func (h *Handler) applyPolicyChanges(ctx context.Context, now time.Time, deleted map[retention.Class]int) (bool, error) {
	prev, err := h.Store.SweepPolicy(ctx, h.Cursor)
	if err != nil {
		return false, err
	}
	today := now.Truncate(24 * time.Hour)
	for _, c := range retention.Classes {
		days, _ := h.Policy.Days(c)
		if prev[c] <= days {
			continue
		}
		for d := 0; d <= prev[c]; d++ {
			for shard := 0; shard < retention.Shards; shard++ {
				if !h.timeLeft(ctx) {
					return false, nil
				}
				for more := true; more; {
					var n int
					if n, _, more, err = h.Store.ReexpireBucket(ctx, retention.BucketFor(today.Add(time.Duration(d)*24*time.Hour), shard), c, days, now); err != nil {
						return false, err
					}
					deleted[c] += n
				}
			}
		}
	}
	return true, h.Store.SetSweepPolicy(ctx, h.Cursor, h.Policy)
}

// startDay is the cursor's day, or the lookback for a first sweep.
func (h *Handler) startDay(ctx context.Context, now time.Time) (time.Time, error) {
	cur, err := h.Store.SweepCursor(ctx, h.Cursor)
	if err != nil {
		return time.Time{}, err
	}
	start := now.Add(-h.Lookback).Truncate(24 * time.Hour)
	if d, err := time.Parse(time.DateOnly, cur); err == nil && d.After(start) {
		start = d
	}
	return start, nil
}

// finish reports the run: metrics, the audit event and the result. The
// overdue time is how far behind the sweep is: items that expired before
// the day it stopped at are all gone, so nothing survives its policy by
// more than that.
func (h *Handler) finish(ctx context.Context, res Result, day, now time.Time, finished bool) (Result, error) {
	res.Finished, res.Cursor = finished, day.Format(time.DateOnly)
	if !finished {
		res.OverdueHours = now.Sub(day).Hours()
	}
	total := 0
	details := map[string]string{"finished": strconv.FormatBool(finished), "cursor": res.Cursor}
	for _, c := range retention.Classes {
		details["deleted_"+string(c)] = strconv.Itoa(res.Deleted[c])
		total += res.Deleted[c]
	}
	if err := h.oldest(ctx, &res, day, now); err != nil {
		return res, err
	}
	if !finished { // what lies beyond the probe may have outlived it by this much
		res.ExcessHours = max(res.ExcessHours, res.OverdueHours)
	}
	for c, age := range res.OldestAgeHours {
		details["oldest_hours_"+string(c)] = strconv.FormatFloat(age, 'f', 1, 64)
	}
	details["excess_hours"] = strconv.FormatFloat(res.ExcessHours, 'f', 1, 64)
	h.Metrics.Add(metrics.RetentionDeleted, total)
	h.Metrics.Set(metrics.RetentionOverdueHours, res.OverdueHours, metrics.UnitNone)
	h.Metrics.Set(metrics.RetentionExcessHours, res.ExcessHours, metrics.UnitNone)
	for c, age := range res.OldestAgeHours {
		h.Metrics.Set(metrics.RetentionOldestAgeHours(string(c)), age, metrics.UnitNone)
	}
	_, err := h.Audit.Append(ctx, audit.Event{Type: audit.EventRetentionSweep, Actor: audit.Actor{Caller: "schedule"}, Details: details})
	return res, err
}

// oldest measures each class's oldest surviving item by reading the
// first page of every shard's bucket for probeDays days from day, the
// first day the sweep has not emptied: an item that outlived its policy
// can only be there or later, and the earliest expiries come first.
func (h *Handler) oldest(ctx context.Context, res *Result, day, now time.Time) error {
	found := map[retention.Class]time.Time{}
	for d := 0; d < probeDays; d++ {
		for shard := 0; shard < retention.Shards; shard++ {
			got, err := h.Store.OldestInBucket(ctx, retention.BucketFor(day.Add(time.Duration(d)*24*time.Hour), shard))
			if err != nil {
				return err
			}
			for c, w := range got {
				if o, ok := found[c]; !ok || w.Before(o) {
					found[c] = w
				}
			}
		}
	}
	res.OldestAgeHours = map[retention.Class]float64{}
	for c, w := range found {
		age := now.Sub(w).Hours()
		res.OldestAgeHours[c] = age
		days, _ := h.Policy.Days(c)
		res.ExcessHours = max(res.ExcessHours, age-float64(days*24))
	}
	return nil
}

// DigestResult is what one audit digest run did.
type DigestResult struct {
	// Day is the day the run digests: yesterday, UTC.
	Day string `json:"day"`
	// Status is "created", or "exists" if Day already had a digest.
	Status string `json:"status"`
	// Digested lists the days digested, oldest first: any missed since
	// the previous digest, then Day.
	Digested []string `json:"digested"`
	// Late lists the digests made after their day's grace period (missed
	// days): the verifier reports them and the audit digest alarm fires.
	Late []string `json:"late"`
}

// digest signs yesterday's audit digest, and first any day missed since
// the previous one, which the digester marks late. Every run reports
// AuditDigestsLate and AuditDigestFailures, so the alarm also sees a run
// that did not happen.
func (h *Handler) digest(ctx context.Context) (DigestResult, error) {
	res := DigestResult{Day: h.now().UTC().Add(-24 * time.Hour).Format(time.DateOnly), Status: "created",
		Digested: []string{}, Late: []string{}} // [] in the JSON, never null
	made, err := h.createDigests(ctx, res.Day)
	for _, d := range made {
		res.Digested = append(res.Digested, d.Day)
		if d.Late {
			res.Late = append(res.Late, d.Day)
		}
	}
	if errors.Is(err, audit.ErrDigestExists) {
		res.Status, err = "exists", nil
	}
	h.Metrics.Add(metrics.AuditDigestsLate, len(res.Late))
	if err != nil {
		h.Metrics.Add(metrics.AuditDigestFailures, 1)
		return res, fmt.Errorf("audit digest: %w", err)
	}
	h.Metrics.Add(metrics.AuditDigestFailures, 0)
	return res, nil
}

// createDigests runs the digester with a reserve before the invocation's
// deadline, so that a run that fails still reports AuditDigestFailures.
func (h *Handler) createDigests(ctx context.Context, day string) ([]*audit.Digest, error) {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-5*time.Second))
		defer cancel()
	}
	return h.Digester.Create(ctx, day)
}

func (h *Handler) done(err error, attrs ...any) {
	summary.Done(h.Log, h.Metrics, h.MetricsOut, err, attrs...)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) timeLeft(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return (!ok || time.Until(dl) > 5*time.Second) && ctx.Err() == nil
}
