package proccpu

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, line string
		want       Stat
		ok         bool
	}{
		{"cat", "6504 (cat) R 6502 6502 14929 0 -1 4194304 102 0 0 0 7 3 0 0 20 0 1 0 931629 3133440 390",
			Stat{PID: 6504, PPID: 6502, Comm: "cat", CPU: 100 * time.Millisecond}, true},
		{"comm with spaces and parentheses", "42 (a (b) c) S 1 0 0 0 -1 0 0 0 0 0 250 50 0 0",
			Stat{PID: 42, PPID: 1, Comm: "a (b) c", CPU: 3 * time.Second}, true},
		{"truncated", "42 (x) S 1 0 0", Stat{}, false},
		{"no comm", "42 x S 1 0 0 0 -1 0 0 0 0 0 1 1 0 0", Stat{}, false},
		{"bad pid", "x (y) S 1 0 0 0 -1 0 0 0 0 0 1 1 0 0", Stat{}, false},
		{"negative time", "42 (y) S 1 0 0 0 -1 0 0 0 0 0 -1 1 0 0", Stat{}, false},
		{"empty", "", Stat{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat(tc.line)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseStat(%q) err = %v, want ok %v", tc.line, err, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseStat(%q) mismatch (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

func TestSubAdd(t *testing.T) {
	got := Sample{"a": 5 * time.Second, "b": time.Second}.Sub(Sample{"a": 2 * time.Second})
	if diff := cmp.Diff(Sample{"a": 3 * time.Second, "b": time.Second}, got); diff != "" {
		t.Errorf("Sub() mismatch (-want +got):\n%s", diff)
	}
	got = Sample{"a": time.Second}.Add(Sample{"a": time.Second, "c": time.Millisecond})
	if diff := cmp.Diff(Sample{"a": 2 * time.Second, "c": time.Millisecond}, got); diff != "" {
		t.Errorf("Add() mismatch (-want +got):\n%s", diff)
	}
}

// TestTreeSeesThisProcess samples this test binary's own tree.
func TestTreeSeesThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux-only")
	}
	for i := 0; i < 3e7; i++ { // burn a little CPU so the sample is not zero
		_ = strings.Repeat("x", i%2)
	}
	s, err := Tree(os.Getpid(), func(st Stat, cmdline string) string {
		if st.PID == os.Getpid() && strings.Contains(cmdline, ".test") {
			return "me"
		}
		return ""
	})
	if err != nil {
		t.Fatalf("Tree() err = %v, want nil", err)
	}
	if s["me"] <= 0 {
		t.Errorf("Tree() = %v, want CPU time for this process", s)
	}
	self, err := Self("me")
	if err != nil || self["me"] < s["me"] {
		t.Errorf("Self() = %v, %v; want at least %v", self, err, s["me"])
	}
}

// FuzzParseStat checks the parser never panics and accepts only sane
// values.
func FuzzParseStat(f *testing.F) {
	f.Add("6504 (cat) R 6502 6502 14929 0 -1 4194304 102 0 0 0 7 3 0 0 20 0 1 0 931629 3133440 390")
	f.Add("42 (a (b) c) S 1 0 0 0 -1 0 0 0 0 0 250 50 0 0")
	f.Fuzz(func(t *testing.T, line string) {
		st, err := ParseStat(line)
		if err != nil {
			return
		}
		if st.PID <= 0 || st.PPID < 0 || st.CPU < 0 {
			t.Fatalf("ParseStat(%q) = %+v, want positive pid, non-negative ppid and CPU", line, st)
		}
	})
}
