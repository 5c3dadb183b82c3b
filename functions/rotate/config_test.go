package main

import (
	"strings"
	"testing"
	"time"
)

// TestConfigFromEnv: the rotate function's settings. It needs the
// provider's location to check a staged token but not PROVIDER_SECRET_ID
// (the rotated secret is its own), and API_KEY_OVERLAP_HOURS has the one
// default every function shares (before, rotate's was 1 h and send's
// 24 h).
func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{"DATA_TABLE": "waguard-dev-data", "KEYS_TABLE": "waguard-dev-keys", "AUDIT_TABLE": "waguard-dev-audit",
		"KMS_KEY_ID": "alias/waguard-dev-data", "INDEX_KEY_SECRET_ID": "waguard/dev/index-key", "PSEUDONYM_KEY_SECRET_ID": "waguard/dev/pseudonym-key",
		"PHONE_NUMBER_ID": "100000000000001"}
	tests := []struct {
		name    string
		set     map[string]string
		overlap time.Duration
		baseURL string
		wantErr string
	}{
		{"defaults", nil, 24 * time.Hour, "https://graph.facebook.com", ""},
		{"overrides", map[string]string{"API_KEY_OVERLAP_HOURS": "2", "WHATSAPP_API_BASE_URL": "http://127.0.0.1:8003/"}, 2 * time.Hour, "http://127.0.0.1:8003", ""},
		{"overlap malformed", map[string]string{"API_KEY_OVERLAP_HOURS": "two"}, 0, "", "API_KEY_OVERLAP_HOURS"},
		{"base URL plain http", map[string]string{"WHATSAPP_API_BASE_URL": "http://graph.facebook.com"}, 0, "", "WHATSAPP_API_BASE_URL"},
		{"no phone number id", map[string]string{"PHONE_NUMBER_ID": ""}, 0, "", "PHONE_NUMBER_ID"},
		{"no pseudonym key", map[string]string{"PSEUDONYM_KEY_SECRET_ID": ""}, 0, "", "PSEUDONYM_KEY_SECRET_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for _, m := range []map[string]string{base, tt.set} {
				for k, v := range m {
					env[k] = v
				}
			}
			got, err := configFromEnv(func(k string) string { return env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("configFromEnv() err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Overlap != tt.overlap || got.Provider.BaseURL != tt.baseURL {
				t.Errorf("configFromEnv() = %+v, %v; want overlap %v, base URL %s", got, err, tt.overlap, tt.baseURL)
			}
		})
	}
}
