// Package loadgen runs a bounded closed-loop load: a fixed number of
// requests shared by a fixed number of concurrent clients, each sending
// its next request as soon as the previous one is answered, under a time
// cap. It records every latency and reports throughput and percentiles.
//
// # Non-goals
//
// It does not pace requests (no open-loop arrival rate), retry, or know
// anything about what a request is: the caller's function does the work
// and returns an error for anything that is not a success.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options bound a run.
type Options struct {
	// Requests is how many requests to send, at least 1.
	Requests int
	// Concurrency is the number of clients, at least 1.
	Concurrency int
	// MaxDuration stops issuing new requests once it has passed (requests
	// in flight finish); zero means no cap.
	MaxDuration time.Duration
}

// Result is the outcome of a run.
type Result struct {
	// Requests is how many requests were sent (fewer than asked when the
	// time cap was reached), Errors how many of them failed.
	Requests, Errors int
	// ErrorKinds counts the failures by error text.
	ErrorKinds map[string]int
	// Elapsed is the wall time from the first request to the last answer.
	Elapsed time.Duration
	// Latencies holds every request's latency, failures included, sorted.
	Latencies []time.Duration
	// Capped reports that the time cap stopped the run early.
	Capped bool
}

// Throughput is the number of successful requests per second.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.Errors) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of the latencies
// by the nearest-rank method: the smallest latency that at least p % of
// the requests did not exceed. It is zero when there are no latencies.
func (r Result) Percentile(p float64) time.Duration {
	return Percentile(r.Latencies, p)
}

// Percentile is the nearest-rank p-th percentile of sorted latencies:
// sorted[⌈p/100·n⌉−1], clamped to the slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 || p <= 0 || math.IsNaN(p) {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// StatusError is the error of a request answered with an unexpected HTTP
// status; it groups failures by status in [Result.ErrorKinds].
type StatusError struct{ Code int }

func (e StatusError) Error() string { return fmt.Sprintf("status %d", e.Code) }

// Run sends opts.Requests calls of do (with the request index 0…n−1)
// from opts.Concurrency goroutines and measures each one. It stops early
// when ctx is done or the time cap passes.
func Run(ctx context.Context, opts Options, do func(ctx context.Context, i int) error) (Result, error) {
	if opts.Requests < 1 || opts.Concurrency < 1 {
		return Result{}, errors.New("loadgen: requests and concurrency must be at least 1")
	}
	lat := make([]time.Duration, opts.Requests)
	errs := make([]error, opts.Requests)
	var next atomic.Int64
	var capped atomic.Bool
	var deadline time.Time
	start := time.Now()
	if opts.MaxDuration > 0 {
		deadline = start.Add(opts.MaxDuration)
	}
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Go(func() {
			for {
				if ctx.Err() != nil || (!deadline.IsZero() && time.Now().After(deadline)) {
					capped.Store(ctx.Err() == nil)
					return
				}
				i := int(next.Add(1)) - 1
				if i >= opts.Requests {
					return
				}
				t0 := time.Now()
				errs[i] = do(ctx, i)
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	res := Result{Elapsed: time.Since(start), Capped: capped.Load(), ErrorKinds: map[string]int{}}
	res.Requests = min(int(next.Load()), opts.Requests)
	res.Latencies = slices.Clone(lat[:res.Requests])
	slices.Sort(res.Latencies)
	for _, err := range errs[:res.Requests] {
		if err != nil {
			res.Errors++
			res.ErrorKinds[kind(err)]++
		}
	}
	return res, ctx.Err()
}

// kind names an error for grouping, keeping error texts short.
func kind(err error) string {
	if se, ok := errors.AsType[StatusError](err); ok {
		return se.Error()
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// Merge pools several runs of the same workload (e.g. interleaved rounds)
// into one result: requests, errors and latencies add up, and Elapsed is
// the sum of the runs' wall times, so Throughput is the pooled rate.
func Merge(rs ...Result) Result {
	out := Result{ErrorKinds: map[string]int{}}
	for _, r := range rs {
		out.Requests += r.Requests
		out.Errors += r.Errors
		out.Elapsed += r.Elapsed
		out.Capped = out.Capped || r.Capped
		out.Latencies = append(out.Latencies, r.Latencies...)
		for k, v := range r.ErrorKinds {
			out.ErrorKinds[k] += v
		}
	}
	slices.Sort(out.Latencies)
	return out
}
