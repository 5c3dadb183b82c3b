package audit

import (
	"cmp"
	"fmt"
	"slices"
)

// assembleDigests joins each root with its parts and checks hash and
// signature. Only valid digests anchor chains and cover days.
func (v *verifier) assembleDigests() {
	for day, parts := range v.parts {
		if r := v.roots[day]; v.inWindow(day) && (r == nil || len(parts) > r.parts) {
			v.brk(ReasonBadDigest, day, "", 0, "digest parts without a root or beyond its part count")
		}
	}
	for day, r := range v.roots {
		v.days = append(v.days, day)
		if v.inWindow(day) {
			v.rep.Digests++
		}
		v.assemble(day, r)
	}
	slices.Sort(v.days)
}

func (v *verifier) assemble(day string, r *rootEntry) {
	bad := func(format string, a ...any) {
		if v.inWindow(day) {
			v.brk(ReasonBadDigest, day, "", 0, format, a...)
		}
	}
	var heads []Head
	for i := 1; i <= r.parts; i++ {
		p, ok := v.parts[day][i]
		if !ok {
			bad("part %d of %d missing", i, r.parts)
			return
		}
		heads = append(heads, p...)
	}
	r.d.Heads = heads
	for i := 1; i < len(heads); i++ {
		if heads[i-1].Chain >= heads[i].Chain {
			bad("heads not in strict chain order")
			return
		}
	}
	if err := r.d.Verify(v.pub); err != nil {
		bad("hash or signature does not verify: forged or altered digest")
		return
	}
	r.valid, r.heads = true, make(map[string]Head, len(heads))
	for _, h := range heads {
		r.heads[h.Chain] = h
	}
}

// checkDigestChain links each digest to the one before it. Links are
// checked for digests in the window; a window's first digest may point
// before From.
func (v *verifier) checkDigestChain() {
	for i, day := range v.days {
		d := v.roots[day].d
		if !v.inWindow(day) {
			continue
		}
		if i == 0 {
			if d.PrevDay != "" && v.opt.From != "" && d.PrevDay >= v.opt.From {
				v.brk(ReasonDigestChain, day, "", 0, "previous digest %s missing: deleted", d.PrevDay)
			}
			continue
		}
		v.link(v.roots[v.days[i-1]].d, d)
	}
}

func (v *verifier) link(a, b *Digest) {
	switch {
	case b.PrevDay == "":
		v.brk(ReasonDigestChain, b.Day, "", 0, "digest chain restarts after digest %s", a.Day)
	case b.PrevDay > a.Day || b.PrevDay == b.Day:
		v.brk(ReasonDigestChain, b.Day, "", 0, "previous digest %s missing: deleted", b.PrevDay)
	case b.PrevDay < a.Day:
		v.brk(ReasonDigestChain, b.Day, "", 0, "digest names %s as previous, skipping digest %s", b.PrevDay, a.Day)
	case b.PrevHash != a.Hash:
		v.brk(ReasonDigestChain, b.Day, "", 0, "prev_hash does not match digest %s", a.Day)
	}
}

// checkChains walks every chain by sequence and reports its first break.
func (v *verifier) checkChains() {
	ids := make([]string, 0, len(v.chains))
	for id, evs := range v.chains {
		ids = append(ids, id)
		v.rep.Events += len(evs)
	}
	slices.Sort(ids)
	v.rep.Chains = len(ids)
	for _, id := range ids {
		evs := v.chains[id]
		slices.SortFunc(evs, func(a, b *storedEvent) int {
			return cmp.Compare(a.pos, b.pos)
		})
		v.walk(evs)
	}
}

