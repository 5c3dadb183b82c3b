package stacktest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// FunctionLine is one log line a function wrote to the stack log.
type FunctionLine struct {
	// Instance is the function instance that wrote it, e.g.
	// "WebhookFunction#1".
	Instance string
	// Invocation is the Lambda request id of the invocation the line was
	// written in (between the runtime emulator's INVOKE START and END
	// lines of its instance), or "" for a line outside one (the cold
	// start).
	Invocation string
	// Fields is the decoded JSON line.
	Fields map[string]any
}

var (
	instancePrefix = regexp.MustCompile(`^\[([A-Za-z0-9]+#\d+)\] (.*)$`)
	invokeStart    = regexp.MustCompile(`\(rapid\) INVOKE START\(requestId: ([0-9a-f-]+)\)`)
	invokeEnd      = regexp.MustCompile(`^END RequestId: ([0-9a-f-]+)`)
	// instanceInit starts a new process under an instance's name: what
	// it writes until its first INVOKE START is its cold start.
	instanceInit = regexp.MustCompile(`\(rapid\) (?:exec '|INIT START)`)
)

// FunctionLines reads a stack log (WAGUARD_STACK_LOG), where each line a
// function instance writes is prefixed with "[<LogicalID>#<n>] ", and
// returns the functions' JSON log lines (not their EMF metric lines, nor
// the emulators' lines), each with the invocation it was written in.
func FunctionLines(r io.Reader) ([]FunctionLine, error) {
	current := map[string]string{} // instance → invocation in progress
	var out []FunctionLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		m := instancePrefix.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		instance, text := m[1], m[2]
		if s := invokeStart.FindStringSubmatch(text); s != nil {
			current[instance] = s[1]
			continue
		}
		if invokeEnd.MatchString(text) || instanceInit.MatchString(text) {
			delete(current, instance) // an instance killed mid-invocation (a timeout) writes no END
			continue
		}
		if !strings.HasPrefix(text, "{") {
			continue
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(text), &fields); err != nil || fields["_aws"] != nil || fields["message"] == nil {
			continue // a partial line of a crashed instance, or EMF metrics
		}
		out = append(out, FunctionLine{Instance: instance, Invocation: current[instance], Fields: fields})
	}
	return out, sc.Err()
}

// scanMasks are what shared/redact's scan writes in place of what it
// masks inside a value (its denylist replaces a whole value with
// "[redacted]" instead).
var scanMasks = []string{"[phone]", "[wamid]", "[token]", "[secret]", "[ip]", "[email]"}

// LogProblems returns what is wrong with lines, in words that quote no
// value but ids:
//
//   - a line written inside an invocation without that invocation's
//     requestId, which ties it to the REPORT line and the API Gateway
//     request;
//   - an id field (request_id, requestId, erasure_request, any key ending
//     in id) with a mask inside: the redactor cut into an identifier, and
//     the line can no longer be found by it.
func LogProblems(lines []FunctionLine) []string {
	var out []string
	for _, l := range lines {
		msg, _ := l.Fields["message"].(string)
		if got, _ := l.Fields["requestId"].(string); l.Invocation != "" && got != l.Invocation {
			out = append(out, fmt.Sprintf("%s %q in invocation %s: requestId %q, want the invocation's", l.Instance, msg, l.Invocation, got))
		}
		for _, k := range slices.Sorted(maps.Keys(l.Fields)) {
			s, ok := l.Fields[k].(string)
			if !ok || !isIDKey(k) {
				continue
			}
			for _, mask := range scanMasks {
				if strings.Contains(s, mask) {
					out = append(out, fmt.Sprintf("%s %q: id field %s = %q holds %s", l.Instance, msg, k, s, mask))
				}
			}
		}
	}
	return out
}

// isIDKey reports whether key names an identifier: it ends in "id" or is
// erasure_request, ignoring case, '_' and '-'.
func isIDKey(key string) bool {
	k := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(key))
	return strings.HasSuffix(k, "id") || k == "erasurerequest"
}
