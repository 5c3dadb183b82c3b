package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/shared/bsuid"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// These tests send Meta's BSUID-era shapes (shared/whatsapp/testdata/bsuid,
// with sources) through the production wiring, built per message.

func testUserID(t *testing.T) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1e18))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("US.%020d", n)
}

// msg is one inbound message and its sender as Meta shows them; empty
// fields are omitted, as Meta omits a withheld number.
type msg struct {
	from, userID, username, text string
	at                           time.Time
}

// metaBody is a webhook delivery of msgs in one change.
func metaBody(msgs ...msg) []byte {
	var contacts, messages []map[string]any
	for i, m := range msgs {
		c := map[string]any{"profile": map[string]any{"name": "Test User"}}
		w := map[string]any{"id": sandbox.NewWAMID(strconv.Itoa(1000000+i)+strconv.FormatInt(time.Now().UnixNano(), 10), false),
			"timestamp": strconv.FormatInt(m.at.Unix(), 10), "type": "text", "text": map[string]any{"body": m.text}}
		if m.from != "" {
			c["wa_id"], w["from"] = m.from, m.from
		}
		if m.userID != "" {
			c["user_id"], w["from_user_id"] = m.userID, m.userID
		}
		if m.username != "" {
			c["profile"].(map[string]any)["username"] = m.username
		}
		if m.from != "" || m.userID != "" {
			contacts = append(contacts, c)
		}
		messages = append(messages, w)
	}
	b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "109999999999901",
		"changes": []any{map[string]any{"field": "messages", "value": map[string]any{"messaging_product": "whatsapp",
			"metadata": map[string]any{"display_phone_number": "12025550100", "phone_number_id": sandbox.DefaultPhoneNumberID},
			"contacts": contacts, "messages": messages}}}}}})
	return b
}

func (h *Handler) deliverMeta(t *testing.T, body []byte) (int, string) {
	t.Helper()
	resp, _ := h.Handle(context.Background(), metaRequest(t, h, body))
	return resp.StatusCode, resp.Body
}

