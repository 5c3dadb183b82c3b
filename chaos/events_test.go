package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/audit"
	wgevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/store"
)

// The events rows (docs/events.md): every change of a run (a consent
// grant, an inbound message, an erasure) has an event, delivered at least
// once, under one id, to the bus and to the sandbox's endpoint, whatever
// fails on the way.

// Destinations of the events on the chaos stack: the bus, and the
// endpoint "sandbox" waguard-dev registers (every type, with content).
const (
	destBus      = "bus"
	destEndpoint = "sandbox"
)

// lastAttempt is the attempts a delivery has made before its last one:
// docs/events.md's schedule is eight attempts.
const lastAttempt = 7

// eventWait bounds how long the events of a run may take to reach a
// destination that works, or to be left pending for one that does not.
// A slow endpoint costs its 10 s attempt timeout per stream batch.
const eventWait = 60 * time.Second

// eventCheck makes a phase check its run's events besides the API.
type eventCheck struct {
	// pending is the destination the fault holds up: during the fault
	// each event's delivery to it is pending (with lastError) while the
	// other destination gets every event; once the fault clears, the
	// retry run delivers them.
	pending, lastError string
	// firstRetry has the retry run attempt the pending deliveries once
	// more while the fault lasts, as the per-minute schedule would: they
	// must stay pending, due about 5 minutes later (the schedule's second
	// wait).
	firstRetry bool
	// deadLetter moves one pending delivery to its last attempt (the 28
	// hours of the schedule, skipped): the retry run must make it a dead
	// letter that GET /v1/dead-letters lists; once the fault clears it is
	// redriven through the API.
	deadLetter bool
	// crash kills the events function's instances while one is in the
	// middle of a stream batch, held by the endpoint on the run's
	// message.received; the stream trigger alone must then deliver every
	// event (no retry run).
	crash bool
	// behind makes two more consent grants while the endpoint holds up
	// the stream (events_behind_test.go): the later one must reach the
	// bus without waiting for the endpoint again.
	behind bool
}

// runEvent is one event of a run's changes.
type runEvent struct {
	auditID, id, contact string
	// consentID is a consent.changed event's consent event (cev_…).
	consentID string
	typ       wgevents.Type
}

func (e runEvent) wants(dest string) bool {
	// subject.erased goes to the endpoints that received an event about
	// the person; the run's E never had one.
	return dest == destBus || e.typ != wgevents.TypeSubjectErased
}

// eventTypes are the audit events whose change has an event.
var eventTypes = []string{string(audit.EventMessageReceived), string(audit.EventMessageStatus), string(audit.EventConsentGranted),
	string(audit.EventConsentRevoked), string(audit.EventDataDeletion)}

// events lists the events of the run's changes: the audit events of its
// people that have an event record.
func (x *run) events(ctx context.Context) ([]runEvent, error) {
	_, evs, err := readAudit(ctx, x.s)
	if err != nil {
		return nil, err
	}
	var people []string
	for _, n := range []string{x.G, x.S, x.W, x.E} {
		_, pse := subjectOf(x.s, n)
		people = append(people, pse)
	}
	var out []runEvent
	for _, e := range evs {
		if !slices.Contains(people, e.Subject) || !slices.Contains(eventTypes, e.Type) || slices.ContainsFunc(out, func(r runEvent) bool { return r.auditID == e.ID }) {
			continue
		}
		rec, err := x.s.core.Store.Event(ctx, e.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // a change with no event (the harness's own grant)
		}
		if err != nil {
			return nil, err
		}
		id, err := wgevents.IDFromAudit(e.ID)
		if err != nil {
			return nil, err
		}
		contact := rec.Fields.ContactID
		if contact == "" {
			contact = wgevents.ContactID(x.s.core.ContactKey, rec.Subject)
		}
		out = append(out, runEvent{auditID: e.ID, id: id, contact: contact, typ: rec.Type, consentID: rec.Fields.ConsentEventID})
	}
	return out, nil
}

// contact is the contact id a person known by number n gets.
func (x *run) contact(n string) string {
	idx, _ := subjectOf(x.s, n)
	return wgevents.ContactID(x.s.core.ContactKey, idx)
}

// arrivals is what the destinations got, by event id: the bus (every
// event the stack's tap queue took), and the endpoint (every attempt it
// answered 200, and every attempt), with each event's contact id, and how
// long after its change each destination first had it.
type arrivals struct {
	bus, endpointOK, endpointAll map[string]int
	contact                      map[string]string
	busLag, endpointLag          map[string]time.Duration
}

