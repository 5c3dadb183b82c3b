// Package subject finds the data subject a request or an event is about,
// from the identifiers WhatsApp or an API client gives: a phone number, a
// business-scoped user id (BSUID), a parent BSUID, or several of them. It
// derives their keyed hashes (shared/blindindex), asks the store what is
// known of them, and applies the rule of shared/identity.
//
// # Non-goals
//
// It keeps no state and never sees a username: a username is display data,
// never an identifier.
package subject

import (
	"context"
	"errors"
	"fmt"

	"github.com/waguard/waguard/shared/bsuid"
	"github.com/waguard/waguard/shared/identity"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/store"
)

// keys derives keyed hashes; *blindindex.Keys satisfies it.
type keys interface {
	ForPhone(n phone.Number) (index, pseudonym string, err error)
	ForUser(id string) (index, pseudonym string, err error)
}

// identities is what the store knows of identifiers; *store.Store
// satisfies it.
type identities interface {
	Identify(ctx context.Context, ids []identity.ID) (map[string]identity.Known, error)
	PrepareAttach(ctx context.Context, d identity.Decision, known map[string]identity.Known, ids []store.Identifier) (store.Attachment, error)
}

// Finder finds subjects. It is safe for concurrent use.
type Finder struct {
	keys  keys
	store identities
}

// New returns a Finder over k and s.
func New(k keys, s identities) *Finder { return &Finder{keys: k, store: s} }

// Who is a person as a request or event presents them; zero fields are
// absent. At least one must be set.
type Who struct {
	Phone        phone.Number
	User, Parent bsuid.ID
	// Also lists further BSUIDs of the same person: the ones that replaced
	// User, from a change notice. User's subject is preferred.
	Also []bsuid.ID
}

// Errors of [Parse]; they never include the input.
var (
	// ErrOneIdentifier: both or neither of the phone number and the user id.
	ErrOneIdentifier = errors.New("subject: give exactly one of a phone number and a user id")
	// ErrInvalidPhone: the phone number is not a valid E.164 number.
	ErrInvalidPhone = errors.New("subject: invalid phone number")
	// ErrInvalidUserID: the user id is not a business-scoped user id.
	ErrInvalidUserID = errors.New("subject: invalid user id")
)

// Parse reads the person of an API request, which names them by exactly
// one of a phone number (E.164) and a business-scoped user id.
func Parse(phoneNumber, userID string) (Who, error) {
	switch {
	case (phoneNumber == "") == (userID == ""):
		return Who{}, ErrOneIdentifier
	case userID != "":
		id, err := bsuid.Parse(userID)
		if err != nil {
			return Who{}, ErrInvalidUserID
		}
		return Who{User: id}, nil
	}
	n, err := phone.Parse(phoneNumber)
	if err != nil {
		return Who{}, ErrInvalidPhone
	}
	return Who{Phone: n}, nil
}

// Empty reports whether w holds no identifier.
func (w Who) Empty() bool {
	return w.Phone.IsZero() && w.User.IsZero() && w.Parent.IsZero() && len(w.Also) == 0
}

// Subject is the data subject found.
type Subject struct {
	// Key is the canonical partition key (the subject the store keys data by).
	Key string
	// Pseudonym names the subject in the audit trail.
	Pseudonym string
	// Known is false for a person nothing is stored about: Key is then
	// the key a first write creates.
	Known bool
	// Keys lists the blind index of every identifier of w, for the
	// erasure checks of a write ([store.Inbound.Also]).
	Keys []string
}

// ErrNobody is returned when w holds no identifier.
var ErrNobody = errors.New("subject: no identifier")

// Identifiers derives w's identifiers, with their values.
func (f *Finder) Identifiers(w Who) ([]store.Identifier, error) {
	var out []store.Identifier
	if !w.Phone.IsZero() {
		k, p, err := f.keys.ForPhone(w.Phone)
		if err != nil {
			return nil, fmt.Errorf("subject: %w", err)
		}
		out = append(out, store.Identifier{ID: identity.ID{Kind: identity.KindPhone, Key: k, Pseudonym: p}, Value: w.Phone.E164()})
	}
	type user struct {
		id   bsuid.ID
		kind identity.Kind
	}
	users := []user{{w.User, identity.KindUser}, {w.Parent, identity.KindParentUser}}
	for _, a := range w.Also {
		kind := identity.KindUser
		if a.IsParent() {
			kind = identity.KindParentUser
		}
		users = append(users, user{a, kind})
	}
	for _, u := range users {
		if u.id.IsZero() {
			continue
		}
		k, p, err := f.keys.ForUser(u.id.Reveal())
		if err != nil {
			return nil, fmt.Errorf("subject: %w", err)
		}
		out = append(out, store.Identifier{ID: identity.ID{Kind: u.kind, Key: k, Pseudonym: p}, Value: u.id.Reveal()})
	}
	if len(out) == 0 {
		return nil, ErrNobody
	}
	return out, nil
}

// Find returns the subject w is about, without writing anything: for a
// request that names one identifier (the API), or to read.
func (f *Finder) Find(ctx context.Context, w Who) (Subject, error) {
	s, _, _, err := f.decide(ctx, w)
	return s, err
}

// ForWrite returns the subject w is about and the identity change to
// commit with the write that stores what w sent: identifiers seen for the
// first time, a link between a phone number and a BSUID, a merge. The
// write fails with [store.ErrConflict] if a concurrent event changed an
// identifier meanwhile; call ForWrite again then.
func (f *Finder) ForWrite(ctx context.Context, w Who) (Subject, store.Attachment, error) {
	s, d, st, err := f.decide(ctx, w)
	if err != nil {
		return Subject{}, store.Attachment{}, err
	}
	a, err := f.store.PrepareAttach(ctx, d, st.known, st.ids)
	if err != nil {
		return Subject{}, store.Attachment{}, err
	}
	return s, a, nil
}

type state struct {
	ids   []store.Identifier
	known map[string]identity.Known
}

func (f *Finder) decide(ctx context.Context, w Who) (Subject, identity.Decision, state, error) {
	ids, err := f.Identifiers(w)
	if err != nil {
		return Subject{}, identity.Decision{}, state{}, err
	}
	keys := make([]identity.ID, len(ids))
	all := make([]string, len(ids))
	for i, id := range ids {
		keys[i], all[i] = id.ID, id.Key
	}
	known, err := f.store.Identify(ctx, keys)
	if err != nil {
		return Subject{}, identity.Decision{}, state{}, err
	}
	d, err := identity.Decide(keys, known)
	if err != nil {
		return Subject{}, identity.Decision{}, state{}, err
	}
	_, isKnown := knownSubject(known, d.Subject)
	return Subject{Key: d.Subject, Pseudonym: d.Pseudonym, Known: isKnown, Keys: all}, d, state{ids: ids, known: known}, nil
}

// knownSubject reports whether any identifier is known to belong to s.
func knownSubject(known map[string]identity.Known, s string) (identity.Known, bool) {
	for _, k := range known {
		if k.Subject == s {
			return k, true
		}
	}
	return identity.Known{}, false
}
