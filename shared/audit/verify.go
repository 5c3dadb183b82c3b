package audit

import (
	"cmp"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Reason says what kind of break the verifier found. The zero value,
// [ReasonUnknown], is invalid.
type Reason string

// The breaks [Verify] reports.
const (
	ReasonUnknown Reason = ""
	// ReasonMalformed: an item does not parse (wrong types, unknown or
	// missing attributes, non-canonical values, unknown key prefix).
	ReasonMalformed Reason = "malformed_item"
	// ReasonDeleted: a gap in a chain's sequence, or a chain that starts
	// after seq 1 with no digest to anchor it.
	ReasonDeleted Reason = "deleted_event"
	// ReasonAltered: an event's stored hash does not match its contents.
	ReasonAltered Reason = "altered_event"
	// ReasonInserted: an event's prev_hash does not match its predecessor
	// (an event inserted or replaced before it).
	ReasonInserted Reason = "inserted_event"
	// ReasonReordered: an event stored at another position than it was
	// written at, or whose time goes backwards.
	ReasonReordered Reason = "reordered_event"
	// ReasonBadDigest: a digest whose hash or signature does not verify,
	// or with missing or extra parts.
	ReasonBadDigest Reason = "bad_digest"
	// ReasonHeadMismatch: a chain's events on a day disagree with that
	// day's digest (last seq, last hash or count), or are gone entirely.
	ReasonHeadMismatch Reason = "head_mismatch"
	// ReasonNotCovered: events on a day whose digest does not list their
	// chain, or events on a day after SealedThrough without a digest
	// although a later day has one.
	ReasonNotCovered Reason = "not_covered"
	// ReasonDigestChain: a digest whose predecessor is missing or differs.
	ReasonDigestChain Reason = "digest_chain_broken"
	// ReasonDigestMissing: a day of the trail, from its first event or
	// digest through SealedThrough, without a digest, whether it had
	// events or none: the digest was deleted or never made.
	ReasonDigestMissing Reason = "digest_missing"
	// ReasonLateDigest: a digest made after its day's grace period (a
	// missed day digested later): what it seals may have been changed
	// before it was made.
	ReasonLateDigest Reason = "late_digest"
)

// Break is one integrity failure. Its fields name records by chain,
// sequence and day only.
type Break struct {
	Reason Reason
	// Day is the UTC day of the event or digest ("" if unknown).
	Day string
	// Chain and Seq locate the event ("" and 0 for a digest).
	Chain string
	Seq   uint64
	// Detail says precisely what did not match.
	Detail string
}

// Error describes the break.
func (b Break) Error() string {
	var where string
	switch {
	case b.Chain != "" && b.Day != "":
		where = fmt.Sprintf("chain %s seq %d (day %s)", b.Chain, b.Seq, b.Day)
	case b.Chain != "":
		where = fmt.Sprintf("chain %s seq %d", b.Chain, b.Seq)
	case b.Day != "":
		where = "day " + b.Day
	default:
		where = "item"
	}
	return fmt.Sprintf("%s: %s: %s", b.Reason, where, b.Detail)
}

// Report is the verifier's result.
type Report struct {
	// Chains, Events and Digests count what was checked in the window.
	Chains, Events, Digests int
	// Breaks lists every chain's first break and every digest problem,
	// ordered by day, chain and sequence.
	Breaks []Break
	// Unsealed lists days after SealedThrough with events but no digest
	// yet and no later digest: their chains' tails cannot be checked until
	// one exists.
	Unsealed []string
	// Since is the first day that must have a digest: From, or without
	// it the trail's earliest event or digest ("" for an empty trail).
	// Every day from Since through SealedThrough must have one.
	Since string
}

// OK reports whether no break was found.
func (r *Report) OK() bool { return len(r.Breaks) == 0 }

// First returns the earliest break, if any.
func (r *Report) First() (Break, bool) {
	if len(r.Breaks) == 0 {
		return Break{}, false
	}
	return r.Breaks[0], true
}

// VerifyOptions says which days to verify and which must be sealed.
type VerifyOptions struct {
	// From and To are inclusive YYYY-MM-DD bounds ("" for unbounded).
	// Events and digests outside are ignored, except that earlier digests
	// anchor chains that began before From. Choose From inside the
	// retention period: events that TTL has deleted look deleted.
	From, To string
	// SealedThrough (YYYY-MM-DD, required) is the last day whose digest
	// is due: every day from From, or without From from the trail's first
	// event or digest, through SealedThrough (or To) must have one made on
	// time, even a day without events. For a live table use
	// [SealedThrough] of the current time; for an export, of the time it
	// was taken. Without From, days before the trail's first item are not
	// missing: the trail began then, or its first days were all deleted,
	// which looks the same. From set to the day the trail began pins it.
	SealedThrough string
}

// Verify checks audit items (from a Scan, the by-day index or an export)
// offline, using only the signing key's public key: every chain is walked
// by sequence and every digest's signature, chain and heads are checked.
// It returns an error only for bad arguments; breaks are in the report.
func Verify(items []map[string]types.AttributeValue, pub *ecdsa.PublicKey, opt VerifyOptions) (*Report, error) {
	if pub == nil {
		return nil, errors.New("verify audit: no public key")
	}
	if (opt.From != "" && !validDay(opt.From)) || (opt.To != "" && !validDay(opt.To)) || !validDay(opt.SealedThrough) {
		return nil, errors.New("verify audit: from, to and sealed-through must be YYYY-MM-DD (sealed-through is required)")
	}
	v := &verifier{pub: pub, opt: opt, chains: map[string][]*storedEvent{},
		roots: map[string]*rootEntry{}, parts: map[string]map[int][]Head{}, seen: map[string]bool{}}
	for _, it := range items {
		v.collect(it)
	}
	v.assembleDigests()
	v.checkDigestChain()
	v.checkChains()
	v.checkSealed()
	v.checkCoverage()
	slices.SortStableFunc(v.rep.Breaks, func(a, b Break) int {
		return cmp.Or(strings.Compare(a.Day, b.Day), strings.Compare(a.Chain, b.Chain), cmp.Compare(a.Seq, b.Seq))
	})
	return &v.rep, nil
}

type verifier struct {
	pub    *ecdsa.PublicKey
	opt    VerifyOptions
	rep    Report
	chains map[string][]*storedEvent
	roots  map[string]*rootEntry
	parts  map[string]map[int][]Head
	seen   map[string]bool
	days   []string // sorted days of parsed digest roots
	first  string   // the earliest day of any parsed event or digest root
}

type rootEntry struct {
	d     *Digest
	parts int
	valid bool
	heads map[string]Head
}

func (v *verifier) brk(r Reason, day, chain string, seq uint64, format string, a ...any) {
	v.rep.Breaks = append(v.rep.Breaks, Break{Reason: r, Day: day, Chain: chain, Seq: seq, Detail: fmt.Sprintf(format, a...)})
}

func (v *verifier) inWindow(day string) bool {
	return (v.opt.From == "" || day >= v.opt.From) && (v.opt.To == "" || day <= v.opt.To)
}

// sawDay notes the day of a parsed event or digest: the trail's first day
// is the earliest, wherever the window is.
func (v *verifier) sawDay(day string) {
	if v.first == "" || day < v.first {
		v.first = day
	}
}

// collect parses one item and files it by kind.
func (v *verifier) collect(it map[string]types.AttributeValue) {
	pk, _ := it[attrPK].(*types.AttributeValueMemberS)
	sk, _ := it[attrSK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		v.brk(ReasonMalformed, "", "", 0, "item without string pk and sk")
		return
	}
	key := pk.Value + "\x00" + sk.Value
	if v.seen[key] {
		v.brk(ReasonMalformed, "", "", 0, "duplicate item %s", clip(pk.Value))
		return
	}
	v.seen[key] = true
	switch {
	case strings.HasPrefix(pk.Value, chainPrefix):
		v.collectEvent(it, pk.Value, sk.Value)
	case strings.HasPrefix(pk.Value, digestPrefix):
		v.collectDigest(it, strings.TrimPrefix(pk.Value, digestPrefix), sk.Value)
	default:
		v.brk(ReasonMalformed, "", "", 0, "unknown key %s", clip(pk.Value))
	}
}

func (v *verifier) collectEvent(it map[string]types.AttributeValue, pk, sk string) {
	e, err := parseEvent(it)
	if err != nil {
		seq, serr := strconv.ParseUint(sk, 10, 64)
		if serr != nil {
			seq = 0 // the sort key is malformed too: the break names no sequence
		}
		v.brk(ReasonMalformed, "", clip(strings.TrimPrefix(pk, chainPrefix)), seq, "event: %v", err)
		return
	}
	v.sawDay(e.Day())
	if v.inWindow(e.Day()) {
		v.chains[e.Chain] = append(v.chains[e.Chain], e)
	}
}

// collectDigest files digest roots and parts. Problems are reported for
// days in the window only: older digests merely anchor chains, and TTL
// may have deleted part of them.
func (v *verifier) collectDigest(it map[string]types.AttributeValue, day, sk string) {
	if sk == digestSK {
		d, parts, err := parseDigestRoot(it)
		if err != nil && v.inWindow(day) {
			v.brk(ReasonBadDigest, clip(day), "", 0, "root: %v", err)
		}
		if err != nil {
			return
		}
		v.sawDay(d.Day)
		v.roots[d.Day] = &rootEntry{d: d, parts: parts}
		return
	}
	pday, idx, heads, err := parseDigestPart(it)
	if err != nil && v.inWindow(day) {
		v.brk(ReasonBadDigest, clip(day), "", 0, "part: %v", err)
	}
	if err != nil {
		return
	}
	if v.parts[pday] == nil {
		v.parts[pday] = map[int][]Head{}
	}
	v.parts[pday][idx] = heads
}

// clip bounds and quotes a string taken from an untrusted item.
func clip(s string) string {
	if len(s) > 80 {
		s = s[:80]
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}
