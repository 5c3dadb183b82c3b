package ratelimit

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	t0       = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC) // a whole hour
	perHour  = Limit{Count: 10, Per: time.Hour}
	otp      = Limit{Count: 5, Per: 15 * time.Minute}
	global   = Limit{Count: 80, Per: time.Second}
	perMin   = Limit{Count: 1, Per: time.Minute}
	limits   = map[string]Limit{"10/h": perHour, "5/15m": otp, "80/s": global, "1/min": perMin}
	testKeyA = "to:bidx-A"
)

func newTest(t testing.TB) (*Limiter, *fakeTable, *fakeClock) {
	t.Helper()
	db, clk := newFakeTable(), &fakeClock{t: t0}
	lim, err := New(db, Config{Table: testTable, Scope: "test", Now: clk.Now})
	if err != nil {
		t.Fatalf("New() err = %v, want nil", err)
	}
	lim.backoff = time.Microsecond
	return lim, db, clk
}

func allow(t testing.TB, lim *Limiter, key string, l Limit) Decision {
	t.Helper()
	d, err := lim.Allow(context.Background(), key, l)
	if err != nil {
		t.Fatalf("Allow(%q, %v) err = %v, want nil", key, l, err)
	}
	return d
}

// exhaust uses up key's burst at the current time.
func exhaust(t testing.TB, lim *Limiter, key string, l Limit) {
	t.Helper()
	for i := range l.Count {
		if d := allow(t, lim, key, l); !d.Allowed {
			t.Fatalf("burst request %d refused, want allowed", i+1)
		}
	}
}

func TestLimitGCRA(t *testing.T) {
	tests := []struct {
		name   string
		l      Limit
		t, tau time.Duration
	}{
		{"10 per hour", perHour, 6 * time.Minute, 54 * time.Minute},
		{"otp 5 per 15 min", otp, 3 * time.Minute, 12 * time.Minute},
		{"80 per second", global, 12500 * time.Microsecond, 987500 * time.Microsecond},
		{"1 per minute", perMin, time.Minute, 0},
		{"7 per hour rounds T up", Limit{7, time.Hour}, 514285714286, 6 * 514285714286},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := tc.l.gcra()
			if err != nil || g.t != int64(tc.t) || g.tau != int64(tc.tau) {
				t.Errorf("%v.gcra() = T %v τ %v err %v, want T %v τ %v", tc.l, time.Duration(g.t), time.Duration(g.tau), err, tc.t, tc.tau)
			}
		})
	}
	for _, l := range []Limit{{0, time.Hour}, {-1, time.Hour}, {1, 0}, {1, -time.Second}, {1, 367 * 24 * time.Hour}, {maxCount + 1, time.Hour}} {
		if _, err := l.gcra(); err == nil {
			t.Errorf("%v.gcra() err = nil, want invalid limit", l)
		}
	}
}

func TestAllowBurstUpToCount(t *testing.T) {
	for name, l := range limits {
		t.Run(name, func(t *testing.T) {
			lim, _, _ := newTest(t)
			for i := range l.Count {
				if d := allow(t, lim, testKeyA, l); !d.Allowed || d.Remaining != l.Count-1-i || d.RetryAfter != 0 {
					t.Fatalf("request %d: Allow() = %+v, want allowed, Remaining %d", i+1, d, l.Count-1-i)
				}
			}
			if d := allow(t, lim, testKeyA, l); d.Allowed || d.Remaining != 0 || d.RetryAfter <= 0 {
				t.Errorf("request %d: Allow() = %+v, want refused with RetryAfter", l.Count+1, d)
			}
		})
	}
}

