package main

import (
	"testing"
	"time"
)

func TestNextAttempt(t *testing.T) {
	last := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		made     int
		jitter   float64
		want     time.Duration
		wantMore bool
	}{
		{1, 0.5, 5 * time.Second, true},
		{2, 0.5, 5 * time.Minute, true},
		{3, 0.5, 30 * time.Minute, true},
		{4, 0.5, 2 * time.Hour, true},
		{5, 0.5, 5 * time.Hour, true},
		{6, 0.5, 10 * time.Hour, true},
		{7, 0.5, 10 * time.Hour, true},
		{8, 0.5, 0, false},
		{0, 0.5, 0, false},
		{2, 0, 4 * time.Minute, true},        // -20 %
		{2, 0.999999, 6 * time.Minute, true}, // +20 %
	}
	for _, tc := range tests {
		got, more := nextAttempt(tc.made, last, tc.jitter)
		if more != tc.wantMore {
			t.Errorf("nextAttempt(%d) more = %v, want %v", tc.made, more, tc.wantMore)
			continue
		}
		if more && (got.Sub(last)-tc.want).Abs() > time.Second {
			t.Errorf("nextAttempt(%d, jitter %v) = last + %v, want last + %v", tc.made, tc.jitter, got.Sub(last), tc.want)
		}
	}
	var total time.Duration
	for _, d := range retrySchedule {
		total += d
	}
	if total < 27*time.Hour || total > 29*time.Hour {
		t.Errorf("the schedule spans %v, want about 28 hours", total)
	}
}
