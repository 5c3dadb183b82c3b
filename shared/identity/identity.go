// Package identity decides which data subject a WhatsApp event or an API
// request is about, when WhatsApp may present one person by a phone
// number, by a business-scoped user id (BSUID), or by both.
//
// # Model
//
// A subject is one person as WhatsApp presents them to this business. Its
// data lives in one or more partitions of the data table, each keyed by
// the blind index of the identifier that first brought it in (its
// "home"). Every identifier seen is attached to exactly one subject by an
// alias item (store), so that it can be found by any of them. When one
// event shows two identifiers that already belong to two subjects with
// data (a person first seen by phone and, separately, by BSUID), the
// subjects are merged by reference: one stays canonical, the other's
// partition becomes its member, and reads and erasures cover both. Data is
// never copied between partitions (it is encrypted under each partition's
// own key).
//
// [Decide] is the rule, a pure function over what the table says about
// each identifier ([Known]); shared/store executes the decision.
//
// # Choices
//
//   - The canonical subject is that of the phone number when the phone's
//     subject has data, else that of the BSUID: data written before
//     WhatsApp had BSUIDs is keyed by phone, and senders address people by
//     phone, so merging into the phone's subject moves the fewest readers.
//   - A parent BSUID (US.ENT.…) is one more identifier of the same person.
//   - A username is display data and never an identifier.
//
// # Non-goals
//
// It derives no keys (shared/blindindex does) and reads nothing. It does
// not detect a recycled phone number: a number WhatsApp reassigns to
// another person arrives with that person's new BSUID, and is linked to
// the previous holder's subject (docs/data-model.md).
package identity

import (
	"errors"
	"slices"
)

// Kind is the kind of an identifier. The zero value is invalid.
type Kind string

// The identifier kinds, in the order [Decide] prefers them.
const (
	KindUnknown Kind = ""
	// KindPhone is an E.164 phone number (Meta's wa_id, from, recipient_id).
	KindPhone Kind = "phone"
	// KindUser is a business-scoped user id (user_id, from_user_id,
	// recipient_user_id).
	KindUser Kind = "user_id"
	// KindParentUser is a parent BSUID (parent_user_id, …).
	KindParentUser Kind = "parent_user_id"
)

// order is the preference of [Decide].
var order = []Kind{KindPhone, KindUser, KindParentUser}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return slices.Contains(order, k) }

// ID is one identifier of a person, as its keyed hashes only.
type ID struct {
	Kind Kind
	// Key is its blind index: the key of the partition it would have of
	// its own.
	Key string
	// Pseudonym is its audit-trail pseudonym.
	Pseudonym string
}

// Known is what the data table says about an identifier.
type Known struct {
	// Subject is the subject it is attached to; "" when it is attached to
	// none and has no data of its own.
	Subject string
	// Pseudonym is that subject's audit pseudonym.
	Pseudonym string
	// Attached is set when an alias item records the attachment (data
	// written before identities existed has none: its subject is its own
	// key).
	Attached bool
}

// Decision is what to do for one event or request.
type Decision struct {
	// Subject is the canonical subject: the partition new data goes to.
	Subject string
	// Pseudonym names Subject in the audit trail.
	Pseudonym string
	// Attach lists the identifiers to attach to Subject (no alias item
	// yet, or one naming another subject), in preference order.
	Attach []ID
	// Merge lists other subjects with data that become members of
	// Subject, sorted.
	Merge []string
}

// Links reports whether d ties identifiers of one person together, which
// an identity_linked audit event records: it merges subjects, or attaches
// an identifier of an event that showed several (shown). Attaching the
// only identifier an event showed links nothing.
func (d Decision) Links(shown int) bool {
	return len(d.Merge) > 0 || (len(d.Attach) > 0 && shown > 1)
}

// ErrNoIdentifier is returned by [Decide] when ids holds no valid
// identifier: the event cannot be attributed to anyone.
var ErrNoIdentifier = errors.New("identity: no identifier")

// Decide returns the subject of an event or request that shows ids,
// given what is known of each (by [ID.Key]; an id absent from known is
// unknown). Invalid ids (unknown kind, empty key) are skipped.
func Decide(ids []ID, known map[string]Known) (Decision, error) {
	ids = sorted(ids)
	if len(ids) == 0 {
		return Decision{}, ErrNoIdentifier
	}
	var d Decision
	for _, id := range ids { // the first identifier whose subject has data
		if k := known[id.Key]; k.Subject != "" {
			d.Subject, d.Pseudonym = k.Subject, k.Pseudonym
			break
		}
	}
	if d.Subject == "" { // nobody known: a new subject, home to the first
		d.Subject, d.Pseudonym = ids[0].Key, ids[0].Pseudonym
	}
	for _, id := range ids {
		k := known[id.Key]
		if k.Subject != "" && k.Subject != d.Subject && !slices.Contains(d.Merge, k.Subject) {
			d.Merge = append(d.Merge, k.Subject)
		}
		if !k.Attached || k.Subject != d.Subject {
			d.Attach = append(d.Attach, id)
		}
	}
	slices.Sort(d.Merge)
	return d, nil
}

// sorted returns the valid ids in preference order, each key once.
func sorted(ids []ID) []ID {
	var out []ID
	for _, kind := range order {
		for _, id := range ids {
			if id.Kind == kind && id.Key != "" && !slices.ContainsFunc(out, func(o ID) bool { return o.Key == id.Key }) {
				out = append(out, id)
			}
		}
	}
	return out
}
