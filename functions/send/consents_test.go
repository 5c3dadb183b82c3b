package main

import (
	"strings"
	"testing"

	"github.com/waguard/waguard/shared/httpapi"
)

// TestValidConsent is the rule for consent bodies, without the stack.
func TestValidConsent(t *testing.T) {
	grant := func(f func(*consentRequest)) consentRequest {
		r := consentRequest{Phone: "+14155550123", Purpose: "marketing", Action: "grant", Method: "web_form"}
		f(&r)
		return r
	}
	tests := []struct {
		name string
		r    consentRequest
		want bool
	}{
		{"grant with a policy version", grant(func(r *consentRequest) { r.PolicyVersion = "2026-01" }), true},
		{"grant with a notice", grant(func(r *consentRequest) { r.Notice = "Offers by WhatsApp.\nReply STOP to opt out." }), true},
		{"grant with both", grant(func(r *consentRequest) { r.PolicyVersion, r.Notice = "2026-01", "Offers." }), true},
		{"grant with neither", grant(func(*consentRequest) {}), false},
		{"grant for transactional with neither", grant(func(r *consentRequest) { r.Purpose = "transactional" }), false},
		{"revoke with neither", grant(func(r *consentRequest) { r.Action = "revoke" }), true},
		{"revoke with a policy version", grant(func(r *consentRequest) { r.Action, r.PolicyVersion = "revoke", "2026-01" }), true},
		{"revoke with a notice", grant(func(r *consentRequest) { r.Action, r.Notice = "revoke", "You can opt out any time." }), true},
		{"notice of exactly 4 KB", grant(func(r *consentRequest) { r.Notice = strings.Repeat("é", 2048) }), true},
		{"notice over 4 KB", grant(func(r *consentRequest) { r.Notice = strings.Repeat("é", 2049) }), false},
		{"notice of invalid UTF-8", grant(func(r *consentRequest) { r.Notice = "Offers \xff" }), false},
		{"policy version with a space", grant(func(r *consentRequest) { r.PolicyVersion = "2026 01" }), false},
		{"policy version over 64", grant(func(r *consentRequest) { r.PolicyVersion = strings.Repeat("v", 65) }), false},
		{"bad notice, good policy version", grant(func(r *consentRequest) { r.PolicyVersion, r.Notice = "1", "\xff" }), false},
		{"revoke with a bad policy version", grant(func(r *consentRequest) { r.Action, r.PolicyVersion = "revoke", "a b" }), false},
		{"unknown action", grant(func(r *consentRequest) { r.Action, r.PolicyVersion = "maybe", "1" }), false},
		{"unknown purpose", grant(func(r *consentRequest) { r.Purpose, r.PolicyVersion = "newsletter", "1" }), false},
		{"no method", grant(func(r *consentRequest) { r.Method, r.PolicyVersion = "", "1" }), false},
		{"grant asking a confirmation on WhatsApp", grant(func(r *consentRequest) { r.PolicyVersion, r.Confirm = "1", "whatsapp" }), true},
		{"confirmation by another channel", grant(func(r *consentRequest) { r.PolicyVersion, r.Confirm = "1", "sms" }), false},
		{"confirmation still needs a notice or policy", grant(func(r *consentRequest) { r.Confirm = "whatsapp" }), false},
		{"revoke asking a confirmation", grant(func(r *consentRequest) { r.Action, r.Confirm = "revoke", "whatsapp" }), false},
		{"evidence over 4 KB", grant(func(r *consentRequest) { r.Evidence, r.PolicyVersion = strings.Repeat("x", 4097), "1" }), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := validConsent(tc.r); got != tc.want {
				t.Errorf("validConsent(%s) = %t, want %t", tc.name, got, tc.want)
			}
		})
	}
}

// FuzzConsentBody checks the consent body parser and rule never panic,
// and that an accepted grant always records what was agreed to.
func FuzzConsentBody(f *testing.F) {
	for _, s := range []string{`{"phone":"+14155550123","purpose":"marketing","action":"grant","method":"web_form","notice":"Offers."}`,
		`{"phone":"+14155550123","purpose":"otp","action":"revoke","method":"m"}`, `{"notice":"\ud800"}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r consentRequest
		if httpapi.Decode(b, &r) != nil || !validConsent(r) {
			return
		}
		if r.Action == "grant" && r.Notice == "" && r.PolicyVersion == "" {
			t.Errorf("validConsent accepted a grant with neither a notice nor a policy version")
		}
		if len(r.Notice) > 4096 {
			t.Errorf("validConsent accepted a notice of %d bytes", len(r.Notice))
		}
	})
}
