package chaos

import (
	"fmt"
	"strings"
	"time"
)

// row is one phase's measured results: a line of docs/reliability.md.
type row struct {
	name       string
	answers    []string // per operation, during the fault
	documented bool
	plaintext  string // scenario-wide, after the stack stopped
	dups       int
	missing    int
	chains     string // scenario-wide chain verification
	recovery   string
	// events says how many of the run's events reached every destination
	// (events_test.go); "" when the phase does not check them.
	events string
	notes  []string
}

func (r *row) answer(op opKind, a answer) {
	extra := ""
	if a.RetryAfter != "" {
		extra = ", Retry-After " + a.RetryAfter
	}
	r.answers = append(r.answers, fmt.Sprintf("%s %s (%s%s)", op, a, seconds(a.Latency), extra))
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

// markdown renders the results table and the notes under it.
func markdown(rows []*row, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| Fault | API answer during the fault | Documented | Plaintext on disk or bus | Duplicate sends | Missing audit events | Recovery after the fault clears | Events: lost, duplicates |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		events := r.events
		if events == "" {
			events = "not checked"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, strings.Join(r.answers, "; "), yesNo(r.documented),
			r.plaintext, bold(r.dups), bold(r.missing)+" ("+r.chains+")", r.recovery, events)
	}
	fmt.Fprintf(&b, "\nWhole run: %s.\n", seconds(took))
	for _, r := range rows {
		if len(r.notes) > 0 {
			fmt.Fprintf(&b, "\n%s:\n", r.name)
			for _, n := range r.notes {
				fmt.Fprintf(&b, "- %s\n", n)
			}
		}
	}
	return b.String()
}

func bold(n int) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("**%d**", n)
}
