package store_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/waguard/waguard/shared/identity"
	"github.com/waguard/waguard/shared/store"
)

// TestAttachNow: an identity change that stores nothing else commits on
// its own, says whether it links identifiers of one person, and fails
// with ErrConflict when the attachment it was decided on changed; in a
// caller's own transaction IsConflict tells the same.
func TestAttachNow(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		p := newPerson(t)
		prepare := func(ids ...store.Identifier) (store.Attachment, identity.Decision) {
			t.Helper()
			var keys []identity.ID
			for _, id := range ids {
				keys = append(keys, id.ID)
			}
			known, err := f.s.Identify(ctx(t), keys)
			if err != nil {
				t.Fatal(err)
			}
			d, err := identity.Decide(keys, known)
			if err != nil {
				t.Fatal(err)
			}
			a, err := f.s.PrepareAttach(ctx(t), d, known, ids)
			if err != nil {
				t.Fatal(err)
			}
			return a, d
		}
		alone, _ := prepare(p.phone)
		if alone.Empty() || alone.Links() || alone.Merges() != 0 {
			t.Errorf("a new phone alone: empty %t, links %t, merges %d; want writes that link nothing", alone.Empty(), alone.Links(), alone.Merges())
		}
		both, _ := prepare(p.phone, p.user)
		stale, _ := prepare(p.user) // decided before the phone took the user id
		if err := f.s.AttachNow(ctx(t), both, store.Unit{}); err != nil {
			t.Fatalf("AttachNow() err = %v", err)
		}
		if !both.Links() {
			t.Errorf("phone and user id together: Links() = false, want true")
		}
		if err := f.s.AttachNow(ctx(t), stale, store.Unit{}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("AttachNow(stale) err = %v, want ErrConflict", err)
		}
		_, err := f.db.TransactWriteItems(ctx(t), &dynamodb.TransactWriteItemsInput{TransactItems: stale.TransactItems()})
		if !stale.IsConflict(err, 0) {
			t.Errorf("IsConflict(own transaction err %v) = false, want true", err)
		}
		again, _ := prepare(p.phone, p.user)
		if !again.Empty() || again.Links() {
			t.Errorf("known identifiers again: empty %t, links %t; want nothing to write", again.Empty(), again.Links())
		}
		if err := f.s.AttachNow(ctx(t), again, store.Unit{}); err != nil {
			t.Errorf("AttachNow(nothing) err = %v, want nil", err)
		}
		names, err := f.s.Usernames(ctx(t), p.phone.Key)
		if err != nil || len(names) != 0 {
			t.Errorf("Usernames() = %q, %v; want none", names, err)
		}
	})
}
