package consent

import (
	"strings"
	"time"

	"github.com/waguard/waguard/shared/ids"
)

// Double opt-in: a grant the API records with a confirmation asked of the
// person on WhatsApp is a pending entry ([ActionPending]); it gives
// nothing until the person answers the confirmation template's button or
// an opt-in keyword before the entry's deadline, which records a grant
// that names it ([Change.Confirms]). A pending entry past its deadline
// stays in the ledger as the record of what was asked, and counts as
// nothing.

// ActionPending: a grant that waits for the person's confirmation on
// WhatsApp (double opt-in). Never consent by itself.
const ActionPending = "pending"

// MethodConfirm is the method of a grant given by the confirmation
// template's button.
const MethodConfirm = "whatsapp_confirm"

// The confirmation window: how long a pending grant waits for the
// person's answer. The send function records the deadline in the entry,
// so every reader applies the window the entry was asked with.
const (
	DefaultConfirmWindow = 24 * time.Hour
	MaxConfirmWindow     = 7 * 24 * time.Hour
)

// Entry is what the rules need of one ledger entry.
type Entry struct {
	// ID is the entry's consent event id; Purpose and Action its own.
	ID, Purpose, Action string
	// At is when it happened.
	At time.Time
	// PolicyVersion and NoticeSHA256 record what the person was shown.
	PolicyVersion, NoticeSHA256 string
	// ConfirmBy is a pending entry's deadline (zero for other actions).
	ConfirmBy time.Time
	// Confirms is, on a grant, the id of the pending entry it confirms.
	Confirms string
}

// The consent states of a purpose.
const (
	StateNone    = "none"
	StateGranted = "granted"
	StateRevoked = "revoked"
	StatePending = "pending"
)

// State is a purpose's consent state at now after the ledger's entries
// for it, oldest first: "granted" or "revoked" after the latest grant or
// revoke, "none" before any, and "pending" while the latest entry that
// is a grant, revoke or pending is a pending grant before its deadline,
// unless the purpose is granted already. A resume changes nothing. A
// pending entry never grants, and never takes a grant back either: a
// business asking a consenting person to confirm again (a new notice)
// leaves the grant they gave standing until they withdraw it.
func State(entries []Entry, now time.Time) string {
	st := StateNone
	var pending *Entry
	for i, e := range entries {
		switch e.Action {
		case ActionGrant:
			st, pending = StateGranted, nil
		case ActionRevoke:
			st, pending = StateRevoked, nil
		case ActionPending:
			pending = &entries[i]
		}
	}
	if pending != nil && st != StateGranted && now.Before(pending.ConfirmBy) {
		return StatePending
	}
	return st
}

// Confirmable returns the pending entry id names in the ledger entries,
// if the person may still confirm it at at: it is a pending grant, at is
// before its deadline, and no entry confirms it yet. A pending entry of
// another subject is never among entries, so nobody confirms another
// person's grant.
func Confirmable(entries []Entry, id string, at time.Time) (Entry, bool) {
	var found *Entry
	for i, e := range entries {
		switch {
		case e.Confirms == id && id != "":
			return Entry{}, false
		case e.ID == id && e.Action == ActionPending:
			found = &entries[i]
		}
	}
	if found == nil || !at.Before(found.ConfirmBy) {
		return Entry{}, false
	}
	return *found, true
}

// ConfirmableAll returns, per purpose, the latest pending entry the person
// may still confirm at at ([Confirmable]), oldest first: what an opt-in
// keyword confirms.
func ConfirmableAll(entries []Entry, at time.Time) []Entry {
	var out []Entry
	latest := map[string]int{}
	for _, e := range entries {
		if e.Action != ActionPending {
			continue
		}
		if p, ok := Confirmable(entries, e.ID, at); ok {
			if i, seen := latest[p.Purpose]; seen {
				out[i] = p
				continue
			}
			latest[p.Purpose] = len(out)
			out = append(out, p)
		}
	}
	return out
}

// Confirm is the grant that confirms pending entry p, given by method
// (the button, or an opt-in keyword): the purpose, policy version and
// notice are the pending entry's, and it lifts the purpose's
// suppression as any fresh grant does.
func Confirm(p Entry, method string) Change {
	return Change{Purpose: p.Purpose, Action: ActionGrant, Method: method, PolicyVersion: p.PolicyVersion,
		NoticeSHA256: p.NoticeSHA256, Confirms: p.ID, Effect: Lift}
}

// confirmPrefix begins the payload of the confirmation template's
// quick-reply button.
const confirmPrefix = "wgconfirm:"

// ConfirmPayload is the quick-reply payload that confirms pending entry
// id: it names the entry and nothing about the person.
func ConfirmPayload(id string) string { return confirmPrefix + id }

// ParseConfirmPayload returns the pending entry id of a confirmation
// button's payload: "wgconfirm:" and a consent event id ("cev_" and 24
// base32 characters, shared/ids). Anything else is not a confirmation.
func ParseConfirmPayload(payload string) (string, bool) {
	id, ok := strings.CutPrefix(payload, confirmPrefix)
	if !ok || !EventID(id) {
		return "", false
	}
	return id, true
}

// EventID reports whether s has the shape of a consent event id the API
// records: "cev_" and 24 characters of base32 ([ids.Valid]).
func EventID(s string) bool { return ids.Valid(s, "cev_") }
