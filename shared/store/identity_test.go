package store_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/waguard/waguard/shared/identity"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// person is one data subject's identifiers as the callers derive them.
type person struct {
	phone, user store.Identifier
}

func newPerson(t *testing.T) person {
	return person{
		phone: store.Identifier{ID: identity.ID{Kind: identity.KindPhone, Key: "P" + randomID(t), Pseudonym: "pp" + randomID(t)}, Value: "+12025550142"},
		user:  store.Identifier{ID: identity.ID{Kind: identity.KindUser, Key: "U" + randomID(t), Pseudonym: "pu" + randomID(t)}, Value: "US.13491208655302741918"},
	}
}

// resolve identifies ids, decides and stores an inbound message with the
// decision's attachment, as the webhook does, and returns the decision.
func (f *fixture) resolve(t *testing.T, ids ...store.Identifier) identity.Decision {
	t.Helper()
	var keys []identity.ID
	for _, id := range ids {
		keys = append(keys, id.ID)
	}
	known, err := f.s.Identify(ctx(t), keys)
	if err != nil {
		t.Fatalf("Identify() err = %v", err)
	}
	d, err := identity.Decide(keys, known)
	if err != nil {
		t.Fatalf("Decide() err = %v", err)
	}
	a, err := f.s.PrepareAttach(ctx(t), d, known, ids)
	if err != nil {
		t.Fatalf("PrepareAttach() err = %v", err)
	}
	lookup := randomID(t)
	var also []string
	for _, id := range keys {
		also = append(also, id.Key)
	}
	if err := f.s.PutInbound(ctx(t), store.Inbound{Subject: d.Subject, Lookup: lookup, ProviderID: "wamid.i" + lookup, Type: "text",
		Body: []byte("hi"), At: f.now, Class: retention.ClassSupport, Also: also, Attach: a}, store.Unit{}); err != nil {
		t.Fatalf("PutInbound() err = %v", err)
	}
	return d
}

// TestIdentityLinksPhoneAndBSUID follows one person: known by phone, then
// showing their BSUID with it, then writing with the BSUID alone.
func TestIdentityLinksPhoneAndBSUID(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		p := newPerson(t)
		if d := f.resolve(t, p.phone); d.Subject != p.phone.Key {
			t.Fatalf("first message by phone: subject %q, want the phone's key", d.Subject)
		}
		if d := f.resolve(t, p.phone, p.user); d.Subject != p.phone.Key || len(d.Attach) != 1 {
			t.Fatalf("phone and BSUID: decision %+v, want the phone's subject and the BSUID attached", d)
		}
		d := f.resolve(t, p.user)
		if d.Subject != p.phone.Key || d.Pseudonym != p.phone.Pseudonym || len(d.Attach) != 0 {
			t.Errorf("BSUID alone: decision %+v, want the phone's subject and pseudonym, nothing to attach", d)
		}
		got, err := f.s.Identifiers(ctx(t), p.phone.Key)
		if err != nil {
			t.Fatal(err)
		}
		var values []string
		for _, id := range got {
			values = append(values, string(id.Kind)+"="+id.Value)
		}
		slices.Sort(values)
		if want := []string{"phone=+12025550142", "user_id=US.13491208655302741918"}; !slices.Equal(values, want) {
			t.Errorf("Identifiers() = %v, want %v", values, want)
		}
		if f.scanFor(t, []byte("US.13491208655302741918")) {
			t.Errorf("the BSUID is stored in clear")
		}
	})
}

// TestIdentityFindsDataWrittenBeforeIdentities reads a partition written
// the old way (keyed by the phone's blind index, no alias item): the
// phone's subject is its own key, and a first event with the BSUID links
// the BSUID to it (the migration needs no backfill).
func TestIdentityFindsDataWrittenBeforeIdentities(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		p := newPerson(t)
		if err := f.s.PutInbound(ctx(t), store.Inbound{Subject: p.phone.Key, Lookup: randomID(t), Phone: p.phone.Value, Type: "text",
			Body: []byte("old"), At: f.now, Class: retention.ClassSupport}, store.Unit{}); err != nil {
			t.Fatal(err)
		}
		known, err := f.s.Identify(ctx(t), []identity.ID{p.phone.ID, p.user.ID})
		if err != nil {
			t.Fatal(err)
		}
		if k := known[p.phone.Key]; k.Subject != p.phone.Key || k.Attached || k.Pseudonym != p.phone.Pseudonym {
			t.Errorf("Identify(old phone) = %+v, want its own unattached subject", k)
		}
		if d := f.resolve(t, p.user, p.phone); d.Subject != p.phone.Key {
			t.Errorf("first event with the BSUID: subject %q, want the old phone partition", d.Subject)
		}
		if d := f.resolve(t, p.user); d.Subject != p.phone.Key {
			t.Errorf("BSUID alone afterwards: subject %q, want the old phone partition", d.Subject)
		}
	})
}

// TestIdentityMergesTwoSubjects has a person write by BSUID alone (phone
// withheld) and STOP there, and separately be written to by phone; the
// first event that shows both merges the two subjects, and the STOP holds
// for the phone.
func TestIdentityMergesTwoSubjects(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		p := newPerson(t)
		f.resolve(t, p.user)
		if err := f.s.RecordConsent(ctx(t), p.user.Key, store.ConsentEvent{ID: "cev_" + randomID(t), Purpose: "marketing", Action: store.ActionRevoke,
			Method: "whatsapp_keyword", PolicyVersion: "1", Actor: "webhook", At: f.now}, store.SuppressionAdd, "stop_keyword", store.Unit{}); err != nil {
			t.Fatal(err)
		}
		f.resolve(t, p.phone)
		d := f.resolve(t, p.user, p.phone)
		if d.Subject != p.phone.Key || !slices.Equal(d.Merge, []string{p.user.Key}) {
			t.Fatalf("event with both: decision %+v, want the phone's subject with the BSUID's merged", d)
		}
		parts, err := f.s.Partitions(ctx(t), p.phone.Key)
		if err != nil || !slices.Equal(parts, []string{p.phone.Key, p.user.Key}) {
			t.Errorf("Partitions() = %v, %v; want both", parts, err)
		}
		prof, err := f.s.Profile(ctx(t), p.phone.Key)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := prof.Suppressed["marketing"]; !ok || len(prof.Ledger) != 1 {
			t.Errorf("Profile(phone) = %+v, want the STOP recorded under the BSUID", prof)
		}
		if d := f.resolve(t, p.user); d.Subject != p.phone.Key {
			t.Errorf("BSUID alone after the merge: subject %q, want the phone's", d.Subject)
		}
	})
}

// TestIdentityConflict makes an attachment stale between Identify and the
// write: the write fails with ErrConflict and nothing is stored.
func TestIdentityConflict(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		p := newPerson(t)
		keys := []identity.ID{p.user.ID}
		known, err := f.s.Identify(ctx(t), keys)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := identity.Decide(keys, known)
		a, err := f.s.PrepareAttach(ctx(t), d, known, []store.Identifier{p.user})
		if err != nil {
			t.Fatal(err)
		}
		f.resolve(t, p.phone, p.user) // a concurrent event attaches the BSUID to the phone
		lookup := randomID(t)
		err = f.s.PutInbound(ctx(t), store.Inbound{Subject: d.Subject, Lookup: lookup, Type: "text", Body: []byte("x"), At: f.now,
			Class: retention.ClassSupport, Attach: a}, store.Unit{})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("PutInbound(stale attachment) err = %v, want ErrConflict", err)
		}
	})
}
