package main

import (
	"context"
	"time"

	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// pendingPolicy is a shortened policy not yet applied to every item (the
// zero value: none).
type pendingPolicy struct {
	changes []retention.Change
	since   time.Time
}

// applyPolicyChanges makes a shortened retention period reach items
// written under the longer one: for each class whose days went down since
// the policy was last recorded ([retention.PlanPolicy]), it walks the
// buckets the old expiries can be in ([retention.PlanWalk]), page by
// page, and deletes or re-expires that class's items by their write time
// ([retention.Reexpire]). Progress is saved at each day and when the
// run's time ends, so the next run goes on from there; the new policy is
// recorded only once every change is applied. It returns what is still
// pending.
func (h *Handler) applyPolicyChanges(ctx context.Context, now time.Time, deleted map[retention.Class]int) (pendingPolicy, error) {
	applied, err := h.Store.SweepPolicy(ctx, h.Cursor)
	if err != nil {
		return pendingPolicy{}, err
	}
	switch step, changes := retention.PlanPolicy(applied, h.Policy); step {
	case retention.PolicyStepApply:
		return h.applyChanges(ctx, changes, now, deleted)
	case retention.PolicyStepRecord:
		return pendingPolicy{}, h.Store.SetSweepPolicy(ctx, h.Cursor, h.Policy)
	}
	return pendingPolicy{}, nil
}

// applyChanges walks the changes from the saved progress towards the
// policy in force (starting afresh when the progress is towards another),
// and records the policy when every change is applied.
func (h *Handler) applyChanges(ctx context.Context, changes []retention.Change, now time.Time, deleted map[retention.Class]int) (pendingPolicy, error) {
	prog, err := h.Store.PolicyProgress(ctx, h.Cursor)
	if err != nil {
		return pendingPolicy{}, err
	}
	today := now.Truncate(24 * time.Hour)
	if target := h.Policy.Target(); prog.Target != target {
		prog = store.PolicyProgress{Target: target, Class: changes[0].Class, Day: today.Format(time.DateOnly), StartedAt: now}
		if err := h.Store.SetPolicyProgress(ctx, h.Cursor, prog); err != nil {
			return pendingPolicy{}, err
		}
	}
	w := policyWalk{h: h, prog: prog, today: today, now: now, deleted: deleted}
	for i, c := range changes {
		if done, err := w.change(ctx, c); err != nil || !done {
			return pendingPolicy{changes: changes[i:], since: prog.StartedAt}, err
		}
	}
	return pendingPolicy{}, h.Store.SetSweepPolicy(ctx, h.Cursor, h.Policy)
}

// policyWalk walks the expiry buckets of the changes of one target
// policy from its saved progress.
type policyWalk struct {
	h          *Handler
	prog       store.PolicyProgress
	today, now time.Time
	deleted    map[retention.Class]int
}

// change re-expires one class's items in every bucket of its
// [retention.Walk]. False when the run's time ended first.
func (w *policyWalk) change(ctx context.Context, c retention.Change) (bool, error) {
	plan := retention.PlanWalk(c, retention.Position{Class: w.prog.Class, Day: w.prog.Day, Shard: w.prog.Shard}, w.prog.StartedAt, w.today)
	if plan.Done {
		return true, nil // done in an earlier run
	}
	day, shard, page := plan.From, plan.Shard, store.PageKey("")
	if plan.Resume {
		page = w.prog.Page
	}
	for ; !day.After(plan.Last); day, shard, page = day.Add(24*time.Hour), 0, "" {
		for ; shard < retention.Shards; shard, page = shard+1, "" {
			if done, err := w.bucket(ctx, c, day, shard, page); err != nil || !done {
				return false, err
			}
		}
		if err := w.save(ctx, c.Class, day.Add(24*time.Hour), 0, ""); err != nil {
			return false, err
		}
	}
	return true, nil
}

// bucket re-expires the class's items in one bucket from page. False,
// with the progress saved, when the run's time ended first.
func (w *policyWalk) bucket(ctx context.Context, c retention.Change, day time.Time, shard int, page store.PageKey) (bool, error) {
	for {
		if !w.h.timeLeft(ctx) {
			return false, w.save(ctx, c.Class, day, shard, page)
		}
		r, next, err := w.h.Store.ReexpireBucket(ctx, retention.BucketFor(day, shard), c.Class, c.To, w.now, page)
		if err != nil {
			return false, err
		}
		w.deleted[c.Class] += r.Deleted
		if page = next; page == "" {
			return true, nil
		}
	}
}

func (w *policyWalk) save(ctx context.Context, c retention.Class, day time.Time, shard int, page store.PageKey) error {
	w.prog.Class, w.prog.Day, w.prog.Shard, w.prog.Page = c, day.Format(time.DateOnly), shard, page
	return w.h.Store.SetPolicyProgress(ctx, w.h.Cursor, w.prog)
}
