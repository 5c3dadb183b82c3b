package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// TestConfirmLostKeepsTheRecipient completes a message recorded as
// sending, as a status carrying its callback data does when the send
// never recorded Meta's answer: the confirmed message keeps everything
// the send stored, the recipient's user id and the message's kind too.
// Before, SendingOutbound dropped the user id, so a message sent to a
// BSUID lost its recipient when a lost confirmation was repaired.
func TestConfirmLostKeepsTheRecipient(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject, lookup := randomID(t), randomID(t)
		id := "msg_" + lettersID(t)
		sending := store.Outbound{Subject: subject, ID: id, UserID: "US.13491208655302741918", Body: []byte("hello"), Type: store.OutboundText,
			Purpose: retention.ClassSupport, Status: store.StatusSending, ClientID: "ops", At: f.now}
		if err := f.s.PutOutbound(ctx(t), sending, store.Unit{}); err != nil {
			t.Fatalf("PutOutbound() err = %v", err)
		}
		m, err := f.s.SendingOutbound(ctx(t), subject, id)
		if err != nil {
			t.Fatalf("SendingOutbound() err = %v", err)
		}
		m.Status, m.ProviderID, m.Lookup = "sent", "wamid.lost"+lookup, lookup
		c, err := f.s.PrepareConfirm(ctx(t), m)
		if err != nil {
			t.Fatalf("PrepareConfirm() err = %v", err)
		}
		if err := f.s.Confirm(ctx(t), c, store.Unit{}); err != nil {
			t.Fatalf("Confirm() err = %v", err)
		}
		msgs, _, err := f.s.Messages(ctx(t), subject, "", 10)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("Messages() = %d messages, %v; want 1", len(msgs), err)
		}
		got := msgs[0]
		want := store.Message{ID: id, Partition: subject, SK: "msg#out#" + id, Direction: "out", Type: store.OutboundText, Class: "support",
			Status: "sent", Lookup: lookup, At: f.now,
			Content: store.Content{UserID: sending.UserID, ProviderID: m.ProviderID, Body: []byte("hello")}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("confirmed message mismatch (-want +got):\n%s", diff)
		}
	})
}

// TestMessageByID finds inbound and outbound messages by their ids, and
// nothing for an unknown id, an expired message or an erased subject's.
func TestMessageByID(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject, lookup := randomID(t), randomID(t)
		in := store.Inbound{Subject: subject, Lookup: lookup, Phone: "+447700900003", ProviderID: "wamid.in" + lookup, Type: "text",
			Body: []byte("hi"), At: f.now, Class: retention.ClassSupport}
		if err := f.s.PutInbound(ctx(t), in, store.Unit{}); err != nil {
			t.Fatalf("PutInbound() err = %v", err)
		}
		out := store.Outbound{Subject: subject, ID: "msg_" + lettersID(t), Phone: in.Phone, Body: []byte("re"), Type: store.OutboundText,
			Purpose: retention.ClassSupport, Status: store.StatusSending, At: f.now}
		if err := f.s.PutOutbound(ctx(t), out, store.Unit{}); err != nil {
			t.Fatalf("PutOutbound() err = %v", err)
		}
		inID := store.InboundMessageID(lookup)
		for _, tc := range []struct{ id, direction, body string }{{inID, "in", "hi"}, {out.ID, "out", "re"}} {
			r, err := f.s.MessageByID(ctx(t), tc.id)
			if err != nil || r.ID != tc.id || r.Direction != tc.direction || !r.At.Equal(f.now) {
				t.Fatalf("MessageByID(%s) = %+v, %v; want the %s message", tc.direction, r, err, tc.direction)
			}
			m, err := f.s.OpenMessage(ctx(t), r)
			if err != nil || string(m.Content.Body) != tc.body || m.Partition != subject {
				t.Errorf("OpenMessage(%s) = %v, %v; want its body", tc.direction, m.Content, err)
			}
		}
		if _, err := f.s.MessageByID(ctx(t), "msg_"+lettersID(t)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MessageByID(unknown) err = %v, want ErrNotFound", err)
		}
		refs, err := f.s.MessageRefs(ctx(t), subject)
		if err != nil || len(refs) != 2 {
			t.Fatalf("MessageRefs() = %d, %v; want 2", len(refs), err)
		}
		days, _ := retention.DefaultPolicy().Days(retention.ClassSupport)
		f.now = f.now.Add(time.Duration(days)*24*time.Hour + time.Hour)
		if _, err := f.s.MessageByID(ctx(t), inID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MessageByID(expired) err = %v, want ErrNotFound", err)
		}
	})
}

// TestErasureHidesMessages: once a subject is suppressed for erasure its
// messages are not read while the erasure deletes them, and after a fresh
// consent lifted it only what was written since is.
func TestErasureHidesMessages(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject, lookup := randomID(t), randomID(t)
		if err := f.s.PutInbound(ctx(t), store.Inbound{Subject: subject, Lookup: lookup, Phone: "+447700900004", ProviderID: "wamid.e" + lookup,
			Type: "text", Body: []byte("before"), At: f.now, Class: retention.ClassSupport}, store.Unit{}); err != nil {
			t.Fatal(err)
		}
		if err := f.s.MarkErased(ctx(t), subject, "er_TEST", f.now); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.MessageByID(ctx(t), store.InboundMessageID(lookup)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MessageByID(erased) err = %v, want ErrNotFound", err)
		}
		if refs, err := f.s.MessageRefs(ctx(t), subject); err != nil || len(refs) != 0 {
			t.Errorf("MessageRefs(erased) = %d, %v; want none", len(refs), err)
		}
		if err := f.s.RecordContact(ctx(t), subject, "ct_ERASED"); err != nil {
			t.Errorf("RecordContact(erased) err = %v, want nil (nothing written)", err)
		}
		if _, err := f.s.ContactSubject(ctx(t), "ct_ERASED"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ContactSubject(erased) err = %v, want ErrNotFound", err)
		}
	})
}

// TestContactRoundTrip records a contact id once and finds its subject.
func TestContactRoundTrip(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject, contact := randomID(t), "ct_"+lettersID(t)
		for range 2 { // the second call finds it recorded
			if err := f.s.RecordContact(ctx(t), subject, contact); err != nil {
				t.Fatalf("RecordContact() err = %v", err)
			}
		}
		if got, err := f.s.ContactSubject(ctx(t), contact); err != nil || got != subject {
			t.Errorf("ContactSubject() = %q, %v; want the subject", got, err)
		}
		if got, _, err := f.s.SubjectOf(ctx(t), subject); err != nil || got != subject {
			t.Errorf("SubjectOf(no alias) = %q, %v; want the partition itself", got, err)
		}
	})
}
