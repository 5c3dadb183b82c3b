package main

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/consent"
)

// TestGatewayDoubleOptIn follows a double opt-in through the local
// gateway and the deployed functions (the local stack configures a
// confirmation template): a grant asking a confirmation answers 202
// pending and sends the template; a marketing send is refused while it
// is pending; the sandbox delivers the person's tap on the template's
// button, redelivered three times; the ledger then holds one grant that
// confirms the pending entry, and the send is allowed.
func TestGatewayDoubleOptIn(t *testing.T) {
	h, _, st := newStackHandler(t)
	a := newAPI(t, st)
	from := testNumber(t)
	notice := "Offers from Example Ltd on WhatsApp; tap Yes to confirm. (" + strconv.FormatInt(time.Now().UnixNano(), 36) + ")"
	status, out := a.post("/v1/consents", map[string]string{"phone": "+" + from, "purpose": "marketing", "action": "grant",
		"method": "web_form", "policy_version": "2026-05", "notice": notice, "confirm": "whatsapp"})
	id, _ := out["id"].(string)
	if status != 202 || out["state"] != "pending" || out["confirmation"] != "sent" {
		t.Fatalf("grant with confirm = %d %v, want 202 pending, confirmation sent", status, out)
	}
	send := map[string]any{"to": "+" + from, "purpose": "marketing", "template": map[string]any{"name": "order_update", "language": "en_US"}}
	if status, out := a.post("/v1/messages", send); status != 403 || out["error"].(map[string]any)["code"] != "consent_required" {
		t.Fatalf("send while pending = %d %v, want 403 consent_required", status, out)
	}
	at := deliver(t, st, map[string]any{"kind": "button", "from": from, "button_payload": consent.ConfirmPayload(id),
		"button_text": "Yes, subscribe", "repeat": 2})
	if at[0].Status != 200 || at[0].Body["received"] != 1.0 || at[2].Body["duplicates"] != 1.0 {
		t.Fatalf("tap = %v, want received 1, then duplicates", at)
	}
	_, q := a.post("/v1/consents/query", map[string]string{"phone": "+" + from})
	ledger, _ := q["ledger"].([]any)
	if len(ledger) != 2 {
		t.Fatalf("ledger = %v, want the pending entry and its confirmation", ledger)
	}
	grant := ledger[1].(map[string]any)
	if grant["action"] != "grant" || grant["method"] != consent.MethodConfirm || grant["confirms"] != id || grant["policy_version"] != "2026-05" ||
		grant["notice_sha256"] != ledger[0].(map[string]any)["notice_sha256"] || grant["notice_sha256"] == nil {
		t.Errorf("confirmation = %v, want a whatsapp_confirm grant confirming %s with the pending entry's policy and notice", grant, id)
	}
	if p := q["purposes"].(map[string]any)["marketing"]; fmt.Sprint(p) != "map[state:granted suppressed:false]" {
		t.Errorf("marketing = %v, want granted", p)
	}
	if status, out := a.post("/v1/messages", send); status != 202 {
		t.Fatalf("send after the confirmation = %d %v, want 202", status, out)
	}
	sub, _ := h.Subjects.Find(context.Background(), whoNumber(t, from))
	if got := consentRecords(t, h, sub.Key); got != 2 {
		t.Errorf("consent.changed records = %d, want 2 (pending, grant)", got)
	}
}
