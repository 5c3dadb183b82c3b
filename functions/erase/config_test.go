package main

import (
	"strings"
	"testing"
	"time"
)

// eraseEnv is the environment template.yaml gives the erase function, with
// every optional setting unset, and set added.
func eraseEnv(set map[string]string) func(string) string {
	env := map[string]string{"DATA_TABLE": "waguard-dev-data", "KEYS_TABLE": "waguard-dev-keys", "AUDIT_TABLE": "waguard-dev-audit",
		"KMS_KEY_ID": "alias/waguard-dev-data", "INDEX_KEY_SECRET_ID": "waguard/dev/index-key", "PSEUDONYM_KEY_SECRET_ID": "waguard/dev/pseudonym-key",
		"CLIENT_SECRET_PREFIX": "waguard/dev/clients/"}
	for k, v := range set {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// TestConfigFromEnv: every setting of the erase function has one default,
// an override is read, and a malformed or out-of-range value refuses the
// cold start with an error naming the setting (before, a malformed
// ERASURE_FINAL_TEMPLATE was accepted and failed at the provider). The
// provider settings are read only when a final message is configured.
func TestConfigFromEnv(t *testing.T) {
	provider := map[string]string{"PHONE_NUMBER_ID": "100000000000001", "PROVIDER_SECRET_ID": "waguard/dev/provider/meta"}
	merge := func(a, b map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range a {
			m[k] = v
		}
		for k, v := range b {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name       string
		set        map[string]string
		overlap    time.Duration
		text, tmpl string
		confirms   bool
		wantErr    string
	}{
		{"defaults", nil, 24 * time.Hour, "", "", false, ""},
		{"overlap", map[string]string{"API_KEY_OVERLAP_HOURS": "720"}, 720 * time.Hour, "", "", false, ""},
		{"final text", merge(provider, map[string]string{"ERASURE_FINAL_TEXT": "Your data is being erased."}), 24 * time.Hour, "Your data is being erased.", "", true, ""},
		{"final template", merge(provider, map[string]string{"ERASURE_FINAL_TEMPLATE": "erasure_done:de"}), 24 * time.Hour, "", "erasure_done:de", true, ""},
		{"final template malformed", merge(provider, map[string]string{"ERASURE_FINAL_TEMPLATE": "erasure done"}), 0, "", "", false, "ERASURE_FINAL_TEMPLATE"},
		{"final message without provider", map[string]string{"ERASURE_FINAL_TEXT": "Bye."}, 0, "", "", false, "PHONE_NUMBER_ID"},
		{"overlap malformed", map[string]string{"API_KEY_OVERLAP_HOURS": "1d"}, 0, "", "", false, "API_KEY_OVERLAP_HOURS"},
		{"overlap out of range", map[string]string{"API_KEY_OVERLAP_HOURS": "0"}, 0, "", "", false, "API_KEY_OVERLAP_HOURS"},
		{"no client prefix", map[string]string{"CLIENT_SECRET_PREFIX": ""}, 0, "", "", false, "CLIENT_SECRET_PREFIX"},
		{"no keys table", map[string]string{"KEYS_TABLE": ""}, 0, "", "", false, "KEYS_TABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configFromEnv(eraseEnv(tt.set))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("configFromEnv() err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.KeyOverlap != tt.overlap || got.FinalText != tt.text || got.FinalTemplate != tt.tmpl || got.confirms() != tt.confirms {
				t.Errorf("configFromEnv() = %+v, %v; want overlap %v, text %q, template %q", got, err, tt.overlap, tt.text, tt.tmpl)
			}
			if tt.confirms && got.Provider.PhoneNumberID == "" {
				t.Errorf("configFromEnv() provider = %+v, want it read", got.Provider)
			}
		})
	}
}
