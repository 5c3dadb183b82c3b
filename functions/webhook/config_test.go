package main

import (
	"strings"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/retention"
)

// webhookEnv is the environment template.yaml gives the webhook, with
// every optional setting unset, and set added.
func webhookEnv(set map[string]string) func(string) string {
	env := map[string]string{"DATA_TABLE": "waguard-dev-data", "KEYS_TABLE": "waguard-dev-keys", "AUDIT_TABLE": "waguard-dev-audit",
		"KMS_KEY_ID": "alias/waguard-dev-data", "INDEX_KEY_SECRET_ID": "waguard/dev/index-key", "PSEUDONYM_KEY_SECRET_ID": "waguard/dev/pseudonym-key",
		"PHONE_NUMBER_ID": "100000000000001", "META_WEBHOOK_SECRET_ID": "waguard/dev/webhook/meta", "SIGNED_WEBHOOK_SECRET_ID": "waguard/dev/webhook/signed"}
	for k, v := range set {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// TestConfigFromEnv: every setting of the webhook has one default, an
// override is read, and a malformed or out-of-range value refuses the cold
// start with an error naming the setting and not the value (before, a
// malformed WEBHOOK_MAX_BODY_BYTES silently became 3 MiB).
func TestConfigFromEnv(t *testing.T) {
	type view struct {
		MaxBodyBytes                      int
		Horizon, Tolerance, SecretOverlap time.Duration
		Phrase, Labels                    string
		Class                             retention.Class
		Replies                           int
		AuditRetention                    time.Duration
		PhoneNumberID, MetaSecret, Signed string
	}
	look := func(c Config) view {
		return view{c.MaxBodyBytes, c.Horizon, c.Tolerance, c.SecretOverlap, c.Keywords.ErasurePhrase, strings.Join(c.Keywords.StopPromotions, "|"),
			c.InboundClass, len(c.Replies), c.Core.AuditRetention, c.PhoneNumberID, c.MetaSecretID, c.SignedSecretID}
	}
	defaults := view{3 << 20, 168 * time.Hour, 300 * time.Second, 24 * time.Hour, "DELETE MY DATA", "Stop promotions",
		retention.ClassSupport, 0, 2190 * 24 * time.Hour, "100000000000001", "waguard/dev/webhook/meta", "waguard/dev/webhook/signed"}
	tests := []struct {
		name    string
		set     map[string]string
		want    view
		wantErr string
	}{
		{"defaults", nil, defaults, ""},
		{"overrides", map[string]string{"WEBHOOK_MAX_BODY_BYTES": "1048576", "WEBHOOK_REDELIVERY_HORIZON_HOURS": "200",
			"SIGNED_WEBHOOK_TOLERANCE_SECONDS": "60", "WEBHOOK_SECRET_OVERLAP_HOURS": "2", "ERASURE_PHRASE": " FORGET ME ",
			"STOP_PROMOTIONS_LABELS": "Stop promotions, Parar promoções", "INBOUND_RETENTION_CLASS": "transactional",
			"HELP_TEXT": "Reply STOP to opt out.", "STOP_CONFIRMATION": "You will get no more messages.", "AUDIT_RETENTION_DAYS": "400"},
			view{1 << 20, 200 * time.Hour, time.Minute, 2 * time.Hour, "FORGET ME", "Stop promotions|Parar promoções",
				retention.ClassTransactional, 2, 400 * 24 * time.Hour, "100000000000001", "waguard/dev/webhook/meta", "waguard/dev/webhook/signed"}, ""},
		{"body size malformed", map[string]string{"WEBHOOK_MAX_BODY_BYTES": "3MiB"}, view{}, "WEBHOOK_MAX_BODY_BYTES"},
		{"body size over 6 MiB", map[string]string{"WEBHOOK_MAX_BODY_BYTES": "6291457"}, view{}, "WEBHOOK_MAX_BODY_BYTES"},
		{"horizon under Meta's 7 days", map[string]string{"WEBHOOK_REDELIVERY_HORIZON_HOURS": "167"}, view{}, "WEBHOOK_REDELIVERY_HORIZON_HOURS"},
		{"tolerance malformed", map[string]string{"SIGNED_WEBHOOK_TOLERANCE_SECONDS": "5m"}, view{}, "SIGNED_WEBHOOK_TOLERANCE_SECONDS"},
		{"overlap zero", map[string]string{"WEBHOOK_SECRET_OVERLAP_HOURS": "0"}, view{}, "WEBHOOK_SECRET_OVERLAP_HOURS"},
		{"labels all blank", map[string]string{"STOP_PROMOTIONS_LABELS": " , ,"}, view{}, "STOP_PROMOTIONS_LABELS"},
		{"unknown class", map[string]string{"INBOUND_RETENTION_CLASS": "forever"}, view{}, "INBOUND_RETENTION_CLASS"},
		{"reply too long", map[string]string{"HELP_TEXT": strings.Repeat("help ", 820)}, view{}, "HELP_TEXT"},
		{"no meta secret", map[string]string{"META_WEBHOOK_SECRET_ID": ""}, view{}, "META_WEBHOOK_SECRET_ID"},
		{"no signed secret", map[string]string{"SIGNED_WEBHOOK_SECRET_ID": " "}, view{}, "SIGNED_WEBHOOK_SECRET_ID"},
		{"phone number id not digits", map[string]string{"PHONE_NUMBER_ID": "+4915112345678"}, view{}, "PHONE_NUMBER_ID"},
		{"audit retention zero", map[string]string{"AUDIT_RETENTION_DAYS": "0"}, view{}, "AUDIT_RETENTION_DAYS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configFromEnv(webhookEnv(tt.set))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("configFromEnv() err = %v, want one naming %s", err, tt.wantErr)
				}
				for _, v := range tt.set {
					if len(v) >= 4 && strings.Contains(err.Error(), strings.TrimSpace(v)) {
						t.Errorf("configFromEnv() err %q contains the value", err)
					}
				}
				return
			}
			if err != nil || look(got) != tt.want {
				t.Errorf("configFromEnv() = %+v, %v; want %+v", look(got), err, tt.want)
			}
		})
	}
}
