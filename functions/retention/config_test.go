package main

import (
	"strings"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/retention"
)

// coreEnv is what template.yaml's Globals give every function (without
// the optional settings).
var coreEnv = map[string]string{"DATA_TABLE": "waguard-dev-data", "KEYS_TABLE": "waguard-dev-keys", "AUDIT_TABLE": "waguard-dev-audit",
	"KMS_KEY_ID": "alias/waguard-dev-data", "INDEX_KEY_SECRET_ID": "waguard/dev/index-key", "PSEUDONYM_KEY_SECRET_ID": "waguard/dev/pseudonym-key"}

// TestConfigFromEnv: the retention function's settings: the digest table,
// key and retention come from the shared settings (one default, 2190
// days, for events and digests: before, the digester's reader and the
// audit writer's could disagree), the policy's periods per class are
// read, and a malformed or out-of-range value refuses the cold start.
func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name      string
		set       map[string]string
		retention time.Duration
		otpDays   int
		wantErr   string
	}{
		{"defaults", nil, 2190 * 24 * time.Hour, 1, ""},
		{"overrides", map[string]string{"AUDIT_RETENTION_DAYS": "3650", "RETENTION_DAYS_OTP": "2"}, 3650 * 24 * time.Hour, 2, ""},
		{"no signing key", map[string]string{"AUDIT_SIGNING_KEY_ID": ""}, 0, 0, "AUDIT_SIGNING_KEY_ID"},
		{"retention days malformed", map[string]string{"RETENTION_DAYS_OTP": "one"}, 0, 0, "RETENTION_DAYS_OTP"},
		{"retention days out of range", map[string]string{"RETENTION_DAYS_SUPPORT": "0"}, 0, 0, "RETENTION_DAYS_SUPPORT"},
		{"audit retention over 100 years", map[string]string{"AUDIT_RETENTION_DAYS": "36501"}, 0, 0, "AUDIT_RETENTION_DAYS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"AUDIT_SIGNING_KEY_ID": "alias/waguard-dev-audit-signing"}
			for _, m := range []map[string]string{coreEnv, tt.set} {
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
			days, _ := got.Core.Policy.Days(retention.ClassOTP)
			if err != nil || got.Digester.Retention != tt.retention || got.Core.AuditRetention != tt.retention || days != tt.otpDays ||
				got.Digester.Table != "waguard-dev-audit" || got.Digester.KeyID != "alias/waguard-dev-audit-signing" {
				t.Errorf("configFromEnv() = %+v, %v; want retention %v, otp %d days", got, err, tt.retention, tt.otpDays)
			}
		})
	}
}
