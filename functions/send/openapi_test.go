package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/waguard/waguard/internal/apispec"
	"github.com/waguard/waguard/shared/notice"
)

// injectFault makes the sandbox provider answer the next sends to to with
// fault (see devstack/sandbox).
func injectFault(t *testing.T, e *env, to string, fault map[string]any) {
	t.Helper()
	fault["to"] = to
	b, _ := json.Marshal(fault)
	resp, err := http.Post(e.st.SandboxURL+"/_sandbox/faults", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("inject fault: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("inject fault = %d", resp.StatusCode)
	}
}

// TestOpenAPIResponses checks the handler's real responses, on the local
// stack, against docs/openapi.yaml: every status it answers is documented
// for the route and every body (error codes included) matches its schema.
func TestOpenAPIResponses(t *testing.T) {
	e := newEnv(t)
	s := apispec.Load(t, "../../docs/openapi.yaml")
	const msgs, consents, query = "POST /v1/messages", "POST /v1/consents", "POST /v1/consents/query"
	idemKey := func(to string) string { return "oas-" + to[1:] }
	send := func(to string, headers ...string) {
		status, out, hdr := e.call(t, msgs, e.key, template(to, "marketing"), headers...)
		s.Check(t, msgs, status, out, hdr, "Idempotent-Replayed")
	}
	marketing := func(to string) { e.grant(t, to, "marketing") }
	fault := func(f map[string]any) func(string) {
		return func(to string) { marketing(to); injectFault(t, e, to, f) }
	}
	consent := func(to, action string) map[string]string {
		return map[string]string{"phone": to, "purpose": "marketing", "action": action, "method": "web_form", "policy_version": "2026-01"}
	}
	tests := []struct {
		name     string
		route    string
		setup    func(to string)
		key      string // "" the ops key, "-" none, else this key
		body     func(to string) any
		idem     bool // send Idempotency-Key idemKey(to)
		status   int
		code     string
		replayed bool
	}{
		{name: "sent", route: msgs, setup: marketing, body: func(to string) any { return template(to, "marketing") }, status: 202},
		{name: "malformed", route: msgs, body: func(string) any { return `{"to":` }, status: 400, code: "invalid_request"},
		{name: "unknown field", route: msgs, body: func(to string) any {
			return map[string]any{"to": to, "purpose": "otp", "text": "x", "cc": 1}
		}, status: 400, code: "invalid_request"},
		{name: "invalid phone", route: msgs, body: func(string) any { return template("+1555", "marketing") }, status: 400, code: "invalid_phone"},
		{name: "no key", route: msgs, key: "-", body: func(to string) any { return template(to, "marketing") }, status: 401, code: "unauthenticated"},
		{name: "wrong key", route: consents, key: "wg_ops_" + strings.Repeat("x", 48), body: func(to string) any { return consent(to, "grant") },
			status: 401, code: "unauthenticated"},
		{name: "no consent", route: msgs, body: func(to string) any { return template(to, "marketing") }, status: 403, code: "consent_required"},
		{name: "text outside the window", route: msgs, setup: marketing, body: func(to string) any {
			return map[string]any{"to": to, "purpose": "marketing", "text": "hello"}
		}, status: 422, code: "template_required"},
		{name: "provider 131050", route: msgs, setup: fault(map[string]any{"code": 131050}),
			body: func(to string) any { return template(to, "marketing") }, status: 403, code: "recipient_suppressed"},
		{name: "provider 131026", route: msgs, setup: fault(map[string]any{"code": 131026}),
			body: func(to string) any { return template(to, "marketing") }, status: 422, code: "undeliverable"},
		{name: "provider 130429", route: msgs, setup: fault(map[string]any{"code": 130429, "count": 4}),
			body: func(to string) any { return template(to, "marketing") }, status: 429, code: "upstream_rate_limited"},
		{name: "provider 500", route: msgs, setup: fault(map[string]any{"status": 500, "count": 4}),
			body: func(to string) any { return template(to, "marketing") }, status: 502, code: "provider_error"},
		{name: "rate limited", route: msgs, setup: func(to string) {
			e.grant(t, to, "otp")
			for range 3 { // RATE_LIMIT_OTP is 3 in newEnv
				status, out, hdr := e.call(t, msgs, e.key, template(to, "otp"))
				s.Check(t, msgs, status, out, hdr, "Idempotent-Replayed")
			}
		}, body: func(to string) any { return template(to, "otp") }, status: 429, code: "rate_limited"},
		{name: "bad idempotency key", route: msgs, setup: marketing, body: func(to string) any { return template(to, "marketing") },
			idem: true, status: 400, code: "invalid_request"},
		{name: "idempotent replay", route: msgs, setup: func(to string) { marketing(to); send(to, "idempotency-key", idemKey(to)) },
			body: func(to string) any { return template(to, "marketing") }, idem: true, status: 202, replayed: true},
		{name: "idempotency conflict", route: msgs, setup: func(to string) { marketing(to); send(to, "idempotency-key", idemKey(to)) },
			body: func(to string) any {
				b := template(to, "marketing")
				b["template"].(map[string]any)["name"] = "another"
				return b
			}, idem: true, status: 409, code: "idempotency_conflict"},
		{name: "consent granted", route: consents, body: func(to string) any { return consent(to, "grant") }, status: 201},
		{name: "consent bad action", route: consents, body: func(to string) any {
			b := consent(to, "grant")
			b["action"] = "maybe"
			return b
		}, status: 400, code: "invalid_request"},
		{name: "consent invalid phone", route: consents, body: func(string) any { return consent("0044", "grant") }, status: 400, code: "invalid_phone"},
		{name: "query", route: query, setup: func(to string) {
			marketing(to)
			e.call(t, consents, e.key, consent(to, "revoke"))
		}, body: func(to string) any { return map[string]string{"phone": to} }, status: 200},
		{name: "consent granted with a notice", route: consents, body: func(to string) any {
			b := consent(to, "grant")
			delete(b, "policy_version")
			b["notice"] = "Offers from Example Ltd by WhatsApp."
			return b
		}, status: 201},
		{name: "consent granted with neither notice nor policy version", route: consents, body: func(to string) any {
			b := consent(to, "grant")
			delete(b, "policy_version")
			return b
		}, status: 400, code: "invalid_request"},
		{name: "consent revoked with neither", route: consents, body: func(to string) any {
			b := consent(to, "revoke")
			delete(b, "policy_version")
			return b
		}, status: 201},
		{name: "query with a notice and an empty policy version", route: query, setup: func(to string) {
			b := consent(to, "grant")
			b["notice"] = "Offers from Example Ltd by WhatsApp."
			e.call(t, consents, e.key, b)
			e.call(t, consents, e.key, map[string]string{"phone": to, "purpose": "marketing", "action": "revoke", "method": "web_form"})
		}, body: func(to string) any { return map[string]string{"phone": to} }, status: 200},
		{name: "query unknown number", route: query, body: func(to string) any { return map[string]string{"phone": to} }, status: 200},
		{name: "query unknown field", route: query, body: func(to string) any { return map[string]string{"phone": to, "x": "y"} },
			status: 400, code: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := number(t)
			if tc.setup != nil {
				tc.setup(to)
			}
			key := e.key
			if tc.key == "-" {
				key = ""
			} else if tc.key != "" {
				key = tc.key
			}
			var headers []string
			if tc.idem {
				k := idemKey(to)
				if tc.code == "invalid_request" {
					k = "bad\x01key"
				}
				headers = []string{"idempotency-key", k}
			}
			status, out, hdr := e.call(t, tc.route, key, tc.body(to), headers...)
			if status != tc.status || code(out) != tc.code {
				t.Fatalf("%s = %d %v, want %d %q", tc.route, status, out, tc.status, tc.code)
			}
			if got := hdr["Idempotent-Replayed"] == "true"; got != tc.replayed {
				t.Errorf("Idempotent-Replayed = %q, want replayed %v", hdr["Idempotent-Replayed"], tc.replayed)
			}
			s.Check(t, tc.route, status, out, hdr, "Idempotent-Replayed")
		})
	}
}

