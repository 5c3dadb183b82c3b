package metrics

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixedClock is the clock of every test: 2023-11-14T22:13:20Z.
func fixedClock() time.Time { return time.UnixMilli(1700000000000).UTC() }

func newRecorder(t *testing.T, opts ...Option) *Recorder {
	t.Helper()
	r, err := NewRecorder("waguard-dev-send", append([]Option{WithClock(fixedClock)}, opts...)...)
	if err != nil {
		t.Fatalf("NewRecorder() err = %v, want nil", err)
	}
	return r
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("WriteFile() err = %v, want nil", err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile() err = %v, want nil", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Flush() wrote\n%s\nwant (%s)\n%s", got, path, want)
	}
}

func TestFlushGolden(t *testing.T) {
	tests := []struct {
		name   string
		opts   []Option
		record func(*Recorder)
	}{
		{"counters.jsonl", nil, func(r *Recorder) {
			r.Add(MessagesSent, 2)
			r.Add(MessagesSent, 1)
			r.Add(KMSCalls, 1)
			r.Add(SignatureFailures, 0)
		}},
		{"gauges.jsonl", []Option{WithDimension("Stage", "dev")}, func(r *Recorder) {
			r.Set(ErasurePendingOldestHours, 3, UnitNone)
			r.Set(ErasurePendingOldestHours, 26.5, UnitNone)
			r.Set(RetentionExcessHours, 0, UnitNone)
			r.Add(Erasures, 4)
		}},
		{"namespace.jsonl", []Option{WithNamespace("waguard-test")}, func(r *Recorder) {
			r.Set("Latency", 12.5, UnitMilliseconds)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(t, tc.opts...)
			tc.record(r)
			var buf bytes.Buffer
			if err := r.Flush(&buf); err != nil {
				t.Fatalf("Flush() err = %v, want nil", err)
			}
			validateEMF(t, buf.Bytes())
			checkGolden(t, tc.name, buf.Bytes())
		})
	}
}

func TestFlushResets(t *testing.T) {
	r := newRecorder(t)
	r.Add(MessagesReceived, 1)
	var first, second bytes.Buffer
	if err := r.Flush(&first); err != nil || first.Len() == 0 {
		t.Fatalf("Flush() = %v with %d bytes, want a line", err, first.Len())
	}
	if err := r.Flush(&second); err != nil || second.Len() != 0 {
		t.Errorf("second Flush() = %v, wrote %q; want nothing", err, second.String())
	}
}

func TestFlushSplitsAt100(t *testing.T) {
	r := newRecorder(t)
	for i := range 250 {
		r.Add(fmt.Sprintf("M%03d", i), i)
	}
	var buf bytes.Buffer
	if err := r.Flush(&buf); err != nil {
		t.Fatalf("Flush() err = %v, want nil", err)
	}
	lines := bytes.SplitAfter(buf.Bytes(), []byte("\n"))
	if got := len(lines) - 1; got != 3 { // the last element is empty
		t.Fatalf("Flush() wrote %d lines, want 3", got)
	}
	total := 0
	for _, line := range lines[:3] {
		total += validateEMF(t, line)
	}
	if total != 250 {
		t.Errorf("Flush() wrote %d metrics, want 250", total)
	}
}

func TestFlushSkipsInvalid(t *testing.T) {
	r := newRecorder(t)
	r.Add(MessagesSent, 1)
	r.Add(FunctionDimension, 1) // collides with the dimension
	r.Add("_aws", 1)
	r.Add("", 1)
	r.Add("bad\nname", 1)
	r.Set("NotANumber", math.NaN(), UnitNone)
	r.Set("Infinite", math.Inf(1), UnitNone)
	var buf bytes.Buffer
	err := r.Flush(&buf)
	if err == nil {
		t.Fatalf("Flush() err = nil, want an error naming the skipped metrics")
	}
	if n := validateEMF(t, buf.Bytes()); n != 1 {
		t.Errorf("Flush() wrote %d metrics, want 1: %s", n, buf.Bytes())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestFlushWriteError(t *testing.T) {
	r := newRecorder(t)
	r.Add(MessagesSent, 1)
	if err := r.Flush(failingWriter{}); err == nil || !strings.HasPrefix(err.Error(), "flush metrics: ") {
		t.Errorf("Flush() err = %v, want a wrapped write error", err)
	}
}

func TestNewRecorder(t *testing.T) {
	tests := []struct {
		name     string
		function string
		opts     []Option
		wantErr  bool
	}{
		{"ok", "waguard-dev-send", nil, false},
		{"stage", "waguard-dev-send", []Option{WithDimension("Stage", "dev")}, false},
		{"empty function", "", nil, true},
		{"blank function", "   ", nil, true},
		{"non-ascii value", "wagüard", nil, true},
		{"control character", "send\n", nil, true},
		{"long value", strings.Repeat("x", 1025), nil, true},
		{"repeated dimension", "send", []Option{WithDimension("Function", "x")}, true},
		{"dimension named _aws", "send", []Option{WithDimension("_aws", "x")}, true},
		{"dimension starting with colon", "send", []Option{WithDimension(":x", "x")}, true},
		{"empty namespace", "send", []Option{WithNamespace("")}, true},
		{"too many dimensions", "send", manyDimensions(30), true},
		{"thirty dimensions", "send", manyDimensions(29), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRecorder(tc.function, tc.opts...)
			if (err != nil) != tc.wantErr || (err == nil) != (r != nil) {
				t.Errorf("NewRecorder() = %v, %v; want error %v", r, err, tc.wantErr)
			}
		})
	}
}

func manyDimensions(n int) []Option {
	opts := make([]Option, n)
	for i := range opts {
		opts[i] = WithDimension(fmt.Sprintf("D%d", i), "v")
	}
	return opts
}

func TestConcurrent(t *testing.T) {
	r := newRecorder(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				r.Add(KeyCacheHits, 1)
				r.Set(ErasurePendingOldestHours, 1, UnitNone)
			}
		})
	}
	wg.Wait()
	var buf bytes.Buffer
	if err := r.Flush(&buf); err != nil {
		t.Fatalf("Flush() err = %v, want nil", err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"KeyCacheHits":8000`)) {
		t.Errorf("Flush() = %s, want KeyCacheHits 8000", buf.Bytes())
	}
}

func TestBeforeFlushAddsToTheLine(t *testing.T) {
	r, err := NewRecorder("webhook", WithClock(func() time.Time { return time.Unix(1700000000, 0) }))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	r.BeforeFlush(func(r *Recorder) { calls++; r.Add(KMSCalls, 2) })
	var b strings.Builder
	if err := r.Flush(&b); err != nil || !strings.Contains(b.String(), `"KMSCalls":2`) || calls != 1 {
		t.Errorf("Flush() = %q, %v (hook calls %d); want KMSCalls 2 from the hook", b.String(), err, calls)
	}
}
