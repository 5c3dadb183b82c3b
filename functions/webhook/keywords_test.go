package main

import (
	"strings"
	"testing"
	"time"
)

// TestKeywordMatch pins what counts as a keyword: the whole message,
// trimmed of surrounding whitespace, equal to a listed word ignoring
// case. Punctuation is never removed ("Yes." is a reply, not consent:
// Art. 4(11) wants an unambiguous indication), and YES is no opt-in.
func TestKeywordMatch(t *testing.T) {
	k := DefaultKeywords("")
	tests := []struct {
		text string
		want Keyword
	}{
		{"STOP", KeywordStop},
		{"stop", KeywordStop},
		{" Stop\n", KeywordStop},
		{"\tunsubscribe ", KeywordStop},
		{"START", KeywordStart},
		{"optin", KeywordStart},
		{"help", KeywordHelp},
		{"DELETE MY DATA", KeywordErase},
		{"  delete my data ", KeywordErase},
		{"Yes", KeywordNone},
		{"yes", KeywordNone},
		{"YES", KeywordNone},
		{"Yes.", KeywordNone},
		{" YES! ", KeywordNone},
		{"Yes?", KeywordNone},
		{"stop.", KeywordNone},
		{"Stop!", KeywordNone},
		{"start?", KeywordNone},
		{"Delete my data?", KeywordNone},
		{"delete my data.", KeywordNone},
		{"delete  my data", KeywordNone},
		{"stop the order", KeywordNone},
		{"", KeywordNone},
		{"   ", KeywordNone},
		{"S T O P", KeywordNone},
		{"ＳＴＯＰ", KeywordNone}, // fullwidth letters are other characters
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			if got := k.Match(tc.text); got != tc.want {
				t.Errorf("Match(%q) = %v, want %v", tc.text, got, tc.want)
			}
		})
	}
}

// TestKeywordMatchCustomPhrase checks a configured erasure phrase is
// matched the same way.
func TestKeywordMatchCustomPhrase(t *testing.T) {
	k := DefaultKeywords("Forget me")
	for text, want := range map[string]Keyword{"forget me": KeywordErase, "FORGET ME ": KeywordErase, "forget me!": KeywordNone,
		"delete my data": KeywordNone} {
		if got := k.Match(text); got != want {
			t.Errorf("Match(%q) = %v, want %v", text, got, want)
		}
	}
}

// FuzzKeywordMatch checks Match never panics, ignores surrounding
// whitespace, and only matches text that is a listed word once trimmed.
func FuzzKeywordMatch(f *testing.F) {
	for _, s := range []string{"STOP", "yes.", " delete my data ", "", "\u00a0stop\u2003"} {
		f.Add(s)
	}
	k := DefaultKeywords("")
	f.Fuzz(func(t *testing.T, s string) {
		got := k.Match(s)
		if padded := k.Match(" \t" + s + "\n "); padded != got {
			t.Fatalf("Match(%q) = %v but padded = %v", s, got, padded)
		}
		if got == KeywordNone {
			return
		}
		t2 := strings.ToUpper(strings.TrimSpace(s))
		for _, w := range append(append(append([]string{k.ErasurePhrase}, k.Stop...), k.Start...), k.Help...) {
			if strings.EqualFold(t2, w) {
				return
			}
		}
		t.Fatalf("Match(%q) = %v for text that is no listed word", s, got)
	})
}

// TestRetryUnknownStatus pins when a status whose message is not found
// holds up its delivery: only a young one naming a waguard message id.
func TestRetryUnknownStatus(t *testing.T) {
	tests := []struct {
		name     string
		callback string
		age      time.Duration
		want     bool
	}{
		{"waguard id, fresh", "msg_ABCDEFGHIJKLMNOPQRSTUVWX", time.Second, true},
		{"waguard id, past the grace period", "msg_ABCDEFGHIJKLMNOPQRSTUVWX", statusGrace, false},
		{"no callback data", "", time.Second, false},
		{"foreign callback data", "crm-ticket-4711", time.Second, false},
		{"almost a waguard id", "msg_abcdefghijklmnopqrstuvwx", time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryUnknownStatus(tc.callback, tc.age); got != tc.want {
				t.Errorf("retryUnknownStatus(%q, %v) = %v, want %v", tc.callback, tc.age, got, tc.want)
			}
		})
	}
}

