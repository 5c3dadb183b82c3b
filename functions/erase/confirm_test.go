package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/identity"
	"github.com/waguard/waguard/shared/outbound"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

func TestConfirmationContent(t *testing.T) {
	for _, tc := range []struct {
		name       string
		c          Confirmation
		inWindow   bool
		text, tmpl string // "" none; tmpl as name:language
	}{
		{"text in the window", Confirmation{Text: "bye"}, true, "bye", ""},
		{"text outside the window", Confirmation{Text: "bye"}, false, "", ""},
		{"text outside the window, template", Confirmation{Text: "bye", Template: "erasure_done:en"}, false, "", "erasure_done:en"},
		{"text in the window, template too", Confirmation{Text: "bye", Template: "erasure_done:en"}, true, "bye", ""},
		{"template only", Confirmation{Template: "erasure_done:en_US"}, true, "", "erasure_done:en_US"},
		{"template without a language", Confirmation{Template: "erasure_done"}, false, "", "erasure_done:"},
		{"nothing configured", Confirmation{}, true, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, tmpl, ok := tc.c.content(tc.inWindow)
			gotText, gotTmpl := "", ""
			if text != nil {
				gotText = *text
			}
			if tmpl != nil {
				gotTmpl = tmpl.Name + ":" + tmpl.Language
			}
			if gotText != tc.text || gotTmpl != tc.tmpl || ok != (tc.text != "" || tc.tmpl != "") {
				t.Errorf("content(%v) = %q, %q, %v; want %q, %q", tc.inWindow, gotText, gotTmpl, ok, tc.text, tc.tmpl)
			}
		})
	}
}

