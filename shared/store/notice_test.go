package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/notice"
	"github.com/waguard/waguard/shared/store"
)

// noticeGrant is a marketing grant recorded with the notice text.
func noticeGrant(t *testing.T, f *fixture, subject, text string) store.ConsentEvent {
	t.Helper()
	ev := store.ConsentEvent{ID: "cev_" + randomID(t), Purpose: "marketing", Action: store.ActionGrant, Method: "web_form",
		Notice: text, Actor: "test", At: f.now}
	if err := f.s.RecordConsent(ctx(t), subject, ev, store.SuppressionLift, "", store.Unit{}); err != nil {
		t.Fatalf("RecordConsent(notice) err = %v, want nil", err)
	}
	return ev
}

// TestConsentNoticeIsRegisteredOnce: a grant with a notice registers the
// text under its id, the ledger entry names the id, and later grants with
// the same text (another person, a later time) name it again without
// changing the registered notice.
func TestConsentNoticeIsRegisteredOnce(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		text := "Marketing messages from Example Ltd. Notice " + randomID(t)
		id := notice.ID(text)
		first := f.now
		a, b := randomID(t), randomID(t)
		noticeGrant(t, f, a, text)
		f.now = f.now.Add(time.Hour)
		noticeGrant(t, f, b, text)
		for _, subject := range []string{a, b} {
			p, err := f.s.Profile(ctx(t), subject)
			if err != nil || len(p.Ledger) != 1 || p.Ledger[0].NoticeSHA256 != id {
				t.Errorf("Profile() ledger = %+v (err %v), want one entry naming notice %s", p.Ledger, err, id)
			}
		}
		got, err := f.s.Notice(ctx(t), id)
		if err != nil || got.Text != text || got.SHA256 != id || !got.RecordedAt.Equal(first) {
			t.Errorf("Notice() = %+v, %v; want the text, recorded at the first grant %v", got, err, first)
		}
		// Never expired, never swept: no TTL and no retention class (the
		// sweep reads only the by-expiry index, keyed by exp_bucket).
		raw, err := f.db.GetItem(ctx(t), &dynamodb.GetItemInput{TableName: &f.data, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: store.NoticePK(id)}, "sk": &types.AttributeValueMemberS{Value: "notice"}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"expires_at", "exp_bucket", "class"} {
			if _, ok := raw.Item[name]; ok {
				t.Errorf("notice item has %s, want none (notices are kept)", name)
			}
		}
		if _, err := f.s.Notice(ctx(t), notice.ID("never registered "+randomID(t))); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Notice(unknown) err = %v, want ErrNotFound", err)
		}
	})
}

// TestConsentNoticeRegistrationRace: two grants that both saw the notice
// unregistered commit one after the other; the second must neither fail
// nor change the notice registered by the first.
func TestConsentNoticeRegistrationRace(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		text := "Race notice " + randomID(t)
		first := f.now
		late := store.ConsentEvent{ID: "cev_" + randomID(t), Purpose: "marketing", Action: store.ActionGrant, Method: "web_form",
			Notice: text, Actor: "test", At: f.now}
		items, err := f.s.ConsentWrites(ctx(t), randomID(t), late, store.SuppressionLift, "") // read before the other grant registers it
		if err != nil {
			t.Fatalf("ConsentWrites() err = %v", err)
		}
		noticeGrant(t, f, randomID(t), text)
		f.now = f.now.Add(time.Hour)
		if _, err := f.db.TransactWriteItems(ctx(t), &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
			t.Fatalf("commit of the second registration err = %v, want nil", err)
		}
		if got, err := f.s.Notice(ctx(t), notice.ID(text)); err != nil || got.Text != text || !got.RecordedAt.Equal(first) {
			t.Errorf("Notice() = %+v, %v; want the text recorded at %v", got, err, first)
		}
	})
}

// TestConsentNoticeRefusedWhenInconsistent: an entry whose notice id does
// not name its text, an id without a text, or a text that is not a
// notice is refused, and nothing is written.
func TestConsentNoticeRefusedWhenInconsistent(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		for _, tc := range []struct {
			name, text, id string
		}{
			{"id of another text", "one text", notice.ID("another text")},
			{"id without a text", "", notice.ID("some text")},
			{"invalid UTF-8", "bad \xff", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				subject := randomID(t)
				ev := store.ConsentEvent{ID: "cev_" + randomID(t), Purpose: "marketing", Action: store.ActionGrant, Method: "web_form",
					Notice: tc.text, NoticeSHA256: tc.id, Actor: "test", At: f.now}
				if err := f.s.RecordConsent(ctx(t), subject, ev, store.SuppressionLift, "", store.Unit{}); err == nil {
					t.Errorf("RecordConsent() err = nil, want an error")
				}
				if n := len(partitionItems(t, f, subject)); n != 0 {
					t.Errorf("partition has %d items after a refused entry, want 0", n)
				}
			})
		}
	})
}

// TestConsentNoticeByID: an entry may name a registered notice by its id
// alone (a grant confirming a pending one copies the pending entry's),
// and it registers nothing.
func TestConsentNoticeByID(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject, text := randomID(t), "Confirmed notice "+randomID(t)
		noticeGrant(t, f, subject, text)
		ev := store.ConsentEvent{ID: "cev_" + randomID(t), Purpose: "marketing", Action: store.ActionGrant, Method: "whatsapp_confirm",
			NoticeSHA256: notice.ID(text), Actor: "test", At: f.now}
		if err := f.s.RecordConsent(ctx(t), subject, ev, store.SuppressionLift, "", store.Unit{}); err != nil {
			t.Fatalf("RecordConsent(id of a registered notice) err = %v, want nil", err)
		}
		p, err := f.s.Profile(ctx(t), subject)
		if err != nil || len(p.Ledger) != 2 || p.Ledger[1].NoticeSHA256 != notice.ID(text) {
			t.Errorf("Profile() = %+v, %v; want the second entry naming the notice", p.Ledger, err)
		}
	})
}

// TestConsentNoticeOutlivesErasure: a notice is the business's text, not
// the person's data: erasing a person who was shown it leaves it.
func TestConsentNoticeOutlivesErasure(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject, text := randomID(t), "Erasure notice "+randomID(t)
		noticeGrant(t, f, subject, text)
		eraseSubject(t, f, subject)
		for _, it := range partitionItems(t, f, subject) {
			t.Errorf("item %v left in the erased partition", it["sk"].(*types.AttributeValueMemberS).Value)
		}
		if got, err := f.s.Notice(ctx(t), notice.ID(text)); err != nil || got.Text != text {
			t.Errorf("Notice() after the erasure = %+v, %v; want the notice", got, err)
		}
	})
}
