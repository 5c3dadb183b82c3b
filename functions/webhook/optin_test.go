package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/ids"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// These tests confirm (or refuse to confirm) pending grants of the
// double opt-in through the production wiring: the send function
// records a pending grant (here the store does, as it would), and the
// person's answer arrives as a webhook.

// tapBody is a tap on the confirmation button with payload, from number
// from (testdata/meta/button_quick_reply_confirm.json).
func tapBody(t *testing.T, from, payload string, at time.Time) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "meta", "button_quick_reply_confirm.json"))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.NewReplacer("{{FROM}}", from, "{{WAMID}}", sandbox.NewWAMID(from, false), "{{TS}}", strconv.FormatInt(at.Unix(), 10),
		"{{PAYLOAD}}", payload).Replace(string(raw)))
}

// whoNumber is the person with wa_id from.
func whoNumber(t *testing.T, from string) subject.Who {
	t.Helper()
	n, err := phone.ParseWAID(from)
	if err != nil {
		t.Fatal(err)
	}
	return subject.Who{Phone: n}
}

// pending records a pending grant of purpose for who, as the send
// function does, confirmable until by, and returns its id.
func pending(t *testing.T, h *Handler, who subject.Who, purpose string, by time.Time) string {
	t.Helper()
	sub, err := h.Subjects.Find(context.Background(), who)
	if err != nil {
		t.Fatal(err)
	}
	id := ids.New("cev_")
	if err := h.Store.RecordConsent(context.Background(), sub.Key, store.ConsentEvent{ID: id, Purpose: purpose, Action: consent.ActionPending,
		Method: "web_form", PolicyVersion: "2026-05", Actor: "test", At: time.Now(), ConfirmBy: by}, store.SuppressionKeep, "", store.Unit{}); err != nil {
		t.Fatalf("record pending: %v", err)
	}
	return id
}

// entriesOf is who's ledger: purpose:method:action[>confirms], oldest first.
func entriesOf(t *testing.T, h *Handler, who subject.Who) []string {
	t.Helper()
	var out []string
	for _, ev := range h.profileOf(t, who).Ledger {
		s := ev.Purpose + ":" + ev.Method + ":" + ev.Action
		if ev.Confirms != "" {
			s += ">" + ev.Confirms
		}
		out = append(out, s)
	}
	return out
}

// TestConfirmationButton: the tap confirms the sender's own pending
// grant once, with the pending entry's policy version, and lifts the
// purpose's suppression; a redelivery, a second tap, an expired or
// unknown id and another person's tap confirm nothing, the message being
// stored as usual.
func TestConfirmationButton(t *testing.T) {
	h, _, _ := newStackHandler(t)
	now := time.Now()
	from, other := testNumber(t), testNumber(t)
	who := whoNumber(t, from)
	h.deliverWant(t, "STOP", metaBody(msg{from: from, text: "STOP", at: now.Add(-time.Minute)}), `"received":1`)
	id := pending(t, h, who, "marketing", now.Add(time.Hour))
	if st := h.profileOf(t, who).State("marketing"); st != consent.StatePending {
		t.Fatalf("state with the pending grant = %q, want pending", st)
	}

	h.deliverWant(t, "another person's tap", tapBody(t, other, consent.ConfirmPayload(id), now), `"received":1`)
	if got := entriesOf(t, h, whoNumber(t, other)); len(got) != 0 {
		t.Errorf("the other person's ledger = %v, want empty", got)
	}
	tap := tapBody(t, from, consent.ConfirmPayload(id), now)
	h.deliverWant(t, "tap", tap, `"received":1`)
	h.deliverWant(t, "tap redelivered", tap, `"duplicates":1`)
	h.deliverWant(t, "second tap", tapBody(t, from, consent.ConfirmPayload(id), now.Add(time.Second)), `"received":1`)
	h.deliverWant(t, "unknown id", tapBody(t, from, consent.ConfirmPayload(ids.New("cev_")), now), `"received":1`)

	want := []string{"marketing:whatsapp_keyword:revoke", "marketing:web_form:pending", "marketing:whatsapp_confirm:grant>" + id}
	if got := entriesOf(t, h, who); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ledger = %v, want %v", got, want)
	}
	p := h.profileOf(t, who)
	if _, held := p.Suppressed["marketing"]; held || !p.Consented("marketing") || p.Ledger[2].PolicyVersion != "2026-05" {
		t.Errorf("after the tap: suppressed %v, consented %v, policy %q; want lifted, consented, the pending entry's", held, p.Consented("marketing"), p.Ledger[2].PolicyVersion)
	}
	sub, _ := h.Subjects.Find(context.Background(), who)
	if got := consentRecords(t, h, sub.Key); got != 2 {
		t.Errorf("consent.changed records = %d, want 2 (STOP, the confirmation; the pending one is the send function's)", got)
	}
	if got := len(h.profileOf(t, whoNumber(t, other)).Ledger); got != 0 {
		t.Errorf("the other person's ledger has %d entries, want none", got)
	}
}

