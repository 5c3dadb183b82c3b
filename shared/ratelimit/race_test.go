package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"
)

// once returns a beforeWrite hook that runs fn on the first write only.
func once(db *fakeTable, fn func()) func() {
	return func() {
		db.beforeWrite = nil
		fn()
	}
}

// TestLostRace interleaves a competing request between a request's read
// and its write.
func TestLostRace(t *testing.T) {
	tests := []struct {
		name          string
		used          int // slots used before
		allowed       bool
		remaining     int
		failedWrites  int64
		wantAdmitted  int
		wantStoredTAT time.Duration // after t0
	}{
		// Both queued: the update is relative, so no conflict at all.
		{"queued and queued", 8, true, 0, 0, 10, time.Hour},
		// The competitor takes the last slot: the condition fails, the
		// re-read refuses.
		{"competitor takes the last slot", 9, false, 0, 1, 10, time.Hour},
		// Fresh key: the competitor's fresh write makes ours queued.
		{"fresh then queued", 0, true, 8, 1, 2, 12 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim, db, _ := newTest(t)
			for range tc.used {
				allow(t, lim, testKeyA, perHour)
			}
			db.beforeWrite = once(db, func() { allow(t, lim, testKeyA, perHour) })
			d := allow(t, lim, testKeyA, perHour)
			if d.Allowed != tc.allowed || d.Remaining != tc.remaining {
				t.Errorf("Allow() = %+v, want allowed %v, Remaining %d", d, tc.allowed, tc.remaining)
			}
			if got := db.failedWrites.Load(); got != tc.failedWrites {
				t.Errorf("failed writes = %d, want %d", got, tc.failedWrites)
			}
			if got := db.writes.Load(); got != int64(tc.wantAdmitted) {
				t.Errorf("admissions = %d, want %d", got, tc.wantAdmitted)
			}
			if got := db.item("rl#test#" + testKeyA)["tat"]; got != t0.Add(tc.wantStoredTAT).UnixNano() {
				t.Errorf("stored tat = t0+%v, want t0+%v", time.Duration(got-t0.UnixNano()), tc.wantStoredTAT)
			}
		})
	}
}

// flipper returns a hook that moves the key's TAT across now on every
// write, so that every conditional write fails.
func flipper(db *fakeTable, pk string) func() {
	return func() {
		it := db.item(pk)
		if it == nil {
			it = map[string]int64{}
		}
		if it["tat"] > t0.UnixNano() {
			it["tat"] = t0.UnixNano() - 1
		} else {
			it["tat"] = t0.Add(time.Minute).UnixNano()
		}
		it["expires_at"] = t0.Unix() + 3600
		db.set(pk, it)
	}
}

func TestContentionGivesUp(t *testing.T) {
	lim, db, _ := newTest(t)
	db.beforeWrite = flipper(db, "rl#test#"+testKeyA)
	_, err := lim.Allow(context.Background(), testKeyA, perHour)
	if !errors.Is(err, errContention) {
		t.Errorf("Allow() err = %v, want contention", err)
	}
	if got := db.failedWrites.Load(); got != maxAttempts {
		t.Errorf("attempts = %d, want %d", got, maxAttempts)
	}
	if got := db.writes.Load(); got != 0 {
		t.Errorf("writes = %d, want 0", got)
	}
}

func TestContextCancelled(t *testing.T) {
	lim, db, _ := newTest(t)
	lim.backoff = time.Hour // a retry would block without ctx
	tests := []struct {
		name string
		hook func(cancel context.CancelFunc) func()
		call func(ctx context.Context) error
	}{
		{"Allow, before", nil, func(ctx context.Context) error {
			_, err := lim.Allow(ctx, testKeyA, perHour)
			return err
		}},
		{"AllowAll, before", nil, func(ctx context.Context) error {
			_, err := lim.AllowAll(ctx, Check{testKeyA, perHour}, Check{"from:x", global})
			return err
		}},
		{"Allow, during retry backoff", func(cancel context.CancelFunc) func() {
			flip := flipper(db, "rl#test#"+testKeyA)
			return func() { flip(); cancel() }
		}, func(ctx context.Context) error {
			_, err := lim.Allow(ctx, testKeyA, perHour)
			return err
		}},
		{"FirstRefusals", nil, func(ctx context.Context) error {
			_, err := lim.FirstRefusals(ctx, Decision{refusals: []refusal{{pk: "rl#test#" + testKeyA, window: 1}}})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.hook == nil {
				cancel()
			} else {
				db.beforeWrite = tc.hook(cancel)
				defer func() { db.beforeWrite = nil }()
			}
			writes := db.writes.Load()
			start := time.Now()
			if err := tc.call(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			if time.Since(start) > time.Second {
				t.Errorf("returned after %v, want promptly", time.Since(start))
			}
			if got := db.writes.Load() - writes; got != 0 {
				t.Errorf("writes = %d, want 0", got)
			}
		})
	}
}
