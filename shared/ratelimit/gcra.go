package ratelimit

import (
	"errors"
	"time"
)

// gcra is a limit in integer nanoseconds: emission interval t, burst
// tolerance tau, and per (the refusal window length).
type gcra struct{ t, tau, per int64 }

// gcra derives T = ⌈Per/Count⌉ and τ = (Count−1)·T. Rounding T up keeps
// the sustained rate at or below Count per Per and the burst exactly Count.
func (l Limit) gcra() (gcra, error) {
	if l.Count < 1 || l.Count > maxCount || l.Per <= 0 || l.Per > maxPer {
		return gcra{}, errors.New("invalid limit: need 1 ≤ Count ≤ 1e9 and 0 < Per ≤ 366 days")
	}
	n, per := int64(l.Count), int64(l.Per)
	t := (per + n - 1) / n
	return gcra{t: t, tau: (n - 1) * t, per: per}, nil
}

// kind is what a step decided for its key.
type kind int

const (
	kindUnknown kind = iota
	kindFresh        // no live TAT or TAT ≤ now: TAT = now + T
	kindQueued       // now < TAT ≤ now + τ: TAT = TAT + T
	kindRefused      // TAT > now + τ
)

// state is a key's item as read.
type state struct {
	tat           int64 // the stored TAT; 0 when absent
	exp           int64 // expires_at, epoch seconds; 0 when absent
	refusedWindow int64 // -1 when absent
}

// live returns the TAT that counts at now: 0 unless the item has both
// attributes and has not expired (TTL deletes late).
func (st state) live(now int64) int64 {
	if st.exp <= now/int64(time.Second) {
		return 0
	}
	return st.tat
}

// step carries one check through an attempt.
type step struct {
	check Check
	g     gcra
	pk    string
	state state

	now    int64 // decision time, unix nanoseconds
	kind   kind
	newTAT int64 // the TAT after admission, as predicted from the read
}

// decide applies GCRA to the state read, at now.
func (s *step) decide(now int64) {
	s.now = now
	switch tat := s.state.live(now); {
	case tat <= now:
		s.kind, s.newTAT = kindFresh, now+s.g.t
	case tat-now <= s.g.tau:
		s.kind, s.newTAT = kindQueued, tat+s.g.t
	default:
		s.kind, s.newTAT = kindRefused, tat
	}
}

// remaining is how many requests after this one would pass at s.now if
// the TAT became newTAT.
func (s *step) remaining(newTAT int64) int {
	r := (s.g.tau + s.g.t - (newTAT - s.now)) / s.g.t
	return int(max(r, 0))
}

// retryAfter is when a refused step's request would conform, in whole
// seconds rounded up.
func (s *step) retryAfter() time.Duration {
	wait := s.newTAT - s.g.tau - s.now
	return time.Duration((wait + int64(time.Second) - 1) / int64(time.Second) * int64(time.Second))
}

// window numbers the Per-long windows since the epoch that refusals are
// reported in.
func (s *step) window() int64 { return s.now / s.g.per }

// refusedDecision returns the refusal Decision when any step refused.
func refusedDecision(steps []step) (Decision, bool) {
	var d Decision
	for i := range steps {
		s := &steps[i]
		if s.kind != kindRefused {
			continue
		}
		d.RetryAfter = max(d.RetryAfter, s.retryAfter())
		d.Refused = append(d.Refused, s.check)
		w := s.window()
		d.refusals = append(d.refusals, refusal{check: s.check, pk: s.pk, window: w, reported: s.state.refusedWindow >= w})
	}
	return d, len(d.Refused) > 0
}

// admitted returns the Decision for admitted steps, Remaining as predicted
// from the reads.
func admitted(steps []step) Decision {
	d := Decision{Allowed: true, Remaining: maxCount}
	for i := range steps {
		d.Remaining = min(d.Remaining, steps[i].remaining(steps[i].newTAT))
	}
	return d
}
