package identity_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/waguard/waguard/shared/identity"
)

var (
	phone  = identity.ID{Kind: identity.KindPhone, Key: "kP", Pseudonym: "pP"}
	user   = identity.ID{Kind: identity.KindUser, Key: "kU", Pseudonym: "pU"}
	parent = identity.ID{Kind: identity.KindParentUser, Key: "kE", Pseudonym: "pE"}
)

func TestDecide(t *testing.T) {
	tests := []struct {
		name  string
		ids   []identity.ID
		known map[string]identity.Known
		want  identity.Decision
	}{
		{"new person by phone", []identity.ID{phone}, nil,
			identity.Decision{Subject: "kP", Pseudonym: "pP", Attach: []identity.ID{phone}}},
		{"new person by BSUID only", []identity.ID{user}, nil,
			identity.Decision{Subject: "kU", Pseudonym: "pU", Attach: []identity.ID{user}}},
		{"new person by both: home is the phone", []identity.ID{user, phone}, nil,
			identity.Decision{Subject: "kP", Pseudonym: "pP", Attach: []identity.ID{phone, user}}},
		{"data from before identities: the phone is its own subject", []identity.ID{phone},
			map[string]identity.Known{"kP": {Subject: "kP", Pseudonym: "pP"}},
			identity.Decision{Subject: "kP", Pseudonym: "pP", Attach: []identity.ID{phone}}},
		{"attached, nothing to do", []identity.ID{phone}, map[string]identity.Known{"kP": {Subject: "kP", Pseudonym: "pP", Attached: true}},
			identity.Decision{Subject: "kP", Pseudonym: "pP"}},
		{"known phone shows its BSUID", []identity.ID{phone, user}, map[string]identity.Known{"kP": {Subject: "kP", Pseudonym: "pP", Attached: true}},
			identity.Decision{Subject: "kP", Pseudonym: "pP", Attach: []identity.ID{user}}},
		{"BSUID-only event of a linked person", []identity.ID{user}, map[string]identity.Known{"kU": {Subject: "kP", Pseudonym: "pP", Attached: true}},
			identity.Decision{Subject: "kP", Pseudonym: "pP"}},
		{"known BSUID shows a new phone", []identity.ID{phone, user}, map[string]identity.Known{"kU": {Subject: "kU", Pseudonym: "pU", Attached: true}},
			identity.Decision{Subject: "kU", Pseudonym: "pU", Attach: []identity.ID{phone}}},
		{"two subjects with data merge into the phone's", []identity.ID{user, phone},
			map[string]identity.Known{"kP": {Subject: "kP", Pseudonym: "pP", Attached: true}, "kU": {Subject: "kU", Pseudonym: "pU", Attached: true}},
			identity.Decision{Subject: "kP", Pseudonym: "pP", Attach: []identity.ID{user}, Merge: []string{"kU"}}},
		{"parent BSUID joins", []identity.ID{parent, user}, map[string]identity.Known{"kU": {Subject: "kP", Pseudonym: "pP", Attached: true}},
			identity.Decision{Subject: "kP", Pseudonym: "pP", Attach: []identity.ID{parent}}},
		{"duplicates and invalid ids skipped", []identity.ID{user, user, {Kind: "email", Key: "x"}, {Kind: identity.KindPhone}}, nil,
			identity.Decision{Subject: "kU", Pseudonym: "pU", Attach: []identity.ID{user}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := identity.Decide(tc.ids, tc.known)
			if err != nil {
				t.Fatalf("Decide() err = %v, want nil", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Decide() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideNobody(t *testing.T) {
	for _, ids := range [][]identity.ID{nil, {{Kind: identity.KindUser}}, {{Kind: "username", Key: "k"}}} {
		if _, err := identity.Decide(ids, nil); !errors.Is(err, identity.ErrNoIdentifier) {
			t.Errorf("Decide(%v) err = %v, want ErrNoIdentifier", ids, err)
		}
	}
}

func ExampleDecide() {
	// A person known by phone writes for the first time since WhatsApp
	// added BSUIDs: the BSUID is attached to the phone's subject.
	d, _ := identity.Decide([]identity.ID{
		{Kind: identity.KindPhone, Key: "kP", Pseudonym: "pP"},
		{Kind: identity.KindUser, Key: "kU", Pseudonym: "pU"},
	}, map[string]identity.Known{"kP": {Subject: "kP", Pseudonym: "pP", Attached: true}})
	fmt.Println(d.Subject, len(d.Attach), d.Attach[0].Kind)
	// Output: kP 1 user_id
}

func TestDecisionLinks(t *testing.T) {
	phone := identity.ID{Kind: identity.KindPhone, Key: "p"}
	tests := []struct {
		name  string
		d     identity.Decision
		shown int
		want  bool
	}{
		{"nothing new", identity.Decision{Subject: "p"}, 2, false},
		{"the only identifier shown, attached", identity.Decision{Subject: "p", Attach: []identity.ID{phone}}, 1, false},
		{"one of two shown, attached", identity.Decision{Subject: "p", Attach: []identity.ID{phone}}, 2, true},
		{"a merge", identity.Decision{Subject: "p", Merge: []string{"u"}}, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.Links(tc.shown); got != tc.want {
				t.Errorf("%+v.Links(%d) = %t, want %t", tc.d, tc.shown, got, tc.want)
			}
		})
	}
}
