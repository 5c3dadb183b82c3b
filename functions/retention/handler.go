package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
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
	// stopAfterBuckets, in tests only, ends a run after that many buckets
	// (swept or re-expired), as a timeout would.
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
	// PolicyPending is set while a shortened retention period has not
	// reached every item yet; ExcessHours then shows it (see
	// pendingPolicy.excessHours).
	PolicyPending bool `json:"policy_pending,omitempty"`
}

// excessHours is how much an item may outlive the shortened policy while
// it is pending: up to the days the period went down by, or, if longer,
// the time the change has been pending, so a change that cannot finish
// raises the breach alarm (above 48 h) within two days.
func (p *pendingPolicy) excessHours(now time.Time) float64 {
	h := now.Sub(p.since).Hours()
	for _, c := range p.changes {
		h = max(h, float64((c.From-c.To)*24))
	}
	return h
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
	h.done(ctx, err, attrs...)
	return out, err
}

// sweep deletes expired items bucket by bucket from the cursor's day to
// today, saving progress so a timed-out run resumes where it stopped, and
// then applies any shortened retention period to the items written under
// the longer one.
func (h *Handler) sweep(ctx context.Context) (Result, error) {
	now := h.now().UTC()
	res := Result{Deleted: map[retention.Class]int{}}
	run := &runBudget{h: h}
	day, finished, err := h.sweepExpired(ctx, run, now, res.Deleted)
	if err != nil {
		return res, err
	}
	pending, err := h.applyPolicyChanges(ctx, run, now, res.Deleted)
	if err != nil {
		return res, err
	}
	return h.finish(ctx, res, day, now, finished, pending)
}

// runBudget says whether a run may start another page: the invocation's
// deadline less a reserve to record the outcome, and in tests a number of
// buckets.
type runBudget struct {
	h       *Handler
	buckets int
}

func (b *runBudget) more(ctx context.Context) bool {
	return b.h.timeLeft(ctx) && (b.h.stopAfterBuckets == 0 || b.buckets < b.h.stopAfterBuckets)
}

