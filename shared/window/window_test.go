package window_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/window"
)

func TestOpen(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		last time.Time
		want bool
	}{
		{"never wrote", time.Time{}, false},
		{"a minute ago", now.Add(-time.Minute), true},
		{"just under a day", now.Add(-window.Length + time.Second), true},
		{"exactly a day", now.Add(-window.Length), false},
		{"26 hours ago", now.Add(-26 * time.Hour), false},
		{"in the future", now.Add(time.Hour), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := window.Open(tc.last, now); got != tc.want {
				t.Errorf("Open(%v, now) = %v, want %v", tc.last, got, tc.want)
			}
		})
	}
}

func TestBound(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at, want time.Time
	}{
		{now.Add(-time.Hour), now.Add(-time.Hour)},
		{now, now},
		{now.Add(time.Second), now},
		{now.Add(365 * 24 * time.Hour), now},
	} {
		if got := window.Bound(tc.at, now); !got.Equal(tc.want) {
			t.Errorf("Bound(%v, now) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func ExampleOpen() {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	fmt.Println(window.Open(now.Add(-23*time.Hour), now), window.Open(now.Add(-25*time.Hour), now))
	// Output: true false
}
