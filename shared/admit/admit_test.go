package admit_test

import (
	"testing"
	"time"

	"github.com/waguard/waguard/shared/admit"
	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/window"
)

func TestCheck(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	open := now.Add(-time.Hour)                       // wrote an hour ago
	closed := now.Add(-window.Length)                 // exactly a day ago: closed
	justOpen := now.Add(-window.Length + time.Second) // a second before it closes
	future := now.Add(time.Hour)                      // a clock ahead: holds nothing open
	granted := admit.Recipient{Consent: consent.StateGranted}
	with := func(r admit.Recipient, last time.Time) admit.Recipient { r.LastInbound = last; return r }
	tests := []struct {
		name string
		r    admit.Recipient
		m    admit.Message
		want admit.Verdict
	}{
		{"granted template", granted, admit.Message{Purpose: "marketing"}, admit.Admitted},
		{"granted text in window", with(granted, open), admit.Message{Purpose: "marketing", FreeForm: true}, admit.Admitted},
		{"granted text a second before the window closes", with(granted, justOpen), admit.Message{Purpose: "otp", FreeForm: true}, admit.Admitted},
		{"granted text, window closed", with(granted, closed), admit.Message{Purpose: "marketing", FreeForm: true}, admit.TemplateRequired},
		{"granted text, never wrote", granted, admit.Message{Purpose: "transactional", FreeForm: true}, admit.TemplateRequired},
		{"granted text, inbound dated in the future", with(granted, future), admit.Message{Purpose: "marketing", FreeForm: true}, admit.TemplateRequired},
		{"no consent", admit.Recipient{Consent: consent.StateNone}, admit.Message{Purpose: "marketing"}, admit.ConsentRequired},
		{"empty consent state", admit.Recipient{}, admit.Message{Purpose: "otp"}, admit.ConsentRequired},
		{"revoked", admit.Recipient{Consent: consent.StateRevoked}, admit.Message{Purpose: "marketing"}, admit.ConsentRequired},
		{"pending grant", admit.Recipient{Consent: consent.StatePending, LastInbound: open}, admit.Message{Purpose: "marketing"}, admit.ConsentRequired},
		{"no consent outranks the template rule", admit.Recipient{}, admit.Message{Purpose: "marketing", FreeForm: true}, admit.ConsentRequired},
		{"support in window needs no consent", admit.Recipient{LastInbound: open}, admit.Message{Purpose: admit.PurposeSupport, FreeForm: true}, admit.Admitted},
		{"support template in window needs no consent", admit.Recipient{Consent: consent.StateRevoked, LastInbound: open}, admit.Message{Purpose: admit.PurposeSupport}, admit.Admitted},
		{"support outside the window needs consent", admit.Recipient{LastInbound: closed}, admit.Message{Purpose: admit.PurposeSupport}, admit.ConsentRequired},
		{"support granted, text outside the window", with(granted, closed), admit.Message{Purpose: admit.PurposeSupport, FreeForm: true}, admit.TemplateRequired},
		{"window opens nothing for marketing", admit.Recipient{LastInbound: open}, admit.Message{Purpose: "marketing", FreeForm: true}, admit.ConsentRequired},
		{"suppressed despite a grant", admit.Recipient{Suppressed: true, Consent: consent.StateGranted, LastInbound: open}, admit.Message{Purpose: "marketing"}, admit.Suppressed},
		{"suppressed support in window", admit.Recipient{Suppressed: true, LastInbound: open}, admit.Message{Purpose: admit.PurposeSupport, FreeForm: true}, admit.Suppressed},
		{"erased despite a grant", admit.Recipient{Erased: true, Consent: consent.StateGranted, LastInbound: open}, admit.Message{Purpose: "otp"}, admit.Suppressed},
		{"erased outranks consent and window", admit.Recipient{Erased: true}, admit.Message{Purpose: "marketing", FreeForm: true}, admit.Suppressed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := admit.Check(tc.r, tc.m, now); got != tc.want {
				t.Errorf("Check(%+v, %+v, now) = %v, want %v", tc.r, tc.m, got, tc.want)
			}
		})
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[admit.Verdict]string{
		admit.Unknown: "unknown", admit.Admitted: "admitted", admit.Suppressed: "suppressed",
		admit.ConsentRequired: "consent_required", admit.TemplateRequired: "template_required",
		admit.Verdict(-1): "unknown", admit.Verdict(99): "unknown",
	} {
		if got := v.String(); got != want {
			t.Errorf("Verdict(%d).String() = %q, want %q", int(v), got, want)
		}
	}
}
