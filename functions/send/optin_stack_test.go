package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/notice"
)

// consentAs posts body to POST /v1/consents with its own request id, so
// the test can read what that request audited.
func (e *env) consentAs(t *testing.T, rid string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, _ := e.h.Handle(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/consents", Body: string(b),
		Headers:        map[string]string{"authorization": "Bearer " + e.key},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: rid, HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.50"}}})
	var out map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &out)
	return resp.StatusCode, out
}

// sandboxPayloads returns the quick-reply payloads of the templates
// named name that the sandbox accepted for number to.
func (e *env) sandboxPayloads(t *testing.T, to, name string) []string {
	t.Helper()
	resp, err := http.Get(e.st.SandboxURL + "/_sandbox/messages")
	if err != nil {
		t.Fatalf("sandbox messages: %v", err)
	}
	defer resp.Body.Close()
	var recs []struct {
		Request struct {
			To       string `json:"to"`
			Template *struct {
				Name       string `json:"name"`
				Components []struct {
					Type, SubType, Index string
					Parameters           []struct{ Type, Payload string }
				} `json:"components"`
			} `json:"template"`
		} `json:"request"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil {
		t.Fatalf("decode sandbox messages: %v", err)
	}
	var out []string
	for _, r := range recs {
		if strings.TrimPrefix(r.Request.To, "+") != strings.TrimPrefix(to, "+") || r.Request.Template == nil || r.Request.Template.Name != name {
			continue
		}
		for _, c := range r.Request.Template.Components {
			for _, p := range c.Parameters {
				if c.Type == "button" && p.Type == "payload" {
					out = append(out, p.Payload)
				}
			}
		}
	}
	return out
}

// TestDoubleOptInRequest: a grant with "confirm": "whatsapp" is recorded
// as pending, with its deadline, the notice, a consent_requested audit
// event and a consent.changed record (action pending) of its own; the
// confirmation template goes to the person with the payload that names
// the entry; and the pending grant allows no send.
func TestDoubleOptInRequest(t *testing.T) {
	t.Setenv("CONSENT_CONFIRM_TEMPLATE", "optin_confirm:en")
	t.Setenv("CONSENT_CONFIRM_HOURS", "48")
	e := newEnv(t)
	to := number(t)
	text := "Example Ltd may send you offers on WhatsApp. (" + randomHex(8) + ")"
	rid := "optin-" + randomHex(6)
	before := time.Now()
	status, out := e.consentAs(t, rid, map[string]string{"phone": to, "purpose": "marketing", "action": "grant", "method": "web_form",
		"notice": text, "confirm": "whatsapp"})
	id, _ := out["id"].(string)
	if status != 202 || out["state"] != "pending" || out["confirmation"] != "sent" || !consent.EventID(id) ||
		!strings.HasPrefix(out["message_id"].(string), "msg_") {
		t.Fatalf("grant with confirm = %d %v, want 202 pending, confirmation sent, a cev_ id and a msg_ id", status, out)
	}
	exp, err := time.Parse(time.RFC3339, out["expires_at"].(string))
	if err != nil || exp.Before(before.Add(48*time.Hour-time.Second)) || exp.After(time.Now().Add(48*time.Hour)) {
		t.Errorf("expires_at = %v, want 48 hours from now", out["expires_at"])
	}
	if got := e.sandboxPayloads(t, to, "optin_confirm"); len(got) != 1 || got[0] != consent.ConfirmPayload(id) {
		t.Errorf("confirmation templates' payloads = %q, want one %q", got, consent.ConfirmPayload(id))
	}

	_, q, _ := e.call(t, "POST /v1/consents/query", e.key, map[string]string{"phone": to})
	if p, _ := q["purposes"].(map[string]any); p["marketing"].(map[string]any)["state"] != "pending" {
		t.Errorf("query marketing = %v, want pending", p["marketing"])
	}
	ledger, _ := q["ledger"].([]any)
	if len(ledger) != 1 {
		t.Fatalf("ledger = %v, want the pending entry", ledger)
	}
	entry := ledger[0].(map[string]any)
	if entry["id"] != id || entry["action"] != "pending" || entry["expires_at"] != out["expires_at"] || entry["notice_sha256"] != notice.ID(text) {
		t.Errorf("ledger entry = %v, want the pending entry %s with its expires_at and notice", entry, id)
	}
	if status, got, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing")); status != 403 || code(got) != "consent_required" {
		t.Errorf("marketing send while pending = %d %v, want 403 consent_required", status, got)
	}

	if evs := e.st.AuditEvents(t, rid, string(audit.EventConsentRequested)); len(evs) != 1 || evs[0].Details["consent_event"] != id {
		t.Errorf("consent_requested events of the request = %v, want one naming %s", evs, id)
	}
	if evs := e.st.AuditEvents(t, rid, string(audit.EventConsentGranted)); len(evs) != 0 {
		t.Errorf("consent_granted events of the request = %d, want none: nothing is granted yet", len(evs))
	}
	if rec := e.consentEventRecord(t, to, id); rec.Fields.Action != "pending" || rec.Fields.NoticeSHA256 != notice.ID(text) {
		t.Errorf("consent.changed record = %+v, want action pending with the notice", rec.Fields)
	}
}

// TestDoubleOptInRequests: which bodies ask a confirmation, and a
// function without a confirmation template refuses them all.
func TestDoubleOptInRequests(t *testing.T) {
	t.Setenv("CONSENT_CONFIRM_TEMPLATE", "optin_confirm:en")
	on := newEnv(t)
	to := number(t)
	for _, tc := range []struct {
		name   string
		body   map[string]string
		status int
	}{
		{"revoke with confirm", map[string]string{"phone": to, "purpose": "marketing", "action": "revoke", "method": "m", "confirm": "whatsapp"}, 400},
		{"another channel", map[string]string{"phone": to, "purpose": "marketing", "action": "grant", "method": "m", "policy_version": "1", "confirm": "email"}, 400},
		{"without a notice or policy", map[string]string{"phone": to, "purpose": "marketing", "action": "grant", "method": "m", "confirm": "whatsapp"}, 400},
		{"for a transactional purpose", map[string]string{"phone": to, "purpose": "transactional", "action": "grant", "method": "m", "policy_version": "1", "confirm": "whatsapp"}, 202},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, out, _ := on.call(t, "POST /v1/consents", on.key, tc.body); status != tc.status {
				t.Errorf("POST /v1/consents = %d %v, want %d", status, out, tc.status)
			}
		})
	}

	t.Setenv("CONSENT_CONFIRM_TEMPLATE", "")
	off := newEnv(t)
	status, out, _ := off.call(t, "POST /v1/consents", off.key, map[string]string{"phone": number(t), "purpose": "marketing", "action": "grant",
		"method": "m", "policy_version": "1", "confirm": "whatsapp"})
	if e, _ := out["error"].(map[string]any); status != 400 || e["code"] != "invalid_request" || e["message"] != "double opt-in is not configured" {
		t.Errorf("grant with confirm, not configured = %d %v, want 400 invalid_request: double opt-in is not configured", status, out)
	}
}
