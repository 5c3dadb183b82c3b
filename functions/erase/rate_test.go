package main

import (
	"slices"
	"testing"
)

// TestRateRecords: the erasure deletes every per-recipient rate-limit
// record the send function keys by the person's blind index: one per
// purpose, and the double opt-in's confirmation templates
// (functions/send confirmLimitKey).
func TestRateRecords(t *testing.T) {
	var got []string
	for _, k := range rateRecords("B") {
		got = append(got, k[0])
	}
	for _, want := range []string{"rl#send#to-marketing-B", "rl#send#to-transactional-B", "rl#send#to-support-B", "rl#send#to-otp-B",
		"rl#send#to-consent_confirm-B"} {
		if !slices.Contains(got, want) {
			t.Errorf("rateRecords(B) = %v, want %s among them", got, want)
		}
	}
}
