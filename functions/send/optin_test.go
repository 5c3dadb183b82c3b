package main

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/outbound"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/whatsapp"
)

// TestConfirmConfig: the double opt-in's settings, refused at cold start
// when malformed; the window defaults to shared/consent's.
func TestConfirmConfig(t *testing.T) {
	tests := []struct {
		name, template, hours string
		want                  whatsapp.Template
		window                time.Duration
		ok                    bool
	}{
		{"off by default", "", "", whatsapp.Template{}, 24 * time.Hour, true},
		{"template", "optin_confirm:en_US", "", whatsapp.Template{Name: "optin_confirm", Language: "en_US"}, 24 * time.Hour, true},
		{"window", "optin_confirm:de", "48", whatsapp.Template{Name: "optin_confirm", Language: "de"}, 48 * time.Hour, true},
		{"shortest", "t:en", "1", whatsapp.Template{Name: "t", Language: "en"}, time.Hour, true},
		{"longest", "t:en", "168", whatsapp.Template{Name: "t", Language: "en"}, 168 * time.Hour, true},
		{"over a week", "t:en", "169", whatsapp.Template{}, 0, false},
		{"zero hours", "t:en", "0", whatsapp.Template{}, 0, false},
		{"not a number", "t:en", "a day", whatsapp.Template{}, 0, false},
		{"no language", "optin_confirm", "", whatsapp.Template{}, 0, false},
		{"empty name", ":en", "", whatsapp.Template{}, 0, false},
		{"space in the name", "opt in:en", "", whatsapp.Template{}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"CONSENT_CONFIRM_TEMPLATE": tt.template, "CONSENT_CONFIRM_HOURS": tt.hours}
			got, window, err := confirmConfig(func(k string) string { return env[k] })
			if (err == nil) != tt.ok || !cmp.Equal(got, tt.want) || window != tt.window {
				t.Errorf("confirmConfig(%q, %q) = %+v, %v, %v; want %+v, %v, ok %v", tt.template, tt.hours, got, window, err, tt.want, tt.window, tt.ok)
			}
		})
	}
}

// TestConfirmTemplate: the confirmation template carries the pending
// entry's payload on its first quick-reply button, in the request shape
// Meta documents (testdata/send_template_confirm_quick_reply.json).
func TestConfirmTemplate(t *testing.T) {
	got := confirmTemplate(whatsapp.Template{Name: "marketing_optin_confirm", Language: "en"}, "cev_TESTAAAAAAAAAAAAAAAAAAAA")
	b, err := os.ReadFile("testdata/send_template_confirm_quick_reply.json")
	if err != nil {
		t.Fatal(err)
	}
	var fixture struct {
		Template struct {
			Name       string          `json:"name"`
			Components json.RawMessage `json:"components"`
		} `json:"template"`
	}
	if err := json.Unmarshal(b, &fixture); err != nil {
		t.Fatal(err)
	}
	var want, have any
	_ = json.Unmarshal(fixture.Template.Components, &want)
	_ = json.Unmarshal(got.Components, &have)
	if diff := cmp.Diff(want, have); diff != "" || got.Name != fixture.Template.Name {
		t.Errorf("confirmTemplate() components (-fixture +got):\n%s", diff)
	}
}

// TestConfirmationOutcome sorts the outbound protocol's answers.
func TestConfirmationOutcome(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"sent", nil, "sent"},
		{"sent, confirmation not recorded", errors.Join(outbound.ErrNotConfirmed, errors.New("ddb")), "sent"},
		{"not recorded", errors.Join(outbound.ErrNotRecorded, errors.New("ddb")), "failed"},
		{"no credentials", provider.ErrCredentials, "failed"},
		{"refused by Meta", &whatsapp.APIError{Code: 132001, Status: 404}, "failed"},
		{"no answer", errors.New("read: connection reset"), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := confirmationOutcome(tt.err); got != tt.want {
				t.Errorf("confirmationOutcome(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
