package lambdalog

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseReport(t *testing.T) {
	tests := []struct {
		name, line string
		want       Report
		ok         bool
	}{
		{"tagged", "[WebhookFunction#1] REPORT RequestId: 920f\tDuration: 27.66 ms\tBilled Duration: 28 ms\tMemory Size: 256 MB\tMax Memory Used: 256 MB\t",
			Report{Function: "WebhookFunction", Duration: 27660 * time.Microsecond, Billed: 28 * time.Millisecond, MemoryMB: 256}, true},
		{"Lambda's own, cold", "REPORT RequestId: 6f\tDuration: 3.10 ms\tBilled Duration: 95 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 91.50 ms",
			Report{Duration: 3100 * time.Microsecond, Billed: 95 * time.Millisecond, Init: 91500 * time.Microsecond, MemoryMB: 128}, true},
		{"not a report", "[WebhookFunction#1] END RequestId: 920f", Report{}, false},
		{"no billed duration", "REPORT RequestId: 6f\tDuration: 3.10 ms\tMemory Size: 128 MB", Report{}, false},
		{"no memory", "REPORT RequestId: 6f\tDuration: 3.10 ms\tBilled Duration: 4 ms", Report{}, false},
		{"bad unit", "REPORT RequestId: 6f\tDuration: 3.10 s\tBilled Duration: 4 ms\tMemory Size: 128 MB", Report{}, false},
		{"bad memory", "REPORT RequestId: 6f\tDuration: 3 ms\tBilled Duration: 4 ms\tMemory Size: lots", Report{}, false},
		{"negative", "REPORT RequestId: 6f\tDuration: -3 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB", Report{}, false},
		{"absurd", "REPORT RequestId: 6f\tDuration: 1e300 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB", Report{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseReport(tc.line)
			if ok != tc.ok {
				t.Fatalf("ParseReport(%q) ok = %v, want %v", tc.line, ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseReport(%q) mismatch (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

func TestScan(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "stack.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Scan(f)
	if err != nil {
		t.Fatalf("Scan() err = %v, want nil", err)
	}
	want := []Report{
		{Function: "WebhookFunction", Duration: 27660 * time.Microsecond, Billed: 28 * time.Millisecond, MemoryMB: 256},
		{Function: "SendFunction", Duration: 161050 * time.Microsecond, Billed: 162 * time.Millisecond, Init: 20 * time.Microsecond, MemoryMB: 256},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Scan() mismatch (-want +got):\n%s", diff)
	}
}

// FuzzParseReport checks the parser never panics and that an accepted
// line has positive billed duration and memory.
func FuzzParseReport(f *testing.F) {
	f.Add("[SendFunction#2] REPORT RequestId: 2f\tInit Duration: 0.02 ms\tDuration: 161.05 ms\tBilled Duration: 162 ms\tMemory Size: 256 MB\t")
	f.Add("REPORT RequestId: x\tDuration: 1 ms\tBilled Duration: 1 ms\tMemory Size: 1 MB")
	f.Fuzz(func(t *testing.T, line string) {
		r, ok := ParseReport(line)
		if !ok {
			return
		}
		if r.Billed <= 0 || r.MemoryMB <= 0 || r.Duration < 0 || r.Init < 0 {
			t.Fatalf("ParseReport(%q) = %+v, want positive billed duration and memory", line, r)
		}
	})
}
