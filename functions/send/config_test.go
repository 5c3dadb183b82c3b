package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/ratelimit"
	"github.com/waguard/waguard/shared/settings"
	"github.com/waguard/waguard/shared/whatsapp"
)

// sendEnv is the environment template.yaml gives the send function, with
// every optional setting unset.
func sendEnv(set map[string]string) func(string) string {
	env := map[string]string{"DATA_TABLE": "waguard-dev-data", "KEYS_TABLE": "waguard-dev-keys", "AUDIT_TABLE": "waguard-dev-audit",
		"KMS_KEY_ID": "alias/waguard-dev-data", "INDEX_KEY_SECRET_ID": "waguard/dev/index-key", "PSEUDONYM_KEY_SECRET_ID": "waguard/dev/pseudonym-key",
		"PHONE_NUMBER_ID": "100000000000001", "PROVIDER_SECRET_ID": "waguard/dev/provider/meta", "CLIENT_SECRET_PREFIX": "waguard/dev/clients/"}
	for k, v := range set {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// TestConfigFromEnv: every setting of the send function has one default,
// an override is read, and a malformed or out-of-range value refuses the
// cold start with an error that names the setting and not the value
// (before, a malformed rate limit silently became its default).
func TestConfigFromEnv(t *testing.T) {
	defaults := Config{ClientSecretPrefix: "waguard/dev/clients/", PhoneNumberID: "100000000000001", KeyOverlap: 24 * time.Hour,
		PerRecipient: ratelimit.Limit{Count: 10, Per: time.Hour},
		PerPurpose:   map[string]ratelimit.Limit{"otp": {Count: 5, Per: 15 * time.Minute}},
		Global:       ratelimit.Limit{Count: 80, Per: time.Second}, ConfirmWindow: 24 * time.Hour}
	with := func(f func(*Config)) Config {
		c := defaults
		c.PerPurpose = map[string]ratelimit.Limit{"otp": defaults.PerPurpose["otp"]}
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		set     map[string]string
		want    Config
		wantErr string // the setting the error names
	}{
		{"defaults", nil, defaults, ""},
		{"overrides", map[string]string{"RATE_LIMIT_PER_RECIPIENT": "3", "RATE_LIMIT_PER_RECIPIENT_WINDOW_SECONDS": "60",
			"RATE_LIMIT_OTP": " 2 ", "RATE_LIMIT_OTP_WINDOW_SECONDS": "300", "RATE_LIMIT_GLOBAL_PER_SECOND": "5000",
			"API_KEY_OVERLAP_HOURS": "1", "CONSENT_CONFIRM_TEMPLATE": "optin:en", "CONSENT_CONFIRM_HOURS": "48"},
			with(func(c *Config) {
				c.PerRecipient = ratelimit.Limit{Count: 3, Per: time.Minute}
				c.PerPurpose["otp"] = ratelimit.Limit{Count: 2, Per: 5 * time.Minute}
				c.Global = ratelimit.Limit{Count: 5000, Per: time.Second}
				c.KeyOverlap, c.ConfirmTemplate, c.ConfirmWindow = time.Hour, whatsapp.Template{Name: "optin", Language: "en"}, 48*time.Hour
			}), ""},
		{"malformed limit", map[string]string{"RATE_LIMIT_PER_RECIPIENT": "ten"}, Config{}, "RATE_LIMIT_PER_RECIPIENT"},
		{"zero limit", map[string]string{"RATE_LIMIT_OTP": "0"}, Config{}, "RATE_LIMIT_OTP"},
		{"negative window", map[string]string{"RATE_LIMIT_OTP_WINDOW_SECONDS": "-900"}, Config{}, "RATE_LIMIT_OTP_WINDOW_SECONDS"},
		{"window over a year", map[string]string{"RATE_LIMIT_PER_RECIPIENT_WINDOW_SECONDS": "31622401"}, Config{}, "RATE_LIMIT_PER_RECIPIENT_WINDOW_SECONDS"},
		{"global a fraction", map[string]string{"RATE_LIMIT_GLOBAL_PER_SECOND": "80.5"}, Config{}, "RATE_LIMIT_GLOBAL_PER_SECOND"},
		{"overlap out of range", map[string]string{"API_KEY_OVERLAP_HOURS": "721"}, Config{}, "API_KEY_OVERLAP_HOURS"},
		{"confirm window out of range", map[string]string{"CONSENT_CONFIRM_HOURS": "169"}, Config{}, "CONSENT_CONFIRM_HOURS"},
		{"confirm template malformed", map[string]string{"CONSENT_CONFIRM_TEMPLATE": "optin"}, Config{}, "CONSENT_CONFIRM_TEMPLATE"},
		{"no client prefix", map[string]string{"CLIENT_SECRET_PREFIX": ""}, Config{}, "CLIENT_SECRET_PREFIX"},
		{"client prefix without slash", map[string]string{"CLIENT_SECRET_PREFIX": "waguard/dev/clients"}, Config{}, "CLIENT_SECRET_PREFIX"},
		{"no provider secret", map[string]string{"PROVIDER_SECRET_ID": ""}, Config{}, "PROVIDER_SECRET_ID"},
		{"no data table", map[string]string{"DATA_TABLE": ""}, Config{}, "DATA_TABLE"},
		{"audit retention malformed", map[string]string{"AUDIT_RETENTION_DAYS": "6y"}, Config{}, "AUDIT_RETENTION_DAYS"},
		{"retention out of range", map[string]string{"RETENTION_DAYS_MARKETING": "3651"}, Config{}, "RETENTION_DAYS_MARKETING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configFromEnv(sendEnv(tt.set))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("configFromEnv() err = %v, want one naming %s", err, tt.wantErr)
				}
				for _, v := range tt.set {
					if len(v) >= 4 && strings.Contains(err.Error(), v) { // shorter ones occur in any range
						t.Errorf("configFromEnv() err %q contains the value %q", err, v)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("configFromEnv() err = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(Config{}, "Core", "Provider")); diff != "" {
				t.Errorf("configFromEnv() (-want +got):\n%s", diff)
			}
			if got.Provider.PhoneNumberID != got.PhoneNumberID || got.Core.DataTable != "waguard-dev-data" {
				t.Errorf("configFromEnv() = provider %+v, core %+v; want the provider's number and the core settings", got.Provider, got.Core)
			}
		})
	}
}

// TestConfirmWindowDefault: the double opt-in window's setting and
// shared/consent agree on its default and its longest value.
func TestConfirmWindowDefault(t *testing.T) {
	s := settings.ConsentConfirmHours
	if d := time.Duration(s.Default) * s.Unit; d != consent.DefaultConfirmWindow {
		t.Errorf("CONSENT_CONFIRM_HOURS default = %v, want consent.DefaultConfirmWindow %v", d, consent.DefaultConfirmWindow)
	}
	if d := time.Duration(s.Max) * s.Unit; d != consent.MaxConfirmWindow {
		t.Errorf("CONSENT_CONFIRM_HOURS max = %v, want consent.MaxConfirmWindow %v", d, consent.MaxConfirmWindow)
	}
}