func (v *verifier) walk(evs []*storedEvent) {
	for i, e := range evs {
		day := e.Day()
		switch {
		case e.pos != e.Seq:
			v.brk(ReasonReordered, day, e.Chain, e.pos, "event written as seq %d is stored at seq %d", e.Seq, e.pos)
		case e.ComputeHash() != e.Hash:
			v.brk(ReasonAltered, day, e.Chain, e.pos, "stored hash does not match the event's contents")
		case e.day != day:
			v.brk(ReasonAltered, day, e.Chain, e.pos, "day attribute does not match the event's time")
		case i == 0:
			if v.anchor(e) {
				continue
			}
		default:
			if v.follows(evs[i-1], e) {
				continue
			}
		}
		return
	}
}

// span names a run of sequence numbers.
func span(a, b uint64) string {
	if a == b {
		return fmt.Sprintf("event %d", a)
	}
	return fmt.Sprintf("events %d to %d", a, b)
}

// follows checks e against its predecessor p.
func (v *verifier) follows(p, e *storedEvent) bool {
	day := e.Day()
	switch {
	case e.Seq != p.Seq+1:
		v.brk(ReasonDeleted, day, e.Chain, e.Seq, "%s missing", span(p.Seq+1, e.Seq-1))
	case e.PrevHash != p.Hash:
		v.brk(ReasonInserted, day, e.Chain, e.Seq, "prev_hash does not match event %d: an event was inserted or replaced", p.Seq)
	case e.Time.Before(p.Time):
		v.brk(ReasonReordered, day, e.Chain, e.Seq, "time is earlier than event %d's", p.Seq)
	default:
		return true
	}
	return false
}

// anchor checks a chain's first event in the window against the genesis
// hash or the newest earlier digest that lists the chain.
func (v *verifier) anchor(e *storedEvent) bool {
	day := e.Day()
	if e.Seq == 1 {
		if !e.PrevHash.IsZero() {
			v.brk(ReasonInserted, day, e.Chain, 1, "first event's prev_hash is not the genesis hash")
			return false
		}
		return true
	}
	h, hday, ok := v.headBefore(e.Chain, day)
	switch {
	case !ok:
		v.brk(ReasonDeleted, day, e.Chain, e.Seq, "chain starts at seq %d and no earlier digest lists it: %s missing", e.Seq, span(1, e.Seq-1))
	case h.Seq+1 < e.Seq:
		v.brk(ReasonDeleted, day, e.Chain, e.Seq, "%s missing after digest %s", span(h.Seq+1, e.Seq-1), hday)
	case h.Seq+1 > e.Seq:
		v.brk(ReasonReordered, day, e.Chain, e.Seq, "digest %s already lists seq %d", hday, h.Seq)
	case h.Hash != e.PrevHash:
		v.brk(ReasonInserted, day, e.Chain, e.Seq, "prev_hash does not match the head in digest %s", hday)
	default:
		return true
	}
	return false
}

// headBefore finds the newest valid digest before day that lists chain.
func (v *verifier) headBefore(chain, day string) (Head, string, bool) {
	i, _ := slices.BinarySearch(v.days, day)
	for i--; i >= 0; i-- {
		if r := v.roots[v.days[i]]; r.valid {
			if h, ok := r.heads[chain]; ok {
				return h, v.days[i], true
			}
		}
	}
	return Head{}, "", false
}

// checkCoverage compares each day's chain heads with its digest.
func (v *verifier) checkCoverage() {
	stats := map[string]headSet{} // day → chain → head
	for _, evs := range v.chains {
		for _, e := range evs {
			day := e.Day()
			if stats[day] == nil {
				stats[day] = newHeadSet()
			}
			stats[day].add(e.Chain, e.pos, e.Hash)
		}
	}
	for _, day := range v.days {
		if r := v.roots[day]; r.valid && v.inWindow(day) {
			v.compareHeads(day, r, stats[day])
		}
	}
	v.findUncovered(stats)
}

