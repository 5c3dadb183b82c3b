package main

import (
	"strings"
	"testing"
	"time"
)

// eventsEnv is the environment template.yaml gives the events function,
// and set added.
func eventsEnv(set map[string]string) func(string) string {
	env := map[string]string{"DATA_TABLE": "waguard-dev-data", "KEYS_TABLE": "waguard-dev-keys", "AUDIT_TABLE": "waguard-dev-audit",
		"KMS_KEY_ID": "alias/waguard-dev-data", "INDEX_KEY_SECRET_ID": "waguard/dev/index-key", "PSEUDONYM_KEY_SECRET_ID": "waguard/dev/pseudonym-key",
		"EVENT_BUS_NAME": "waguard-dev", "CLIENT_SECRET_PREFIX": "waguard/dev/clients/", "ENDPOINT_SECRET_PREFIX": "waguard/dev/endpoints/"}
	for k, v := range set {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// TestConfigFromEnv: the events function's settings, their defaults, and a
// malformed or missing one refused at cold start with an error naming it
// (before, a missing ENDPOINT_SECRET_PREFIX surfaced as the endpoint
// loader's error, naming no setting).
func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		set     map[string]string
		overlap time.Duration
		wantErr string
	}{
		{"defaults", nil, 24 * time.Hour, ""},
		{"overlap", map[string]string{"API_KEY_OVERLAP_HOURS": "48"}, 48 * time.Hour, ""},
		{"bus ARN", map[string]string{"EVENT_BUS_NAME": "arn:aws:events:eu-west-1:123456789012:event-bus/waguard-dev"}, 24 * time.Hour, ""},
		{"no bus", map[string]string{"EVENT_BUS_NAME": ""}, 0, "EVENT_BUS_NAME"},
		{"bus with a space", map[string]string{"EVENT_BUS_NAME": "waguard dev"}, 0, "EVENT_BUS_NAME"},
		{"no endpoint prefix", map[string]string{"ENDPOINT_SECRET_PREFIX": ""}, 0, "ENDPOINT_SECRET_PREFIX"},
		{"endpoint prefix without slash", map[string]string{"ENDPOINT_SECRET_PREFIX": "waguard/dev/endpoints"}, 0, "ENDPOINT_SECRET_PREFIX"},
		{"overlap out of range", map[string]string{"API_KEY_OVERLAP_HOURS": "1000"}, 0, "API_KEY_OVERLAP_HOURS"},
		{"stage unknown", map[string]string{"STAGE": "qa"}, 0, "STAGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configFromEnv(eventsEnv(tt.set))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("configFromEnv() err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.KeyOverlap != tt.overlap || got.Handler.BusName == "" || got.EndpointSecretPrefix != "waguard/dev/endpoints/" {
				t.Errorf("configFromEnv() = %+v, %v; want overlap %v and the bus and prefixes", got, err, tt.overlap)
			}
		})
	}
}
