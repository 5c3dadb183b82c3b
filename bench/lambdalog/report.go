// Package lambdalog reads the REPORT lines that the Lambda runtime (and
// the Runtime Interface Emulator) print after each invocation, e.g.
//
//	REPORT RequestId: 6f…	Duration: 27.66 ms	Billed Duration: 28 ms	Memory Size: 256 MB	Max Memory Used: 31 MB
//
// optionally prefixed by the local stack's "[FunctionName#n] " tag, so a
// load test can price the functions' billed duration.
//
// # Non-goals
//
// It reads nothing else from the logs (no request ids, no application
// lines), and does not interpret Max Memory Used, which the emulator does
// not measure.
package lambdalog

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"
)

// Report is one invocation's REPORT line.
type Report struct {
	// Function is the tag's function name ("WebhookFunction"), empty when
	// the line has no tag.
	Function string
	// Duration, Billed and Init are the reported durations (Init is zero
	// on a warm start).
	Duration, Billed, Init time.Duration
	// MemoryMB is the configured memory size.
	MemoryMB int
}

// ParseReport parses one log line; ok is false when it is not a
// well-formed REPORT line.
func ParseReport(line string) (r Report, ok bool) {
	tag, rest, found := strings.Cut(line, "REPORT RequestId: ")
	if !found {
		return Report{}, false
	}
	if name, _, hasTag := strings.Cut(strings.TrimSpace(tag), "#"); hasTag && strings.HasPrefix(name, "[") {
		r.Function = name[1:]
	}
	fields := strings.Split(rest, "\t")
	for _, f := range fields[1:] {
		key, val, found := strings.Cut(strings.TrimSpace(f), ": ")
		if !found {
			continue
		}
		switch key {
		case "Duration":
			r.Duration, ok = millis(val)
		case "Billed Duration":
			var okB bool
			if r.Billed, okB = millis(val); !okB {
				return Report{}, false
			}
		case "Init Duration":
			r.Init, _ = millis(val)
		case "Memory Size":
			n, err := strconv.Atoi(strings.TrimSuffix(val, " MB"))
			if err != nil || n <= 0 {
				return Report{}, false
			}
			r.MemoryMB = n
		}
	}
	if !ok || r.Billed == 0 || r.MemoryMB == 0 {
		return Report{}, false
	}
	return r, true
}

// millis parses "27.66 ms".
func millis(v string) (time.Duration, bool) {
	num, unit, found := strings.Cut(v, " ")
	if !found || unit != "ms" {
		return 0, false
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || f > 15*60*1000 {
		return 0, false
	}
	return time.Duration(f * float64(time.Millisecond)), true
}

// Scan returns the REPORT lines of r (other lines are skipped).
func Scan(r io.Reader) ([]Report, error) {
	var out []Report
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if rep, ok := ParseReport(sc.Text()); ok {
			out = append(out, rep)
		}
	}
	return out, sc.Err()
}