func (v *verifier) compareHeads(day string, r *rootEntry, got headSet) {
	for _, h := range r.d.Heads {
		g := got[h.Chain]
		switch {
		case g == nil:
			v.brk(ReasonHeadMismatch, day, h.Chain, h.Seq, "digest lists %d events up to seq %d; none found: deleted", h.Count, h.Seq)
		case g.Seq != h.Seq || g.Count != h.Count:
			v.brk(ReasonHeadMismatch, day, h.Chain, h.Seq, "digest lists %d events up to seq %d; found %d up to seq %d", h.Count, h.Seq, g.Count, g.Seq)
		case g.Hash != h.Hash:
			v.brk(ReasonHeadMismatch, day, h.Chain, h.Seq, "last event's hash differs from the digest's")
		}
	}
}

func (v *verifier) findUncovered(stats map[string]headSet) {
	_, end := v.sealRange()
	last := "" // the newest digest in the window
	for _, day := range v.days {
		if v.inWindow(day) {
			last = day
		}
	}
	for day, set := range stats {
		r := v.roots[day]
		switch {
		case r != nil && r.valid:
			for chain, h := range set {
				if _, ok := r.heads[chain]; !ok {
					v.brk(ReasonNotCovered, day, chain, h.Seq, "the chain's %d event(s) of the day are not in its digest: written after it", h.Count)
				}
			}
		case r != nil:
			// Already reported as a bad digest.
		case day <= end:
			// Already reported as a missing digest.
		case day < last:
			v.brk(ReasonNotCovered, day, "", 0, "no digest for a day with events although later days have one")
		default:
			v.rep.Unsealed = append(v.rep.Unsealed, day)
		}
	}
	slices.Sort(v.rep.Unsealed)
}

// sealRange returns the days that must have a digest: from From, or
// without it from the trail's first day, through SealedThrough (or To).
// It is empty (start after end) when nothing is due yet; start is "" for
// an empty trail without From.
func (v *verifier) sealRange() (start, end string) {
	start, end = cmp.Or(v.opt.From, v.first), v.opt.SealedThrough
	if v.opt.To != "" {
		end = min(end, v.opt.To)
	}
	return start, end
}

// checkSealed reports each run of due days without a digest, events or
// not (a digest deleted or never made), and each late digest in the
// window: both leave a day whose events could have been changed before
// any digest sealed them.
func (v *verifier) checkSealed() {
	start, end := v.sealRange()
	v.rep.Since = start
	if start != "" && start <= end {
		next := start // the first due day not yet known to have a digest
		for _, day := range v.days {
			if day < start || day > end {
				continue
			}
			if day > next {
				v.missing(next, addDays(day, -1))
			}
			next = addDays(day, 1)
		}
		if next <= end {
			v.missing(next, end)
		}
	}
	for _, day := range v.days {
		if r := v.roots[day]; r.valid && r.d.Late && v.inWindow(day) {
			v.brk(ReasonLateDigest, day, "", 0, "digest made %s, after the day's grace period: a missed day, digested late; what it seals may have been changed first", formatTime(r.d.CreatedAt))
		}
	}
}

// missing reports the days from a through b as having no digest.
func (v *verifier) missing(a, b string) {
	what := "no digest for " + a
	if a != b {
		what = fmt.Sprintf("no digest for the %d days %s to %s", daysBetween(a, b)+1, a, b)
	}
	since := "the trail's first day"
	if v.opt.From != "" {
		since = "-from"
	}
	start, _ := v.sealRange()
	v.brk(ReasonDigestMissing, a, "", 0, "%s, though every day from %s (%s) through %s must have one: deleted, or never made", what, start, since, v.opt.SealedThrough)
}

// addDays returns day moved by n days; day must be valid.
func addDays(day string, n int) string {
	t, _ := parseDay(day)
	return t.AddDate(0, 0, n).Format(dayLayout)
}

func daysBetween(a, b string) int {
	ta, _ := parseDay(a)
	tb, _ := parseDay(b)
	return int((tb.Unix() - ta.Unix()) / 86400)
}
