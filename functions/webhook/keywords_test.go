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
