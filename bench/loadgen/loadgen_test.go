package loadgen

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the 2nd", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p99 of ten is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"p100 is the max", ms(1, 2, 3), 100, 3 * time.Millisecond},
		{"tiny p is the min", ms(1, 2, 3), 0.001, time.Millisecond},
		{"p over 100 clamps", ms(1, 2, 3), 150, 3 * time.Millisecond},
		{"p zero", ms(1, 2, 3), 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	var inFlight, most atomic.Int64
	res, err := Run(context.Background(), Options{Requests: 40, Concurrency: 4}, func(_ context.Context, i int) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(time.Millisecond)
		switch {
		case i%10 == 3:
			return StatusError{Code: 503}
		case i == 7:
			return errors.New("connection error")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run() err = %v, want nil", err)
	}
	if res.Requests != 40 || res.Errors != 5 || res.Capped || len(res.Latencies) != 40 {
		t.Errorf("Run() = %d requests, %d errors, capped %v, %d latencies; want 40, 5, false, 40",
			res.Requests, res.Errors, res.Capped, len(res.Latencies))
	}
	if diff := cmp.Diff(map[string]int{"status 503": 4, "connection error": 1}, res.ErrorKinds); diff != "" {
		t.Errorf("ErrorKinds mismatch (-want +got):\n%s", diff)
	}
	if m := most.Load(); m > 4 {
		t.Errorf("most requests in flight = %d, want ≤ 4", m)
	}
	for i := 1; i < len(res.Latencies); i++ {
		if res.Latencies[i] < res.Latencies[i-1] {
			t.Fatalf("latencies not sorted")
		}
	}
	if tp := res.Throughput(); tp <= 0 {
		t.Errorf("Throughput() = %v, want > 0", tp)
	}
}

func TestRunTimeCap(t *testing.T) {
	res, err := Run(context.Background(), Options{Requests: 1000, Concurrency: 2, MaxDuration: 30 * time.Millisecond},
		func(context.Context, int) error { time.Sleep(5 * time.Millisecond); return nil })
	if err != nil {
		t.Fatalf("Run() err = %v, want nil", err)
	}
	if !res.Capped || res.Requests >= 1000 || res.Requests != len(res.Latencies) || res.Requests == 0 {
		t.Errorf("Run() = %d requests (%d latencies), capped %v; want some, not all, and capped", res.Requests, len(res.Latencies), res.Capped)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, Options{Requests: 10, Concurrency: 2}, func(context.Context, int) error { return nil })
	if !errors.Is(err, context.Canceled) || res.Requests != 0 {
		t.Errorf("Run(cancelled) = %d requests, err %v; want 0, context.Canceled", res.Requests, err)
	}
}

func TestRunRejectsOptions(t *testing.T) {
	for _, o := range []Options{{Requests: 0, Concurrency: 1}, {Requests: 1, Concurrency: 0}} {
		if _, err := Run(context.Background(), o, func(context.Context, int) error { return nil }); err == nil {
			t.Errorf("Run(%+v) err = nil, want an error", o)
		}
	}
}

func TestMerge(t *testing.T) {
	a := Result{Requests: 2, Errors: 1, ErrorKinds: map[string]int{"status 500": 1}, Elapsed: time.Second,
		Latencies: []time.Duration{1, 5}}
	b := Result{Requests: 3, Elapsed: 2 * time.Second, Latencies: []time.Duration{2, 3, 4}, Capped: true}
	got := Merge(a, b)
	want := Result{Requests: 5, Errors: 1, ErrorKinds: map[string]int{"status 500": 1}, Elapsed: 3 * time.Second,
		Latencies: []time.Duration{1, 2, 3, 4, 5}, Capped: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Merge() mismatch (-want +got):\n%s", diff)
	}
	if tp := got.Throughput(); tp != 4.0/3 {
		t.Errorf("Throughput() = %v, want 4/3", tp)
	}
}