// TestOpenAPISpec checks that every documented response of the send routes
// has a schema that compiles.
func TestOpenAPISpec(t *testing.T) {
	s := apispec.Load(t, "../../docs/openapi.yaml")
	for _, route := range []string{"POST /v1/messages", "POST /v1/consents", "POST /v1/consents/query", "GET /v1/notices/{id}"} {
		s.CheckCompiles(t, route)
	}
}

// TestOpenAPINoticeResponses checks GET /v1/notices/{id}'s real answers
// against docs/openapi.yaml.
func TestOpenAPINoticeResponses(t *testing.T) {
	e := newEnv(t)
	s := apispec.Load(t, "../../docs/openapi.yaml")
	const route = "GET /v1/notices/{id}"
	text := "Offers from Example Ltd by WhatsApp. " + randomHex(6)
	if status, out, _ := e.call(t, "POST /v1/consents", e.key, map[string]string{"phone": number(t), "purpose": "marketing", "action": "grant",
		"method": "web_form", "notice": text}); status != 201 {
		t.Fatalf("grant with a notice = %d %v", status, out)
	}
	for _, tc := range []struct {
		name, id string
		status   int
	}{
		{"registered", notice.ID(text), 200},
		{"unknown", notice.ID("unknown " + randomHex(6)), 404},
		{"malformed", "not-a-hash", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := e.getNotice(t, e.key, tc.id)
			if status != tc.status {
				t.Fatalf("%s = %d %v, want %d", route, status, out, tc.status)
			}
			s.Check(t, route, status, out, nil)
		})
	}
}