// TestAdmissionBound checks GCRA's guarantee on several arrival patterns:
// any n admissions within a span W satisfy n ≤ Count + ⌊W/T⌋, so a burst
// is at most Count and the sustained rate at most Count per Per.
func TestAdmissionBound(t *testing.T) {
	for name, l := range limits {
		g, _ := l.gcra()
		T := time.Duration(g.t)
		patterns := map[string]func(i int) time.Duration{ // gap before arrival i
			"every T/4":          func(int) time.Duration { return T / 4 },
			"every T":            func(int) time.Duration { return T },
			"burst then every T": func(i int) time.Duration { return T * time.Duration(min(i/l.Count, 1)) },
			"random, mean T/3":   func(int) time.Duration { return time.Duration(rand.ExpFloat64() * float64(T) / 3) },
			"2·Count every 2·Per": func(i int) time.Duration {
				return T * 2 * time.Duration(l.Count) * time.Duration(b2i(i%(2*l.Count) == 0))
			},
		}
		for pname, gap := range patterns {
			t.Run(name+"/"+pname, func(t *testing.T) {
				lim, _, clk := newTest(t)
				var at []time.Duration
				for i := 0; clk.Now().Sub(t0) < 5*l.Per; i++ {
					clk.Add(gap(i))
					if allow(t, lim, testKeyA, l).Allowed {
						at = append(at, clk.Now().Sub(t0))
					}
				}
				for i := range at {
					for j := i; j < len(at); j++ {
						if n, bound := j-i+1, l.Count+int((at[j]-at[i])/T); n > bound {
							t.Fatalf("%d admissions within %v, want ≤ %d", n, at[j]-at[i], bound)
						}
					}
				}
				if span := at[len(at)-1]; len(at) > l.Count+int(span/T) {
					t.Errorf("%d admissions over %v, want ≤ %d", len(at), span, l.Count+int(span/T))
				}
			})
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestNotASlidingWindow pins the limit of the guarantee: a full burst
// followed by one request every T puts 2·Count−1 within less than Per.
func TestNotASlidingWindow(t *testing.T) {
	lim, _, clk := newTest(t)
	exhaust(t, lim, testKeyA, perHour)
	n := perHour.Count
	for range perHour.Count - 1 {
		clk.Add(6 * time.Minute)
		if allow(t, lim, testKeyA, perHour).Allowed {
			n++
		}
	}
	if span := clk.Now().Sub(t0); n != 2*perHour.Count-1 || span >= perHour.Per {
		t.Errorf("admitted %d within %v, want %d within less than %v", n, span, 2*perHour.Count-1, perHour.Per)
	}
}

// TestBoundaryBurst replays the seed's fixed-window flaw: Count just
// before the hour and Count just after must not all pass.
func TestBoundaryBurst(t *testing.T) {
	first := t0.Add(59*time.Minute + 59*time.Second)
	tests := []struct {
		name  string
		later time.Duration
		want  int
	}{
		{"2 s later, across the hour", 2 * time.Second, 10},
		{"one emission interval later", 6 * time.Minute, 11},
		{"a full period later", time.Hour, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim, _, clk := newTest(t)
			clk.Set(first)
			got := 0
			for _, at := range []time.Time{first, first.Add(tc.later)} {
				clk.Set(at)
				for range perHour.Count {
					got += b2i(allow(t, lim, testKeyA, perHour).Allowed)
				}
			}
			if got != tc.want {
				t.Errorf("admitted %d of 20, want %d", got, tc.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name  string
		l     Limit
		after time.Duration // after the burst
		want  time.Duration
	}{
		{"10/h at once", perHour, 0, 6 * time.Minute},
		{"10/h 1 s later", perHour, time.Second, 5*time.Minute + 59*time.Second},
		{"10/h 1.5 s later rounds up", perHour, 1500 * time.Millisecond, 5*time.Minute + 59*time.Second},
		{"80/s rounds 12.5 ms up to 1 s", global, 0, time.Second},
		{"otp 1 ms before", otp, 3*time.Minute - time.Millisecond, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim, _, clk := newTest(t)
			exhaust(t, lim, testKeyA, tc.l)
			clk.Add(tc.after)
			d := allow(t, lim, testKeyA, tc.l)
			if d.Allowed || d.RetryAfter != tc.want {
				t.Fatalf("Allow() = %+v, want refused, RetryAfter %v", d, tc.want)
			}
			at := clk.Now()
			clk.Set(at.Add(d.RetryAfter - time.Second))
			if allow(t, lim, testKeyA, tc.l).Allowed {
				t.Errorf("Allow() 1 s before RetryAfter = allowed, want refused")
			}
			clk.Set(at.Add(d.RetryAfter))
			if !allow(t, lim, testKeyA, tc.l).Allowed {
				t.Errorf("Allow() after RetryAfter = refused, want allowed")
			}
		})
	}
}

func TestKeysIndependent(t *testing.T) {
	lim, db, clk := newTest(t)
	other, err := New(db, Config{Table: testTable, Scope: "other", Now: clk.Now})
	if err != nil {
		t.Fatalf("New() err = %v", err)
	}
	exhaust(t, lim, testKeyA, perHour)
	exhaust(t, lim, "to:bidx-B", perHour)
	exhaust(t, other, testKeyA, perHour)
	for _, pk := range []string{"rl#test#to:bidx-A", "rl#test#to:bidx-B", "rl#other#to:bidx-A"} {
		if it := db.item(pk); it["tat"] != t0.Add(time.Hour).UnixNano() {
			t.Errorf("item %s = %v, want tat one hour ahead", pk, it)
		}
	}
}

func TestExpiredStateIgnored(t *testing.T) {
	future, nowSec := t0.Add(10*time.Hour).UnixNano(), t0.Unix()
	tests := []struct {
		name  string
		item  map[string]int64
		allow bool
	}{
		{"expired", map[string]int64{"tat": future, "expires_at": nowSec - 1}, true},
		{"expires this second", map[string]int64{"tat": future, "expires_at": nowSec}, true},
		{"no expires_at", map[string]int64{"tat": future}, true},
		{"no tat", map[string]int64{"expires_at": nowSec + 3600, "refused_window": 1}, true},
		{"live", map[string]int64{"tat": future, "expires_at": nowSec + 1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim, db, _ := newTest(t)
			db.set("rl#test#"+testKeyA, tc.item)
			d := allow(t, lim, testKeyA, perHour)
			if d.Allowed != tc.allow || (tc.allow && d.Remaining != perHour.Count-1) {
				t.Errorf("Allow() = %+v, want allowed %v", d, tc.allow)
			}
			if it := db.item("rl#test#" + testKeyA); tc.allow && it["tat"] != t0.Add(6*time.Minute).UnixNano() {
				t.Errorf("stored tat = %d, want now + T", it["tat"])
			}
		})
	}
}

func TestRefusalWritesNothing(t *testing.T) {
	lim, db, _ := newTest(t)
	exhaust(t, lim, testKeyA, perHour)
	writes := db.writes.Load()
	for range 5 {
		allow(t, lim, testKeyA, perHour)
	}
	if got := db.writes.Load() + db.failedWrites.Load() - writes; got != 0 {
		t.Errorf("writes for 5 refusals = %d, want 0", got)
	}
	if got := db.writes.Load(); got != int64(perHour.Count) {
		t.Errorf("writes for %d admissions = %d, want one each", perHour.Count, got)
	}
}

func TestInvalidInput(t *testing.T) {
	db := newFakeTable()
	for _, c := range []Config{{Scope: "s"}, {Table: testTable}, {Table: testTable, Scope: "a#b"}} {
		if _, err := New(db, c); err == nil {
			t.Errorf("New(%+v) err = nil, want error", c)
		}
	}
	if _, err := New(nil, Config{Table: testTable, Scope: "s"}); err == nil {
		t.Errorf("New(nil) err = nil, want error")
	}
	lim, _, _ := newTest(t)
	ctx := context.Background()
	for _, key := range []string{"", "+447700900123", "to:+15550100", strings.Repeat("k", maxKey+1)} {
		if _, err := lim.Allow(ctx, key, perHour); err == nil {
			t.Errorf("Allow(%.20q) err = nil, want invalid key", key)
		}
	}
	for _, key := range []string{"to:AbC-_09xyz", "from:106540352242922", "a+b"} {
		if _, err := lim.Allow(ctx, key, perHour); err != nil {
			t.Errorf("Allow(%q) err = %v, want nil", key, err)
		}
	}
	if _, err := lim.Allow(ctx, testKeyA, Limit{}); err == nil {
		t.Errorf("Allow(zero Limit) err = nil, want invalid limit")
	}
	if _, err := lim.AllowAll(ctx); err == nil {
		t.Errorf("AllowAll() err = nil, want no checks")
	}
	if _, err := lim.AllowAll(ctx, Check{testKeyA, perHour}, Check{testKeyA, global}); err == nil {
		t.Errorf("AllowAll(duplicate keys) err = nil, want error")
	}
}

func TestTableErrors(t *testing.T) {
	lim, db, _ := newTest(t)
	db.getErr = errors.New("ProvisionedThroughputExceededException")
	if _, err := lim.Allow(context.Background(), testKeyA, perHour); !errors.Is(err, db.getErr) || !strings.HasPrefix(err.Error(), "rate limit: read state: ") {
		t.Errorf("Allow() err = %v, want wrapped read error", err)
	}
}

// TestConcurrentFake races 50 goroutines for 10 per hour on one key.
func TestConcurrentFake(t *testing.T) {
	lim, db, _ := newTest(t)
	var granted, refused = race(t, 50, func() (Decision, error) { return lim.Allow(context.Background(), testKeyA, perHour) })
	if granted != 10 || refused != 40 || db.writes.Load() != 10 {
		t.Errorf("granted %d, refused %d, writes %d; want 10, 40, 10", granted, refused, db.writes.Load())
	}
}

// race runs fn on n goroutines released together and counts outcomes;
// any error fails the test.
func race(t testing.TB, n int, fn func() (Decision, error)) (granted, refused int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			d, err := fn()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("concurrent call err = %v, want nil", err)
			case d.Allowed:
				granted++
			default:
				refused++
			}
		})
	}
	close(start)
	wg.Wait()
	return granted, refused
}
