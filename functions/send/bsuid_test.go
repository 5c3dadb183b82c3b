package main

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"testing"
)

// userID returns a fresh synthetic business-scoped user id.
func userID(t testing.TB) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1e18))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("US.%020d", n)
}

// TestSendByUserID drives the API for a person known only by their
// business-scoped user id: consent by user_id, a send to to_user_id that
// reaches the provider as Meta's "recipient", a revoke that refuses the
// next send, and the consent query by user_id.
func TestSendByUserID(t *testing.T) {
	e := newEnv(t)
	u := userID(t)
	consent := func(action string) (int, map[string]any) {
		status, out, _ := e.call(t, "POST /v1/consents", e.key, map[string]string{"user_id": u, "purpose": "marketing", "action": action,
			"method": "web_form", "policy_version": "2026-01"})
		return status, out
	}
	msg := map[string]any{"to_user_id": u, "purpose": "marketing", "template": map[string]any{"name": "order_update", "language": "en_US"}}
	if status, out, _ := e.call(t, "POST /v1/messages", e.key, msg); status != 403 || code(out) != "consent_required" {
		t.Fatalf("send without consent = %d %v, want 403 consent_required", status, out)
	}
	if status, out := consent("grant"); status != 201 {
		t.Fatalf("grant by user_id = %d %v", status, out)
	}
	status, out, _ := e.call(t, "POST /v1/messages", e.key, msg)
	if status != 202 {
		t.Fatalf("send to_user_id = %d %v, want 202", status, out)
	}
	if n := e.st.SandboxSends(t, u); n != 1 {
		t.Errorf("provider received %d messages for the user id, want 1", n)
	}
	if status, out := consent("revoke"); status != 201 {
		t.Fatalf("revoke by user_id = %d %v", status, out)
	}
	if status, out, _ := e.call(t, "POST /v1/messages", e.key, msg); status != 403 || code(out) != "consent_required" {
		t.Errorf("send after the revoke = %d %v, want 403 consent_required", status, out)
	}
	status, out, _ = e.call(t, "POST /v1/consents/query", e.key, map[string]string{"user_id": u})
	if p, _ := out["purposes"].(map[string]any); status != 200 || fmt.Sprint(p["marketing"]) != "map[state:revoked suppressed:false]" {
		t.Errorf("query by user_id = %d %v, want marketing revoked", status, out)
	}
}

// TestUserIDValidation checks the API names a person by exactly one of
// phone and user_id, and checks a user id's syntax.
func TestUserIDValidation(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	tmpl := map[string]any{"name": "order_update", "language": "en_US"}
	for _, tc := range []struct {
		name  string
		route string
		body  map[string]any
		code  string
	}{
		{"send to both", "POST /v1/messages", map[string]any{"to": to, "to_user_id": userID(t), "purpose": "marketing", "template": tmpl}, "invalid_request"},
		{"send to neither", "POST /v1/messages", map[string]any{"purpose": "marketing", "template": tmpl}, "invalid_request"},
		{"send to a malformed user id", "POST /v1/messages", map[string]any{"to_user_id": "us.123", "purpose": "marketing", "template": tmpl}, "invalid_request"},
		{"consent with both", "POST /v1/consents", map[string]any{"phone": to, "user_id": userID(t), "purpose": "marketing", "action": "grant",
			"method": "web_form", "policy_version": "1"}, "invalid_request"},
		{"query a malformed user id", "POST /v1/consents/query", map[string]any{"user_id": "US."}, "invalid_request"},
		{"query with neither", "POST /v1/consents/query", map[string]any{}, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, out, _ := e.call(t, tc.route, e.key, tc.body); status != 400 || code(out) != tc.code {
				t.Errorf("%s = %d %v, want 400 %s", tc.route, status, out, tc.code)
			}
		})
	}
}