// TestOpenAPIDoubleOptInResponses checks POST /v1/consents with "confirm"
// and the query of a pending grant against docs/openapi.yaml: the 202 of
// a confirmation sent and of one the provider refused, the ledger with a
// pending entry, and the 400 of a function without a template.
func TestOpenAPIDoubleOptInResponses(t *testing.T) {
	t.Setenv("CONSENT_CONFIRM_TEMPLATE", "optin_confirm:en")
	e := newEnv(t)
	s := apispec.Load(t, "../../docs/openapi.yaml")
	const consents, query = "POST /v1/consents", "POST /v1/consents/query"
	pendingGrant := func(to string) map[string]string {
		return map[string]string{"phone": to, "purpose": "marketing", "action": "grant", "method": "web_form", "policy_version": "2026-01", "confirm": "whatsapp"}
	}
	for _, tc := range []struct {
		name, route  string
		setup        func(to string)
		body         func(to string) any
		status       int
		confirmation string
	}{
		{name: "pending, sent", route: consents, body: func(to string) any { return pendingGrant(to) }, status: 202, confirmation: "sent"},
		{name: "pending, template refused", route: consents, setup: func(to string) { injectFault(t, e, to, map[string]any{"code": 132001}) },
			body: func(to string) any { return pendingGrant(to) }, status: 202, confirmation: "failed"},
		{name: "query while pending", route: query, setup: func(to string) { e.call(t, consents, e.key, pendingGrant(to)) },
			body: func(to string) any { return map[string]string{"phone": to} }, status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := number(t)
			if tc.setup != nil {
				tc.setup(to)
			}
			status, out, hdr := e.call(t, tc.route, e.key, tc.body(to))
			if status != tc.status || (tc.confirmation != "" && out["confirmation"] != tc.confirmation) {
				t.Fatalf("%s = %d %v, want %d, confirmation %q", tc.route, status, out, tc.status, tc.confirmation)
			}
			s.Check(t, tc.route, status, out, hdr)
		})
	}
	t.Setenv("CONSENT_CONFIRM_TEMPLATE", "")
	off := newEnv(t)
	status, out, hdr := off.call(t, consents, off.key, pendingGrant(number(t)))
	if status != 400 {
		t.Fatalf("%s not configured = %d %v, want 400", consents, status, out)
	}
	s.Check(t, consents, status, out, hdr)
}