// TestMatchButton: the Stop promotions button is recognised by its label
// in the payload or the text, in every configured language; other quick
// replies, and labels inside longer text, are not.
func TestMatchButton(t *testing.T) {
	k := DefaultKeywords("")
	k.StopPromotions = append(k.StopPromotions, "Parar promoções")
	tests := []struct {
		name, payload, text string
		want                Keyword
	}{
		{"label as payload and text", "Stop promotions", "Stop promotions", KeywordStopPromotions},
		{"payload set by the business, label as text", "OPT_OUT_42", "Stop promotions", KeywordStopPromotions},
		{"label as payload only", "stop promotions", "", KeywordStopPromotions},
		{"translated", "Parar promoções", "Parar promoções", KeywordStopPromotions},
		{"padded", "  Stop promotions\n", "", KeywordStopPromotions},
		{"another quick reply", "TRACK_ORDER", "Track my order", KeywordNone},
		{"label inside text", "", "Stop promotions please", KeywordNone},
		{"empty", "", "", KeywordNone},
		{"STOP keyword is not a button", "STOP", "STOP", KeywordNone},
		{"double opt-in confirmation", "wgconfirm:cev_AAAAAAAAAAAAAAAAAAAAAAAA", "Yes, subscribe", KeywordConfirm},
		{"confirmation payload is what counts, not the label", "wgconfirm:cev_AAAAAAAAAAAAAAAAAAAAAAAA", "", KeywordConfirm},
		{"malformed confirmation payload", "wgconfirm:cev_short", "Yes, subscribe", KeywordNone},
		{"confirmation id as text only", "", "wgconfirm:cev_AAAAAAAAAAAAAAAAAAAAAAAA", KeywordNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := k.MatchButton(tt.payload, tt.text); got != tt.want {
				t.Errorf("MatchButton(%q, %q) = %v, want %v", tt.payload, tt.text, got, tt.want)
			}
		})
	}
}

// TestStopPromotionsLabelsConfig: STOP_PROMOTIONS_LABELS replaces the
// default list, comma-separated, blanks dropped.
func TestStopPromotionsLabelsConfig(t *testing.T) {
	env := map[string]string{"PHONE_NUMBER_ID": "1", "META_WEBHOOK_SECRET_ID": "m", "SIGNED_WEBHOOK_SECRET_ID": "s",
		"PROVIDER_SECRET_ID": "p", "STOP_PROMOTIONS_LABELS": "Stop promotions, Parar promoções,, ",
		"DATA_TABLE": "waguard-dev-data", "KEYS_TABLE": "waguard-dev-keys", "AUDIT_TABLE": "waguard-dev-audit", "KMS_KEY_ID": "alias/waguard-dev-data",
		"INDEX_KEY_SECRET_ID": "waguard/dev/index-key", "PSEUDONYM_KEY_SECRET_ID": "waguard/dev/pseudonym-key"}
	c, err := configFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("configFromEnv() err = %v", err)
	}
	if got := strings.Join(c.Keywords.StopPromotions, "|"); got != "Stop promotions|Parar promoções" {
		t.Errorf("StopPromotions = %q, want the two labels", got)
	}
}

// FuzzMatchButton checks MatchButton never panics and matches only a
// configured label, trimmed, ignoring case.
func FuzzMatchButton(f *testing.F) {
	for _, s := range []string{"Stop promotions", " stop PROMOTIONS ", "", "Stop"} {
		f.Add(s, s)
	}
	k := DefaultKeywords("")
	f.Fuzz(func(t *testing.T, payload, text string) {
		if k.MatchButton(payload, text) == KeywordNone {
			return
		}
		if !strings.EqualFold(strings.TrimSpace(payload), "Stop promotions") && !strings.EqualFold(strings.TrimSpace(text), "Stop promotions") {
			t.Fatalf("MatchButton matched neither label: payload_len=%d text_len=%d", len(payload), len(text))
		}
	})
}
