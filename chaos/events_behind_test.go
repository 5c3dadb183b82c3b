package chaos

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	wgevents "github.com/waguard/waguard/shared/events"
)

// behindLimit bounds how long after its change an event made behind a
// stream batch that gave up on a slow endpoint may take to reach the bus:
// well under the events function's 10 s attempt timeout, which a batch
// trying that endpoint again would wait (reliability.md, finding 6).
const behindLimit = 5 * time.Second

// grantsBehind runs while the endpoint holds up the stream batch with the
// workload's events (each attempt about the run's people waits the 10 s
// attempt timeout): a consent grant for G 3 s after the workload, which
// the stream takes in the next batch, and another 12 s after, made once
// the first batch has given up on the endpoint. The second batch has a
// delivery to the endpoint too; if it waited for it again, the third
// grant's event would wait with it. It must reach the bus within
// behindLimit of its change.
func (x *run) grantsBehind(ctx context.Context, t *testing.T, p phase, row *row) {
	start := time.Now()
	var last string
	for _, at := range []time.Duration{3 * time.Second, 12 * time.Second} {
		// Drain the bus meanwhile, so each event's lag is measured when it
		// arrives, not when the wait ends.
		for time.Now().Before(start.Add(at)) {
			if err := x.s.tap.drain(ctx); err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		a, ok := x.do(ctx, opConsent)
		if !ok {
			t.Errorf("%s: a consent grant behind the held batch answered %s, want 201", p.name, a)
			return
		}
		last = fmt.Sprint(a.Body["id"])
	}
	var lag time.Duration
	_, err := x.awaitEvents(ctx, eventWait, func(evs []runEvent, a arrivals) (bool, error) {
		i := slices.IndexFunc(evs, func(e runEvent) bool { return e.typ == wgevents.TypeConsentChanged && e.consentID == last })
		if i < 0 || a.bus[evs[i].id] == 0 {
			return false, nil
		}
		lag = a.busLag[evs[i].id]
		return true, nil
	})
	switch {
	case err != nil:
		t.Errorf("%s: the last grant's event did not reach the bus: %v", p.name, err)
	case lag > behindLimit:
		t.Errorf("%s: the last grant's event reached the bus %s after its change, want within %s: a stream batch waited again for the endpoint that had just timed out",
			p.name, seconds(lag), seconds(behindLimit))
	}
	row.notes = append(row.notes, fmt.Sprintf("two more grants for G, 3 s and 12 s after the workload, behind the batch held by the endpoint: "+
		"the later one's event was on the bus %s after its change (limit %s; a batch that waited for the endpoint again would hold it up to 10 s)",
		seconds(lag), seconds(behindLimit)))
}