// sweepExpired deletes the expired items of every bucket from the
// cursor's day through today. It returns the day it stopped at and
// whether it got through today.
func (h *Handler) sweepExpired(ctx context.Context, run *runBudget, now time.Time, deleted map[retention.Class]int) (time.Time, bool, error) {
	day, err := h.startDay(ctx, now)
	if err != nil {
		return day, false, err
	}
	today := now.Truncate(24 * time.Hour)
	for ; !day.After(today); day = day.Add(24 * time.Hour) {
		for shard := 0; shard < retention.Shards; shard++ {
			if done, err := h.sweepBucket(ctx, run, retention.BucketFor(day, shard), now, deleted); err != nil || !done {
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
// the run's budget ended first.
func (h *Handler) sweepBucket(ctx context.Context, run *runBudget, bucket string, now time.Time, deleted map[retention.Class]int) (bool, error) {
	var page store.PageKey
	for {
		if !run.more(ctx) {
			return false, nil
		}
		counts, next, err := h.Store.SweepBucket(ctx, bucket, now, page)
		for c, n := range counts {
			deleted[c] += n
		}
		if err != nil || next == "" {
			run.buckets++
			return err == nil, err
		}
		page = next
	}
}

// pendingPolicy is a shortened policy not yet applied to every item.
type pendingPolicy struct {
	changes []retention.Change
	since   time.Time
}

// applyPolicyChanges makes a shortened retention period reach items
// written under the longer one: for each class whose days went down since
// the policy was last recorded, it walks the buckets the old expiries can
// be in, page by page, and deletes or re-expires that class's items by
// their write time ([retention.Reexpire]). Progress is saved at each day
// and when the run's budget ends, so the next run goes on from there; the
// new policy is recorded only once every change is applied. It returns
// what is still pending (nil when done).
func (h *Handler) applyPolicyChanges(ctx context.Context, run *runBudget, now time.Time, deleted map[retention.Class]int) (*pendingPolicy, error) {
	applied, err := h.Store.SweepPolicy(ctx, h.Cursor)
	if err != nil {
		return nil, err
	}
	changes := retention.Shortened(applied, h.Policy)
	if len(changes) == 0 {
		if samePolicy(applied, h.Policy) {
			return nil, nil
		}
		return nil, h.Store.SetSweepPolicy(ctx, h.Cursor, h.Policy)
	}
	prog, err := h.Store.PolicyProgress(ctx, h.Cursor)
	if err != nil {
		return nil, err
	}
	today := now.Truncate(24 * time.Hour)
	if target := policyTarget(h.Policy); prog.Target != target {
		prog = store.PolicyProgress{Target: target, Class: changes[0].Class, Day: today.Format(time.DateOnly), StartedAt: now}
		if err := h.Store.SetPolicyProgress(ctx, h.Cursor, prog); err != nil {
			return nil, err
		}
	}
	w := policyWalk{h: h, run: run, prog: prog, today: today, now: now, deleted: deleted}
	for i, c := range changes {
		if done, err := w.change(ctx, c); err != nil || !done {
			return &pendingPolicy{changes: changes[i:], since: prog.StartedAt}, err
		}
	}
	return nil, h.Store.SetSweepPolicy(ctx, h.Cursor, h.Policy)
}

// policyWalk walks the expiry buckets of the changes of one target
// policy from its saved progress.
type policyWalk struct {
	h          *Handler
	run        *runBudget
	prog       store.PolicyProgress
	today, now time.Time
	deleted    map[retention.Class]int
}

// change re-expires one class's items in every bucket its old expiries
// can be in: from the day the change began (or today, since earlier
// buckets hold only items the sweep deletes) through that day plus the
// old period. False when the run's budget ended first.
func (w *policyWalk) change(ctx context.Context, c retention.Change) (bool, error) {
	started := w.prog.StartedAt.Truncate(24 * time.Hour)
	last := started.Add(time.Duration(c.From) * 24 * time.Hour)
	if classBefore(c.Class, w.prog.Class) {
		return true, nil // done in an earlier run
	}
	day, shard, page := started, 0, store.PageKey("")
	if day.Before(w.today) {
		day = w.today
	}
	if c.Class == w.prog.Class {
		if d, err := time.Parse(time.DateOnly, w.prog.Day); err == nil && !d.Before(w.today) {
			day, shard, page = d, w.prog.Shard, w.prog.Page
		}
	}
	for ; !day.After(last); day, shard, page = day.Add(24*time.Hour), 0, "" {
		for ; shard < retention.Shards; shard, page = shard+1, "" {
			for {
				if !w.run.more(ctx) {
					return false, w.save(ctx, c.Class, day, shard, page)
				}
				r, next, err := w.h.Store.ReexpireBucket(ctx, retention.BucketFor(day, shard), c.Class, c.To, w.now, page)
				if err != nil {
					return false, err
				}
				w.deleted[c.Class] += r.Deleted
				if page = next; page == "" {
					w.run.buckets++
					break
				}
			}
		}
		if err := w.save(ctx, c.Class, day.Add(24*time.Hour), 0, ""); err != nil {
			return false, err
		}
	}
	return true, nil
}

func (w *policyWalk) save(ctx context.Context, c retention.Class, day time.Time, shard int, page store.PageKey) error {
	w.prog.Class, w.prog.Day, w.prog.Shard, w.prog.Page = c, day.Format(time.DateOnly), shard, page
	return w.h.Store.SetPolicyProgress(ctx, w.h.Cursor, w.prog)
}

// classBefore reports whether a comes before b in [retention.Classes].
func classBefore(a, b retention.Class) bool {
	return slices.Index(retention.Classes, a) < slices.Index(retention.Classes, b)
}

// policyTarget names a policy by its days per class.
func policyTarget(p retention.Policy) string {
	var b strings.Builder
	for _, c := range retention.Classes {
		d, _ := p.Days(c)
		fmt.Fprintf(&b, "%s=%d;", c, d)
	}
	return b.String()
}

// samePolicy reports whether applied records exactly p.
func samePolicy(applied map[retention.Class]int, p retention.Policy) bool {
	for _, c := range retention.Classes {
		if d, _ := p.Days(c); applied[c] != d {
			return false
		}
	}
	return true
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
func (h *Handler) finish(ctx context.Context, res Result, day, now time.Time, finished bool, pending *pendingPolicy) (Result, error) {
	res.Finished, res.Cursor = finished && pending == nil, day.Format(time.DateOnly)
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
	if pending != nil {
		res.PolicyPending = true
		res.ExcessHours = max(res.ExcessHours, pending.excessHours(now))
		details["policy_pending"] = "true"
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

func (h *Handler) done(ctx context.Context, err error, attrs ...any) {
	summary.Done(ctx, h.Log, h.Metrics, h.MetricsOut, err, attrs...)
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