// arrivals reads the tap queue and the sandbox's deliveries.
func (s *stack) arrivals(ctx context.Context, c *api) (arrivals, error) {
	if err := s.tap.drain(ctx); err != nil {
		return arrivals{}, err
	}
	a := arrivals{bus: s.tap.counts(), endpointOK: map[string]int{}, endpointAll: map[string]int{}, contact: s.tap.contacts(),
		busLag: s.tap.lags(), endpointLag: map[string]time.Duration{}}
	var ds []struct {
		ID        string    `json:"id"`
		Status    int       `json:"status"`
		Time      time.Time `json:"time"`
		EventTime time.Time `json:"event_time"`
		Data      struct {
			ContactID string `json:"contact_id"`
		} `json:"data"`
	}
	if err := c.sandboxDo(ctx, http.MethodGet, "/_sandbox/deliveries", nil, &ds); err != nil {
		return arrivals{}, err
	}
	for _, d := range ds {
		a.endpointAll[d.ID]++
		if d.Status == http.StatusOK {
			if a.endpointOK[d.ID]++; a.endpointOK[d.ID] == 1 {
				a.endpointLag[d.ID] = d.Time.Sub(d.EventTime)
			}
		}
		a.contact[d.ID] = d.Data.ContactID
	}
	return a, nil
}

// got reports whether dest has e and has nothing left to retry for it:
// an attempt that arrived but whose answer was lost (a timeout) is still
// pending.
func (x *run) got(ctx context.Context, a arrivals, e runEvent, dest string) (bool, error) {
	n := a.bus[e.id]
	if dest == destEndpoint {
		n = a.endpointOK[e.id]
	}
	if n == 0 {
		return false, nil
	}
	d, err := x.s.core.Store.GetDelivery(ctx, e.auditID, dest)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return true, nil // delivered at the first attempt: no state kept
	case err != nil:
		return false, err
	}
	return d.State == store.DeliveryDelivered, nil
}

// pendingAt reports whether e's delivery to dest is pending.
func (x *run) pendingAt(ctx context.Context, e runEvent, dest string) (store.Delivery, bool, error) {
	d, err := x.s.core.Store.GetDelivery(ctx, e.auditID, dest)
	if errors.Is(err, store.ErrNotFound) {
		return d, false, nil
	}
	return d, err == nil && d.State == store.DeliveryPending, err
}

