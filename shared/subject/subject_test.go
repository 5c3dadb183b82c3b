package subject_test

import (
	"context"
	"errors"
	"testing"

	"github.com/waguard/waguard/shared/blindindex"
	"github.com/waguard/waguard/shared/bsuid"
	"github.com/waguard/waguard/shared/identity"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// fakeIdentities answers Identify from a map and records attachments.
type fakeIdentities struct {
	known    map[string]identity.Known
	err      error
	attached []identity.Decision
}

func (f *fakeIdentities) Identify(ctx context.Context, ids []identity.ID) (map[string]identity.Known, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.known, f.err
}

func (f *fakeIdentities) PrepareAttach(ctx context.Context, d identity.Decision, _ map[string]identity.Known, _ []store.Identifier) (store.Attachment, error) {
	f.attached = append(f.attached, d)
	return store.Attachment{}, ctx.Err()
}

func keys(t *testing.T) *blindindex.Keys {
	k, err := blindindex.NewKeys(make([]byte, 32), append(make([]byte, 31), 1))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, phone, user string
		want              error
	}{
		{"phone", "+12025550142", "", nil},
		{"user id", "", "US.13491208655302741918", nil},
		{"parent user id", "", "US.ENT.11815799212886844830", nil},
		{"both", "+12025550142", "US.13491208655302741918", subject.ErrOneIdentifier},
		{"neither", "", "", subject.ErrOneIdentifier},
		{"bad phone", "0044", "", subject.ErrInvalidPhone},
		{"bad user id", "", "us.1349", subject.ErrInvalidUserID},
		{"user id with space", "", " US.1", subject.ErrInvalidUserID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := subject.Parse(tc.phone, tc.user)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse() err = %v, want %v", err, tc.want)
			}
			if err == nil && w.Empty() {
				t.Errorf("Parse() = empty Who, want an identifier")
			}
		})
	}
}

func TestFind(t *testing.T) {
	k := keys(t)
	n, err1 := phone.Parse("+12025550142")
	u, err2 := bsuid.Parse("US.13491208655302741918")
	pk, pp, err3 := k.ForPhone(n)
	uk, up, err4 := k.ForUser(u.Reveal())
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatalf("test identifiers: %v", err)
	}
	tests := []struct {
		name      string
		who       subject.Who
		known     map[string]identity.Known
		wantKey   string
		wantPseu  string
		wantKnown bool
	}{
		{"unknown number: its own key", subject.Who{Phone: n}, nil, pk, pp, false},
		{"unknown user id: its own key", subject.Who{User: u}, nil, uk, up, false},
		{"user id linked to the number", subject.Who{User: u}, map[string]identity.Known{uk: {Subject: pk, Pseudonym: pp, Attached: true}}, pk, pp, true},
		{"number with old data", subject.Who{Phone: n}, map[string]identity.Known{pk: {Subject: pk, Pseudonym: pp}}, pk, pp, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := subject.New(k, &fakeIdentities{known: tc.known})
			got, err := f.Find(context.Background(), tc.who)
			if err != nil {
				t.Fatalf("Find() err = %v", err)
			}
			if got.Key != tc.wantKey || got.Pseudonym != tc.wantPseu || got.Known != tc.wantKnown {
				t.Errorf("Find() = %+v, want key %q pseudonym %q known %v", got, tc.wantKey, tc.wantPseu, tc.wantKnown)
			}
		})
	}
}

func TestForWriteAndErrors(t *testing.T) {
	k := keys(t)
	n, _ := phone.Parse("+12025550142")
	u, _ := bsuid.Parse("US.13491208655302741918")
	fi := &fakeIdentities{}
	f := subject.New(k, fi)
	sub, _, err := f.ForWrite(context.Background(), subject.Who{Phone: n, User: u})
	if err != nil || len(sub.Keys) != 2 || len(fi.attached) != 1 || len(fi.attached[0].Attach) != 2 {
		t.Errorf("ForWrite(new person by both) = %+v, %v; attached %+v, want both identifiers attached", sub, err, fi.attached)
	}
	if _, err := f.Find(context.Background(), subject.Who{}); !errors.Is(err, subject.ErrNobody) {
		t.Errorf("Find(nobody) err = %v, want ErrNobody", err)
	}
	down := subject.New(k, &fakeIdentities{err: errors.New("dynamodb down")})
	if _, err := down.Find(context.Background(), subject.Who{Phone: n}); err == nil {
		t.Errorf("Find() with the table down err = nil, want an error")
	}
}