func (h *Handler) profileOf(t *testing.T, who subject.Who) store.Profile {
	t.Helper()
	sub, err := h.Subjects.Find(context.Background(), who)
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Store.Profile(context.Background(), sub.Key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustUser(t *testing.T, s string) bsuid.ID {
	t.Helper()
	id, err := bsuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestMixedBatchIsNeverRefused delivers, in one batch, a message from a
// phone-only sender, one from a BSUID-only sender with a username, and
// one that names nobody: 200, two stored, one ignored (before, the whole
// delivery answered 400 malformed_payload and Meta retried it for 7 days).
func TestMixedBatchIsNeverRefused(t *testing.T) {
	h, _, _ := newStackHandler(t)
	now := time.Now()
	status, body := h.deliverMeta(t, metaBody(msg{from: testNumber(t), text: "phone only", at: now},
		msg{userID: testUserID(t), username: "grace.h", text: "bsuid only", at: now}, msg{text: "nobody", at: now}))
	if status != 200 || body != `{"received":2,"duplicates":0,"ignored":1}` {
		t.Errorf("mixed batch = %d %s, want 200 received 2, ignored 1", status, body)
	}
}

// TestBSUIDOnlySenderKeywords gives a BSUID-only user STOP and then START:
// the consent ledger and the suppression follow them as for a number.
func TestBSUIDOnlySenderKeywords(t *testing.T) {
	h, _, _ := newStackHandler(t)
	u := testUserID(t)
	who := subject.Who{User: mustUser(t, u)}
	if status, body := h.deliverMeta(t, metaBody(msg{userID: u, username: "grace.h", text: "STOP", at: time.Now().Add(-2 * time.Second)})); status != 200 || !strings.Contains(body, `"received":1`) {
		t.Fatalf("STOP = %d %s", status, body)
	}
	if p := h.profileOf(t, who); p.Suppressed["marketing"] == "" || p.Consented("marketing") {
		t.Errorf("after STOP: %+v, want marketing suppressed", p)
	}
	if status, body := h.deliverMeta(t, metaBody(msg{userID: u, text: "START", at: time.Now()})); status != 200 || !strings.Contains(body, `"received":1`) {
		t.Fatalf("START = %d %s", status, body)
	}
	if p := h.profileOf(t, who); p.Suppressed["marketing"] != "" || !p.Consented("marketing") || p.LastInbound.IsZero() {
		t.Errorf("after START: %+v, want marketing granted, no suppression, a service window", p)
	}
}

// TestPhoneAndBSUIDLink has a person STOP by phone (before BSUIDs), then
// write with both identifiers, then with the BSUID alone: the STOP holds
// for every identifier, and the BSUID-only message lands in the phone's
// subject.
func TestPhoneAndBSUIDLink(t *testing.T) {
	h, _, _ := newStackHandler(t)
	from, u := testNumber(t), testUserID(t)
	n, _ := phone.ParseWAID(from)
	now := time.Now()
	for i, m := range []msg{{from: from, text: "STOP"}, {from: from, userID: u, text: "hello"}, {userID: u, username: "grace.h", text: "again"}} {
		m.at = now.Add(time.Duration(i-3) * time.Second)
		if status, body := h.deliverMeta(t, metaBody(m)); status != 200 || !strings.Contains(body, `"received":1`) {
			t.Fatalf("message %d = %d %s", i, status, body)
		}
	}
	byPhone, _ := h.Subjects.Find(context.Background(), subject.Who{Phone: n})
	byUser, _ := h.Subjects.Find(context.Background(), subject.Who{User: mustUser(t, u)})
	if byPhone.Key != byUser.Key || byPhone.Pseudonym != byUser.Pseudonym {
		t.Fatalf("the phone and the BSUID lead to different subjects")
	}
	if p := h.profileOf(t, subject.Who{User: mustUser(t, u)}); p.Suppressed["marketing"] == "" {
		t.Errorf("the STOP sent by phone does not hold for the BSUID: %+v", p)
	}
	if got := countPrefix(t, h, byPhone.Key, "msg#in#"); got != 3 {
		t.Errorf("messages in the phone's subject = %d, want 3", got)
	}
}

// TestUserIDChangeKeepsConsent has a BSUID-only user STOP, then Meta
// reports their BSUID changed (a user_changed_user_id system message):
// a message from the new BSUID is the same person, still suppressed.
func TestUserIDChangeKeepsConsent(t *testing.T) {
	h, _, _ := newStackHandler(t)
	old, cur := testUserID(t), testUserID(t)
	if status, body := h.deliverMeta(t, metaBody(msg{userID: old, text: "STOP", at: time.Now().Add(-time.Minute)})); status != 200 || !strings.Contains(body, `"received":1`) {
		t.Fatalf("STOP = %d %s", status, body)
	}
	change, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "109999999999901",
		"changes": []any{map[string]any{"field": "messages", "value": map[string]any{"messaging_product": "whatsapp",
			"metadata": map[string]any{"display_phone_number": "12025550100", "phone_number_id": sandbox.DefaultPhoneNumberID},
			"messages": []any{map[string]any{"id": sandbox.NewWAMID("19999999999", false), "timestamp": strconv.FormatInt(time.Now().Unix(), 10),
				"type": "system", "system": map[string]any{"body": "User Test User changed from an old to a new id", "type": "user_changed_user_id",
					"user_id": cur, "previous_user_id": old}}}}}}}}})
	for i, want := range []string{`"received":1`, `"duplicates":1`} { // the second is Meta's redelivery
		if status, body := h.deliverMeta(t, change); status != 200 || !strings.Contains(body, want) {
			t.Fatalf("change delivery %d = %d %s, want 200 %s", i, status, body, want)
		}
	}
	if status, body := h.deliverMeta(t, metaBody(msg{userID: cur, text: "hello", at: time.Now()})); status != 200 || !strings.Contains(body, `"received":1`) {
		t.Fatalf("message from the new BSUID = %d %s", status, body)
	}
	oldSub, _ := h.Subjects.Find(context.Background(), subject.Who{User: mustUser(t, old)})
	curSub, _ := h.Subjects.Find(context.Background(), subject.Who{User: mustUser(t, cur)})
	if oldSub.Key != curSub.Key {
		t.Errorf("the old and the new BSUID lead to different subjects")
	}
	if p := h.profileOf(t, subject.Who{User: mustUser(t, cur)}); p.Suppressed["marketing"] == "" {
		t.Errorf("the new BSUID lost the STOP: %+v", p)
	}
}
