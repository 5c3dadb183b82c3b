package retention

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds the retention sweep's rules: where a sweep starts, what
// it does about a changed policy, which expiry buckets a shortened period
// must walk, and how far behind its policy a run leaves the data. The
// retention function only reads and writes; these decide.

// StartDay is the first expiry day a sweep at now walks: the day its
// cursor names (YYYY-MM-DD, as the previous run saved it), or the day
// lookback before now for a first sweep, a malformed cursor or one older
// than that. Older expiries are left to DynamoDB's TTL.
func StartDay(cursor string, now time.Time, lookback time.Duration) time.Time {
	start := now.Add(-lookback).Truncate(24 * time.Hour)
	if d, err := time.Parse(time.DateOnly, cursor); err == nil && d.After(start) {
		return d
	}
	return start
}

// Target names p by its days per class. The sweep saves its progress in
// applying a policy under this name; progress towards another target does
// not count.
func (p Policy) Target() string {
	var b strings.Builder
	for _, c := range Classes {
		d, _ := p.Days(c)
		fmt.Fprintf(&b, "%s=%d;", c, d)
	}
	return b.String()
}

// Matches reports whether applied, the days per class the sweep last
// recorded, is exactly p.
func (p Policy) Matches(applied map[Class]int) bool {
	for _, c := range Classes {
		if d, _ := p.Days(c); applied[c] != d {
			return false
		}
	}
	return true
}

// PolicyStep is what a sweep does about the policy in force, given the
// one it last recorded. The zero value is invalid.
type PolicyStep int

// The policy steps.
const (
	PolicyStepUnknown PolicyStep = iota
	// PolicyStepNone: the recorded policy is the one in force.
	PolicyStepNone
	// PolicyStepRecord: no period went down (a first run, or only longer
	// periods, which ask nothing of existing items): record the policy.
	PolicyStepRecord
	// PolicyStepApply: periods went down; re-expire the items written
	// under the longer ones ([Shortened]), and record the policy only
	// once every change is applied.
	PolicyStepApply
)

// PlanPolicy decides the [PolicyStep] for applied, the days per class the
// sweep last recorded, and the policy p in force; for
// [PolicyStepApply] it returns the changes, in [Classes] order.
func PlanPolicy(applied map[Class]int, p Policy) (PolicyStep, []Change) {
	if changes := Shortened(applied, p); len(changes) > 0 {
		return PolicyStepApply, changes
	}
	if p.Matches(applied) {
		return PolicyStepNone, nil
	}
	return PolicyStepRecord, nil
}

// Position locates the next page of a policy walk that stopped: the class
// being re-expired and its bucket's expiry day (YYYY-MM-DD) and shard.
type Position struct {
	Class Class
	Day   string
	Shard int
}

// Walk is the stretch of the expiry index one [Change] re-expires.
type Walk struct {
	// Done is set when an earlier run finished the change: the saved
	// position is at a later class.
	Done bool
	// From and Shard locate the first bucket. Resume is set when they
	// are the saved position, whose page the walk goes on from.
	From   time.Time
	Shard  int
	Resume bool
	// Last is the last expiry day the class's old expiries can fall on.
	Last time.Time
}

// PlanWalk plans the walk of c, part of a target policy whose application
// began at started, on the UTC day today, from the saved position. The
// old expiries can be in the buckets from the day the change began
// through that day plus the old period; buckets before today hold only
// items the sweep deletes, so the walk starts no earlier than today. It
// resumes at the saved position when that is at c's class and not before
// today.
func PlanWalk(c Change, saved Position, started, today time.Time) Walk {
	begun := started.Truncate(24 * time.Hour)
	w := Walk{From: begun, Last: begun.Add(time.Duration(c.From) * 24 * time.Hour)}
	if w.From.Before(today) {
		w.From = today
	}
	if slices.Index(Classes, c.Class) < slices.Index(Classes, saved.Class) {
		w.Done = true
		return w
	}
	if c.Class == saved.Class {
		if d, err := time.Parse(time.DateOnly, saved.Day); err == nil && !d.Before(today) {
			w.From, w.Shard, w.Resume = d, saved.Shard, true
		}
	}
	return w
}

// Outcome is what one sweep run saw, for [Policy.Assess].
type Outcome struct {
	// Now is when the run started. StoppedAt is the first expiry day it
	// has not emptied (today when Finished).
	Now, StoppedAt time.Time
	// Finished is set when the run got through today's buckets.
	Finished bool
	// Oldest is, per class, the earliest write time among the items the
	// probe after the sweep found.
	Oldest map[Class]time.Time
	// Pending lists the shortened periods not yet applied to every item
	// (none when empty); PendingSince is when applying them began.
	Pending      []Change
	PendingSince time.Time
}

// Lag is how far a sweep run leaves the data behind its policy.
type Lag struct {
	// OverdueHours is how far behind an unfinished run is: items that
	// expired before the day it stopped at are all gone, so nothing
	// outlives its policy by more than that beyond the probe (0 when the
	// run finished).
	OverdueHours float64
	// OldestAgeHours is, per class, the age of the oldest surviving item
	// the probe found (classes with nothing near expiry are absent).
	OldestAgeHours map[Class]float64
	// ExcessHours is the most any item may have outlived its policy (0
	// when none has): what the oldest items have, the overdue time, and,
	// while a shortened period is pending, [PendingExcessHours]. The
	// retention breach alarm watches it.
	ExcessHours float64
}

// Assess measures the [Lag] of a run under p.
func (p Policy) Assess(o Outcome) Lag {
	l := Lag{OldestAgeHours: map[Class]float64{}}
	for c, written := range o.Oldest {
		age := o.Now.Sub(written).Hours()
		l.OldestAgeHours[c] = age
		days, _ := p.Days(c)
		l.ExcessHours = max(l.ExcessHours, age-float64(days*24))
	}
	if !o.Finished {
		l.OverdueHours = o.Now.Sub(o.StoppedAt).Hours()
		l.ExcessHours = max(l.ExcessHours, l.OverdueHours)
	}
	if len(o.Pending) > 0 {
		l.ExcessHours = max(l.ExcessHours, PendingExcessHours(o.Pending, o.PendingSince, o.Now))
	}
	return l
}

// PendingExcessHours is how much an item may outlive a shortened policy
// while changes are pending since since: up to the days a period went
// down by, or, if longer, the time the change has been pending, so a
// change that cannot finish raises the breach alarm (above 48 h) within
// two days.
func PendingExcessHours(changes []Change, since, now time.Time) float64 {
	h := now.Sub(since).Hours()
	for _, c := range changes {
		h = max(h, float64((c.From-c.To)*24))
	}
	return h
}
