package chaos

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/store"
)

// retryResult is the events function's answer to a retry run.
type retryResult struct {
	Attempted, Delivered, Dead int
}

// retryRun runs the events function's per-minute schedule now (schedules
// do not fire on the local stack).
func (c *api) retryRun(ctx context.Context) (retryResult, error) {
	var res retryResult
	a := c.invoke(ctx, "EventsFunction", `{"action":"retry_deliveries"}`)
	if a.Err != nil || a.Status != http.StatusOK {
		return res, fmt.Errorf("invoke retry_deliveries: %s", a)
	}
	res.Attempted, res.Delivered, res.Dead = count(a, "Attempted"), count(a, "Delivered"), count(a, "Dead")
	return res, nil
}

// firstRetry has the retry run attempt each pending delivery once more
// when it is due, while the fault lasts: it must fail again and be due
// again about 5 minutes later (the schedule's second wait, ±20 %).
func (x *run) firstRetry(ctx context.Context, t *testing.T, p phase, evs []runEvent, row *row) {
	dest := p.events.pending
	deadline := time.Now().Add(30 * time.Second)
	var waits []time.Duration
	for _, e := range evs {
		if !e.wants(dest) {
			continue
		}
		for {
			d, _, err := x.pendingAt(ctx, e, dest)
			if err == nil && d.Attempts >= 2 {
				if wait := d.NextAt.Sub(d.UpdatedAt); d.State != store.DeliveryPending || d.LastError != p.events.lastError ||
					wait < 4*time.Minute-time.Second || wait > 6*time.Minute+time.Second {
					t.Errorf("%s: %s's delivery to %s after its first retry = %s, %d attempts, %q, due %s later; want pending, 2, %q, due 4–6 min later",
						p.name, e.id, dest, d.State, d.Attempts, d.LastError, wait, p.events.lastError)
				} else {
					waits = append(waits, wait)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: %s's delivery to %s was not retried within 30 s (state %+v, %v)", p.name, e.id, dest, d, err)
				return
			}
			time.Sleep(time.Until(d.NextAt) + 100*time.Millisecond)
			if _, err := x.c.retryRun(ctx); err != nil {
				t.Errorf("%s: %v", p.name, err)
			}
		}
	}
	if len(waits) > 0 {
		slices.Sort(waits)
		row.notes = append(row.notes, fmt.Sprintf("the retry run's first retry of each (after about 5 s) failed again and left it pending, due %s–%s later (the schedule's 5 min, ±20 %%)",
			minutes(waits[0]), minutes(waits[len(waits)-1])))
	}
}

// plural is "1 delivery", "2 deliveries", "3 instances".
func plural(n int, what string) string {
	switch {
	case n == 1:
		return "1 " + what
	case strings.HasSuffix(what, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(what, "y"))
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func minutes(d time.Duration) string { return fmt.Sprintf("%.1f min", d.Minutes()) }

// deadLetter moves the first pending delivery to its last attempt, due
// now (the schedule's 28 hours skipped: the function's clock cannot be
// moved on the stack, its record's can), and has the retry run make that
// attempt: it must fail, become a dead letter and be listed by GET
// /v1/dead-letters. The fault's clearing redrives it (eventsRecovery).
func (x *run) deadLetter(ctx context.Context, t *testing.T, p phase, evs []runEvent, row *row) {
	dest := p.events.pending
	i := slices.IndexFunc(evs, func(e runEvent) bool { return e.wants(dest) })
	if i < 0 {
		t.Errorf("%s: no event to make a dead letter of", p.name)
		return
	}
	e := evs[i]
	d, pending, err := x.pendingAt(ctx, e, dest)
	if err != nil || !pending {
		t.Errorf("%s: %s's delivery to %s = %+v, %v; want pending", p.name, e.id, dest, d, err)
		return
	}
	d.Attempts, d.NextAt = lastAttempt, time.Now()
	if err := x.s.core.Store.SaveDelivery(ctx, d); err != nil {
		t.Fatalf("%s: move the delivery to its last attempt: %v", p.name, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if _, err := x.c.retryRun(ctx); err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
		d, err = x.s.core.Store.GetDelivery(ctx, e.auditID, dest)
		if err == nil && d.State != store.DeliveryPending {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: the last attempt of %s's delivery to %s was not made within 30 s: %+v, %v", p.name, e.id, dest, d, err)
			return
		}
	}
	if d.State != store.DeliveryDead || d.Attempts != lastAttempt+1 || d.LastError != p.events.lastError {
		t.Errorf("%s: after its last attempt, %s's delivery to %s = %s, %d attempts, %q; want dead, %d, %q", p.name, e.id, dest,
			d.State, d.Attempts, d.LastError, lastAttempt+1, p.events.lastError)
		return
	}
	x.deadLetterID = e.id + "." + dest
	if a := x.c.call(ctx, http.MethodGet, "/v1/dead-letters", "", nil); a.Status != http.StatusOK || !listsDeadLetter(a, x.deadLetterID, p.events.lastError) {
		t.Errorf("%s: GET /v1/dead-letters = %s, want it to list %s", p.name, a, x.deadLetterID)
		return
	}
	row.notes = append(row.notes, fmt.Sprintf("one delivery moved to its last (8th) attempt became a dead letter (%s) listed by `GET /v1/dead-letters`",
		p.events.lastError))
}

// listsDeadLetter reports whether a GET /v1/dead-letters answer lists id
// after its last attempt, failed with lastError.
func listsDeadLetter(a answer, id, lastError string) bool {
	list, _ := a.Body["dead_letters"].([]any)
	for _, l := range list {
		m, _ := l.(map[string]any)
		if m["id"] == id && m["last_error"] == lastError && m["attempts"] == float64(lastAttempt+1) {
			return true
		}
	}
	return false
}

// eventsRecovery, once the fault has cleared, redrives the dead letter,
// skips the schedule's waits of more than a few seconds (moving the
// deliveries' due time to now) and runs the retry run until every event
// is at every destination.
func (r *rig) eventsRecovery(ctx context.Context, t *testing.T, p phase, x *run, row *row) {
	if p.events.crash {
		return // the stream trigger delivered everything during the phase
	}
	if x.deadLetterID != "" {
		a := x.c.call(ctx, http.MethodPost, "/v1/dead-letters/"+x.deadLetterID+"/redrive", "", nil)
		if a.Status != http.StatusOK || fmt.Sprint(a.Body["state"]) != store.DeliveryDelivered {
			t.Errorf("%s: redrive of the dead letter = %s %v, want 200 delivered", p.name, a, a.Body["state"])
		} else {
			row.notes = append(row.notes, "the dead letter, redriven through `POST /v1/dead-letters/{id}/redrive` once the fault cleared, was delivered at once")
		}
	}
	evs, err := x.events(ctx)
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	moved := 0
	for _, e := range evs {
		d, pending, err := x.pendingAt(ctx, e, p.events.pending)
		if err == nil && pending && time.Until(d.NextAt) > 10*time.Second {
			d.NextAt = time.Now()
			if err := x.s.core.Store.SaveDelivery(ctx, d); err != nil {
				t.Fatalf("%s: move a delivery's due time: %v", p.name, err)
			}
			moved++
		}
	}
	if moved > 0 {
		row.notes = append(row.notes, fmt.Sprintf("the schedule's wait (about 5 min) was skipped for %s by moving the due time to now", plural(moved, "delivery")))
	}
	_, err = x.awaitEvents(ctx, eventWait, func(evs []runEvent, a arrivals) (bool, error) {
		if ok, err := x.allGot(ctx, "")(evs, a); err != nil || ok {
			return ok, err
		}
		_, err := x.c.retryRun(ctx)
		return false, err
	})
	if err != nil {
		row.events = "**not delivered**"
		t.Errorf("%s: the events were not all delivered after the fault cleared: %v", p.name, err)
		return
	}
	row.notes = append(row.notes, fmt.Sprintf("every event of the run was at the bus and the endpoint %s after the fault cleared (retry runs)",
		seconds(time.Since(x.cleared))))
}

// crashMidBatch waits until the endpoint holds the run's message.received
// (a stream batch is then in the middle of its deliveries), kills every
// instance of the events function (SIGKILL, as an out-of-memory kill
// would), and waits for the stream trigger alone to deliver every event.
func (r *rig) crashMidBatch(ctx context.Context, t *testing.T, p phase, x *run, row *row) {
	before := streamErrors(t, x.s)
	if err := x.awaitHeld(ctx, 30*time.Second); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	time.Sleep(300 * time.Millisecond)
	killed, err := r.killFunction("events")
	if err != nil || killed == 0 {
		t.Fatalf("%s: kill the events function: %d killed, %v", p.name, killed, err)
	}
	start := time.Now()
	if _, err := x.awaitEvents(ctx, eventWait, x.allGot(ctx, "")); err != nil {
		row.events = "**not delivered**"
		t.Errorf("%s: the stream trigger did not deliver every event after the crash: %v", p.name, err)
		return
	}
	errs := streamErrors(t, x.s)[len(before):]
	row.notes = append(row.notes, fmt.Sprintf("%s of the events function killed (SIGKILL) while the endpoint held the run's message.received; "+
		"the stream trigger got %s (batches of %s records; one of two or more is bisected) and delivered every event %s after the kill, without a retry run",
		plural(killed, "instance"), plural(len(errs), "function error"), strings.Join(errs, ", "), seconds(time.Since(start))))
	if len(errs) == 0 {
		t.Errorf("%s: the stream trigger saw no function error: the crash was not mid-batch", p.name)
	}
}

// awaitHeld waits until the endpoint has taken the run's message.received
// fault, so that it now holds that delivery.
func (x *run) awaitHeld(ctx context.Context, limit time.Duration) error {
	for deadline := time.Now().Add(limit); ; time.Sleep(50 * time.Millisecond) {
		var faults []struct {
			Type string `json:"type"`
		}
		if err := x.c.sandboxDo(ctx, http.MethodGet, "/_sandbox/endpoint/faults", nil, &faults); err != nil {
			return err
		}
		if !slices.ContainsFunc(faults, func(f struct {
			Type string `json:"type"`
		}) bool {
			return f.Type == "message.received"
		}) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the endpoint did not receive the run's message.received within %s", limit)
		}
	}
}

// killFunction kills (SIGKILL) every running instance of one of this
// run's functions: the processes whose executable is its bootstrap in the
// rig's own build folder, so no other stack's process is touched.
func (r *rig) killFunction(fn string) (int, error) {
	boot, err := filepath.EvalSymlinks(filepath.Join(r.build, fn, "bootstrap"))
	if err != nil {
		return 0, err
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	killed := 0
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", p.Name(), "exe")); err == nil && exe == boot {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
	}
	return killed, nil
}

// streamErrors returns the record counts of the events function's stream
// batches that ended in a function error so far, from the stack log.
func streamErrors(t *testing.T, s *stack) []string {
	b, err := os.ReadFile(s.env["WAGUARD_STACK_LOG"])
	if err != nil {
		t.Fatalf("read the stack log: %v", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `msg="function error on a stream batch"`) && strings.Contains(l, "function=EventsFunction") {
			for _, f := range strings.Fields(l) {
				if n, ok := strings.CutPrefix(f, "records="); ok {
					out = append(out, n)
				}
			}
		}
	}
	return out
}