// TestConfirmationExpired: a tap after the deadline is stored as a
// message and confirms nothing; the person stays without consent.
func TestConfirmationExpired(t *testing.T) {
	h, _, _ := newStackHandler(t)
	from := testNumber(t)
	who := whoNumber(t, from)
	id := pending(t, h, who, "marketing", time.Now().Add(-time.Minute))
	h.deliverWant(t, "late tap", tapBody(t, from, consent.ConfirmPayload(id), time.Now()), `"received":1`)
	p := h.profileOf(t, who)
	if len(p.Ledger) != 1 || p.State("marketing") != consent.StateNone || p.Consented("marketing") {
		t.Errorf("after a late tap: ledger %v, state %q; want the pending entry alone and none", entriesOf(t, h, who), p.State("marketing"))
	}
}

// TestStartConfirmsPending: START confirms the latest live pending grant
// of each purpose; its own marketing grant is the marketing
// confirmation, so one keyword records one marketing grant.
func TestStartConfirmsPending(t *testing.T) {
	h, _, _ := newStackHandler(t)
	from := testNumber(t)
	who := whoNumber(t, from)
	old := pending(t, h, who, "marketing", time.Now().Add(-time.Minute))
	m := pending(t, h, who, "marketing", time.Now().Add(time.Hour))
	tr := pending(t, h, who, "transactional", time.Now().Add(time.Hour))
	sub, _ := h.Subjects.Find(context.Background(), who)
	start := metaBody(msg{from: from, text: "START", at: time.Now()})
	h.deliverWant(t, "START", start, `"received":1`)
	h.deliverWant(t, "START redelivered", start, `"duplicates":1`)
	want := []string{"marketing:web_form:pending", "marketing:web_form:pending", "transactional:web_form:pending",
		"marketing:whatsapp_keyword:grant>" + m, "transactional:whatsapp_keyword:grant>" + tr}
	if got := entriesOf(t, h, who); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ledger = %v, want %v (the expired %s unconfirmed)", got, want, old)
	}
	p := h.profileOf(t, who)
	if !p.Consented("marketing") || !p.Consented("transactional") {
		t.Errorf("after START: marketing %q, transactional %q; want both granted", p.State("marketing"), p.State("transactional"))
	}
	if got := consentRecords(t, h, sub.Key); got != 2 {
		t.Errorf("consent.changed records = %d, want 2 (one per ledger entry START wrote)", got)
	}
	h.deliverWant(t, "a tap after START", tapBody(t, from, consent.ConfirmPayload(m), time.Now()), `"received":1`)
	if got := len(h.profileOf(t, who).Ledger); got != 5 {
		t.Errorf("ledger after a tap on a confirmed grant has %d entries, want 5", got)
	}
}