// awaitEvents polls until done holds for the run's events (listed anew
// each time: a late change adds its event) or limit passes.
func (x *run) awaitEvents(ctx context.Context, limit time.Duration, done func([]runEvent, arrivals) (bool, error)) ([]runEvent, error) {
	deadline := time.Now().Add(limit)
	for {
		evs, err := x.events(ctx)
		if err != nil {
			return nil, err
		}
		a, err := x.s.arrivals(ctx, x.c)
		if err != nil {
			return nil, err
		}
		ok, err := done(evs, a)
		if err != nil || (ok && len(evs) > 0) {
			return evs, err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return evs, fmt.Errorf("not within %s", seconds(limit))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// allGot is a condition of awaitEvents: every event is at every
// destination that wants it, except skip.
func (x *run) allGot(ctx context.Context, skip string) func([]runEvent, arrivals) (bool, error) {
	return func(evs []runEvent, a arrivals) (bool, error) {
		for _, e := range evs {
			for _, dest := range []string{destBus, destEndpoint} {
				if dest == skip || !e.wants(dest) {
					continue
				}
				if ok, err := x.got(ctx, a, e, dest); err != nil || !ok {
					return false, err
				}
			}
		}
		return true, nil
	}
}

// eventsUnderFault checks what the fault does to the run's events:
// the other destination gets them all, the one held up keeps each
// pending; or, for a crash, the stream trigger delivers them all anyway.
func (r *rig) eventsUnderFault(ctx context.Context, t *testing.T, p phase, x *run, row *row) {
	ec := p.events
	if ec.crash {
		r.crashMidBatch(ctx, t, p, x, row)
		return
	}
	if ec.behind {
		x.grantsBehind(ctx, t, p, row)
	}
	other := destBus
	if ec.pending == destBus {
		other = destEndpoint
	}
	start := time.Now()
	var last arrivals
	evs, err := x.awaitEvents(ctx, eventWait, func(evs []runEvent, a arrivals) (bool, error) {
		last = a
		if ok, err := x.allGot(ctx, ec.pending)(evs, a); err != nil || !ok {
			return false, err
		}
		for _, e := range evs {
			if !e.wants(ec.pending) {
				continue
			}
			if _, pending, err := x.pendingAt(ctx, e, ec.pending); err != nil || !pending {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		row.events = "**not pending as documented**"
		t.Errorf("%s: during the fault, the events did not reach %s with their deliveries to %s pending: %v", p.name, other, ec.pending, err)
		return
	}
	held := 0
	for _, e := range evs {
		if !e.wants(ec.pending) {
			continue
		}
		held++
		// An endpoint that timed out is not tried again in the same
		// invocation: a delivery behind it waits with 0 attempts.
		if d, _, _ := x.pendingAt(ctx, e, ec.pending); d.LastError != ec.lastError || d.Attempts > 1 {
			t.Errorf("%s: %s's delivery to %s = %d attempts, last error %q; want at most 1, %q", p.name, e.id, ec.pending, d.Attempts, d.LastError, ec.lastError)
		}
	}
	lags := last.busLag
	if other == destEndpoint {
		lags = last.endpointLag
	}
	var slowest time.Duration
	for _, e := range evs {
		if e.wants(other) {
			slowest = max(slowest, lags[e.id])
		}
	}
	row.notes = append(row.notes, fmt.Sprintf("during the fault the %s got each of the run's %d events within %s of its change, "+
		"and within %s of the workload each of the %s to the %s was pending (`%s`)",
		destName(other), len(evs), seconds(slowest), seconds(time.Since(start)), plural(held, "delivery"), destName(ec.pending), ec.lastError))
	if ec.firstRetry {
		x.firstRetry(ctx, t, p, evs, row)
	}
	if ec.deadLetter {
		x.deadLetter(ctx, t, p, evs, row)
	}
}

func destName(dest string) string {
	if dest == destBus {
		return "bus"
	}
	return "endpoint"
}

// checkEvents checks, once everything has recovered, that every event of
// the run reached every destination that wants it at least once, under
// its one id (a redelivery repeats the id: at least once), and that no
// event about the run's people arrived under an id no change of theirs
// has. The row's events cell says how many, and the redeliveries.
func checkEvents(ctx context.Context, t *testing.T, p phase, x *run, row *row) {
	evs, err := x.events(ctx)
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	a, err := x.s.arrivals(ctx, x.c)
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	types := map[wgevents.Type]bool{}
	contacts, ids := map[string]bool{}, map[string]bool{}
	for _, e := range evs {
		types[e.typ], contacts[e.contact], ids[e.id] = true, true, true
	}
	if !types[wgevents.TypeConsentChanged] || !types[wgevents.TypeMessageReceived] {
		t.Errorf("%s: the run's consent grant and inbound message have no event (events of types %v)", p.name, types)
	}
	delivered, again := 0, 0
	for _, e := range evs {
		all := true
		for _, dest := range []string{destBus, destEndpoint} {
			if !e.wants(dest) {
				continue
			}
			if ok, err := x.got(ctx, a, e, dest); err != nil || !ok {
				all = false
				t.Errorf("%s: %s event %s never reached the %s (%v)", p.name, e.typ, e.id, destName(dest), err)
			}
		}
		again += max(0, a.bus[e.id]-1)
		if e.wants(destEndpoint) {
			again += max(0, a.endpointOK[e.id]-1)
		}
		if all {
			delivered++
		}
	}
	unknown := 0
	for id, c := range a.contact {
		if contacts[c] && !ids[id] {
			unknown++
		}
	}
	if unknown > 0 {
		t.Errorf("%s: %d events about the run's people arrived under an id no change of theirs has", p.name, unknown)
	}
	if row.events == "" {
		row.events = eventsCell(len(evs), delivered, again, unknown)
	}
}

// eventsCell is the events column: how many of the run's events were lost
// (not at every destination that wants them), redelivered under their
// own id, and delivered under an id no change of the run has; anything
// but the redeliveries is bold.
func eventsCell(events, delivered, again, unknown int) string {
	return fmt.Sprintf("%s lost of %d; %d redelivered (same id); %s under another id", bold(events-delivered), events, again, bold(unknown))
}