func TestConfirmationDue(t *testing.T) {
	s := &fakeSender{}
	for _, tc := range []struct {
		name string
		c    *Confirmation
		step string
		want bool
	}{
		{"none", nil, "", false},
		{"no sender", &Confirmation{Text: "bye"}, "", false},
		{"nothing to send", &Confirmation{Sender: s}, "", false},
		{"new request", &Confirmation{Sender: s, Text: "bye"}, "", true},
		{"template", &Confirmation{Sender: s, Template: "t:en"}, "", true},
		{"already confirmed", &Confirmation{Sender: s, Text: "bye"}, stepConfirmed, false},
		{"already suppressed", &Confirmation{Sender: s, Text: "bye"}, stepSuppressed, false},
	} {
		if got := tc.c.due(store.ErasureRequest{Step: tc.step}); got != tc.want {
			t.Errorf("%s: due() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRecipientFrom(t *testing.T) {
	phoneID := store.Identifier{ID: identity.ID{Kind: identity.KindPhone}, Value: num1}
	userIDent := store.Identifier{ID: identity.ID{Kind: identity.KindUser}, Value: userID}
	bad := store.Identifier{ID: identity.ID{Kind: identity.KindPhone}, Value: "not a number"}
	for _, tc := range []struct {
		name string
		ids  []store.Identifier
		msgs []store.Message
		want storedID
		ok   bool
	}{
		{name: "phone before user id", ids: []store.Identifier{userIDent, phoneID}, want: storedID{phone: num1}, ok: true},
		{name: "user id alone", ids: []store.Identifier{userIDent}, want: storedID{user: userID}, ok: true},
		{name: "unreadable identifier", ids: []store.Identifier{bad}},
		{name: "a message's number", msgs: []store.Message{{}, {Content: store.Content{Phone: num2}}}, want: storedID{phone: num2}, ok: true},
		{name: "a message's user id", msgs: []store.Message{{Content: store.Content{UserID: userID}}}, want: storedID{user: userID}, ok: true},
		{name: "nothing", msgs: []store.Message{{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				who storedID
				ok  bool
			)
			if tc.ids != nil {
				_, who, ok = recipientFromIdentifiers(tc.ids)
			} else {
				_, who, ok = recipientFromMessages(tc.msgs)
			}
			if who != tc.want || ok != tc.ok {
				t.Errorf("recipient = %+v, %v; want %+v, %v", who, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestConfirmationMessage(t *testing.T) {
	r := store.ErasureRequest{ID: "er_1", Subject: "S", Pseudonym: "P"}
	to, who, _ := recipientOf(identity.KindPhone, num1)
	m := confirmationMessage(r, to, who, "msg_1", t0)
	want := store.Outbound{Subject: "S", ID: "msg_1", Phone: num1, Purpose: retention.ClassTransactional, ClientID: "erasure", At: t0}
	if diff := cmp.Diff(want, m.Record); diff != "" {
		t.Errorf("confirmationMessage().Record mismatch (-want +got):\n%s", diff)
	}
	if m.Audit.Subject != "P" || m.Audit.Actor.Caller != "erasure" || m.Audit.RequestID != "er_1" || m.Audit.Details["reason"] != "erasure_confirmation" {
		t.Errorf("confirmationMessage().Audit = %+v, want the erasure's confirmation", m.Audit)
	}
}

// TestConfirmation runs the final confirmation inside the erasure with a
// fake sender: what is sent, to whom, and that the erasure goes on and
// never sends twice whatever the outcome.
func TestConfirmation(t *testing.T) {
	tests := []struct {
		name     string
		c        Confirmation
		setup    func(fx *fixture, s string)
		sendErr  error
		sent     string // "" nothing; "text:<body>" or "template:<name>"
		to       storedID
		resumed  bool // the first run stops before the suppression; the next sends
		recorded bool // step confirmed recorded
	}{
		{name: "text in the window", c: Confirmation{Text: "bye"}, setup: inWindow, sent: "text:bye", to: storedID{phone: num1}, recorded: true},
		{name: "template outside the window", c: Confirmation{Text: "bye", Template: "erasure_done:en"}, sent: "template:erasure_done",
			to: storedID{phone: num1}, recorded: true},
		{name: "text outside the window", c: Confirmation{Text: "bye"}},
		{name: "no identifier, past expired messages", c: Confirmation{Template: "erasure_done:en"}, setup: pastExpired, sent: "template:erasure_done",
			to: storedID{phone: num2}, recorded: true},
		{name: "nobody to write to", c: Confirmation{Template: "erasure_done:en"}, setup: nobody},
		{name: "not recorded", c: Confirmation{Template: "erasure_done:en"}, sendErr: fmt.Errorf("%w: down", outbound.ErrNotRecorded),
			sent: "template:erasure_done", to: storedID{phone: num1}, resumed: true, recorded: true},
		{name: "sent but not confirmed", c: Confirmation{Template: "erasure_done:en"}, sendErr: fmt.Errorf("%w: down", outbound.ErrNotConfirmed),
			recorded: true},
		{name: "no provider", c: Confirmation{Template: "erasure_done:en"}, sendErr: outbound.ErrNoProvider},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.quiet()
			s := keyOf(num1)
			fx.store.identifiers[s] = []store.Identifier{{ID: identity.ID{Kind: identity.KindPhone, Key: "I"}, Value: num1}}
			fx.store.message(s, 0, store.Message{Content: store.Content{Phone: num1}}, false)
			if tc.setup != nil {
				tc.setup(fx, s)
			}
			sender := &fakeSender{err: tc.sendErr}
			c := tc.c
			c.Sender = sender
			fx.h.Confirm = &c
			r, _ := fx.store.OpenErasure(context.Background(), store.ErasureRequest{ID: openID, Subject: s, Pseudonym: "P", RequestedAt: t0}, store.Unit{})
			got, err := fx.h.process(context.Background(), r.ID)
			if tc.resumed {
				if !errors.Is(err, outbound.ErrNotRecorded) || len(fx.store.erased) != 0 {
					t.Fatalf("process() err = %v with %d keys suppressed, want ErrNotRecorded before the suppression", err, len(fx.store.erased))
				}
				sender.err = nil
				got, err = fx.h.process(context.Background(), r.ID)
			}
			if err != nil || got.Status != "completed" {
				t.Fatalf("process() = %s, %v; want completed: a confirmation never keeps data", got.Status, err)
			}
			var sent string
			if len(sender.sent) == 1 {
				m := sender.sent[0]
				switch {
				case m.Text != nil:
					sent = "text:" + *m.Text
				case m.Template != nil:
					sent = "template:" + m.Template.Name
				}
				if (storedID{phone: m.Record.Phone, user: m.Record.UserID}) != tc.to {
					t.Errorf("sent to %+v, want %+v", storedID{phone: m.Record.Phone, user: m.Record.UserID}, tc.to)
				}
			}
			if sent != tc.sent || len(sender.sent) > 1 {
				t.Errorf("sent %d: %q, want once %q", len(sender.sent), sent, tc.sent)
			}
			if recorded := len(fx.store.steps) > 0 && fx.store.steps[0] == stepConfirmed; recorded != tc.recorded {
				t.Errorf("steps %v: confirmed recorded %v, want %v", fx.store.steps, recorded, tc.recorded)
			}
		})
	}
}

func inWindow(fx *fixture, s string) {
	fx.store.profiles[s] = store.Profile{LastInbound: t0.Add(-time.Hour)}
}

// pastExpired leaves no identifier and a first page of expired messages
// only (TTL deletes late): the number is in a later page.
func pastExpired(fx *fixture, s string) {
	fx.store.identifiers[s] = nil
	fx.store.items[s] = nil
	for i := range recipientPage {
		fx.store.message(s, i, store.Message{Content: store.Content{Phone: num1}}, true)
	}
	fx.store.message(s, recipientPage, store.Message{Content: store.Content{Phone: num2}}, false)
}

func nobody(fx *fixture, s string) {
	fx.store.identifiers[s] = nil
	fx.store.items[s] = nil
}
