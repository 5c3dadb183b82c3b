package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/waguard/waguard/shared/deadline"
	"github.com/waguard/waguard/shared/endpoint"
	"github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/store"
)

// busDestination names the event bus among a delivery's destinations.
const busDestination = "bus"

// bus is the EventBridge call the function makes; *eventbridge.Client
// has it.
type bus interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// endpointSource lists the configured endpoints; *endpoint.Loader
// satisfies it (refreshed within a minute of a change).
type endpointSource interface {
	Load(ctx context.Context) (endpoint.Set, error)
}

// result is the outcome of one attempt.
type result struct {
	ok bool
	// dropped: the event must never be delivered (its person was erased).
	dropped bool
	// skipped: not attempted, the endpoint already failed in this run.
	skipped bool
	// reason says why it failed: a status code or a network error class.
	reason string
}

// run is one invocation's delivery work: the event being built once, and
// the endpoints that already failed to connect or answer in time, which
// are not tried again in this invocation (their deliveries wait for the
// retry run), so a down or slow endpoint never holds up the others. A
// stream invocation's run also skips the endpoints its instance found
// broken in the last minute ([brokenFor]).
type run struct {
	h      *Handler
	mu     sync.Mutex
	broken map[string]string
	// probes holds, per destination, a channel closed when the run's first
	// attempt to it ended: concurrent deliveries (a stream batch's records,
	// the retry run's) wait for it, so an endpoint that turns out slow or
	// down is tried once per run, not once per delivery in flight.
	probes map[string]chan struct{}
	// skips is the instance's breaker when the run honours it (stream
	// invocations); nil for the retry run and a redrive, which try a
	// broken endpoint again.
	skips *breaker
}

func (h *Handler) newRun() *run {
	return &run{h: h, broken: map[string]string{}, probes: map[string]chan struct{}{}}
}

// probe returns, for the run's first attempt to dest, a function to call
// when it ends; for any later one it waits until the first ended (or ctx
// is done) and returns nil.
func (r *run) probe(ctx context.Context, dest string) func() {
	r.mu.Lock()
	ch, seen := r.probes[dest]
	if !seen {
		ch = make(chan struct{})
		r.probes[dest] = ch
	}
	r.mu.Unlock()
	if !seen {
		return func() { close(ch) }
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
	return nil
}

// newStreamRun is a stream invocation's run: it does not wait again for
// an endpoint that this instance saw fail to connect or answer in time
// within [brokenFor], since every batch behind it in the shard would wait
// too; the retry run tries it meanwhile.
func (h *Handler) newStreamRun() *run {
	r := h.newRun()
	r.skips = &h.broken
	return r
}

func (r *run) isBroken(dest string) (string, bool) {
	r.mu.Lock()
	why, ok := r.broken[dest]
	r.mu.Unlock()
	if !ok && r.skips != nil {
		return r.skips.open(dest, r.h.now())
	}
	return why, ok
}

func (r *run) markBroken(dest, why string) {
	r.mu.Lock()
	r.broken[dest] = why
	r.mu.Unlock()
	r.h.broken.trip(dest, why, r.h.now().Add(brokenFor))
}

// brokenFor is how long an instance's stream invocations skip an endpoint
// after it failed to connect or answer in time: about the retry run's
// period, so the stream waits for a slow endpoint at most once a minute
// per instance instead of once per batch, and the skipped deliveries are
// tried by the next retry run.
const brokenFor = time.Minute

// breaker is an instance's memory of the endpoints that failed to connect
// or answer in time: why, and until when the stream skips them. Its zero
// value is ready; it is safe for concurrent use. A success lifts it.
type breaker struct {
	mu    sync.Mutex
	until map[string]time.Time
	why   map[string]string
}

func (b *breaker) trip(dest, why string, until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.until == nil {
		b.until, b.why = map[string]time.Time{}, map[string]string{}
	}
	b.until[dest], b.why[dest] = until, why
}

// open reports whether dest is skipped at now, and why.
func (b *breaker) open(dest string, now time.Time) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if until, ok := b.until[dest]; ok && now.Before(until) {
		return b.why[dest], true
	}
	return "", false
}

func (b *breaker) reset(dest string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.until, dest)
}

// destinations returns the event's destinations: the bus, and every
// endpoint that wants its type (subject.erased has its own:
// [run.noticeDestinations]).
func (r *run) destinations(ctx context.Context, rec store.EventRecord) ([]string, map[string]endpoint.Endpoint, error) {
	set, err := r.h.Endpoints.Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]endpoint.Endpoint{}
	dests := []string{busDestination}
	for _, e := range set.For(rec.Type) {
		byName[e.Name()] = e
		dests = append(dests, e.Name())
	}
	return dests, byName, nil
}

// attempt delivers ev (of record rec) to one destination once.
func (r *run) attempt(ctx context.Context, rec store.EventRecord, ev events.Event, dest string, ep endpoint.Endpoint) result {
	if done := r.probe(ctx, dest); done != nil {
		defer done()
	}
	if why, ok := r.isBroken(dest); ok {
		return result{skipped: true, reason: why}
	}
	if rec.Type != events.TypeSubjectErased {
		erased, err := r.h.Store.ErasedSince(ctx, rec.Subject, rec.At)
		if err != nil {
			return result{reason: "store unavailable"}
		}
		if erased {
			return result{dropped: true, reason: "person erased"}
		}
	}
	if dest == busDestination {
		return r.toBus(ctx, ev)
	}
	return r.toEndpoint(ctx, rec, ev, ep)
}

// toBus puts the event, without content, on the event bus.
func (r *run) toBus(ctx context.Context, ev events.Event) result {
	detail, err := json.Marshal(ev.WithoutContent())
	if err != nil {
		return result{reason: "encode"}
	}
	ctx, cancel := deadline.Within(ctx, deadline.EventBridge, r.h.Config.attemptTimeout())
	defer cancel()
	out, err := r.h.Bus.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(r.h.Config.BusName), Source: aws.String(events.Source), DetailType: aws.String(string(ev.Type)),
		Detail: aws.String(string(detail)), Time: aws.Time(ev.Time)}}})
	switch {
	case err != nil:
		return result{reason: "bus unavailable"}
	case out.FailedEntryCount > 0:
		return result{reason: "bus refused: " + aws.ToString(out.Entries[0].ErrorCode)}
	}
	return result{ok: true}
}

// payload is the Standard Webhooks body.
type payload struct {
	Type      events.Type `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      events.Data `json:"data"`
}

// toEndpoint posts the signed event to an endpoint, with its personal
// content read now if the endpoint receives content.
func (r *run) toEndpoint(ctx context.Context, rec store.EventRecord, ev events.Event, ep endpoint.Endpoint) result {
	if ep.IncludeContent() {
		c, err := r.h.content(ctx, rec)
		if errors.Is(err, store.ErrNotFound) {
			return result{dropped: true, reason: "content gone"}
		}
		if err != nil {
			return result{reason: "store unavailable"}
		}
		ev.Data.Content = c
	} else {
		ev = ev.WithoutContent()
	}
	body, err := json.Marshal(payload{Type: ev.Type, Timestamp: ev.Time, Data: ev.Data})
	if err != nil {
		return result{reason: "encode"}
	}
	ctx, cancel := deadline.Within(ctx, deadline.Endpoint, r.h.Config.attemptTimeout())
	defer cancel()
	req, err := ep.NewRequest(ctx, ev.ID, r.h.now(), body)
	if err != nil {
		return result{reason: "bad endpoint"}
	}
	resp, err := r.h.HTTP.Do(req)
	if err != nil {
		why := networkReason(err)
		r.markBroken(ep.Name(), why)
		return result{reason: why}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return result{reason: "HTTP " + strconv.Itoa(resp.StatusCode)}
	}
	r.h.broken.reset(ep.Name())
	return result{ok: true}
}

// networkReason classes a transport error without its text (which may
// name the URL).
func networkReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	}
	return "network error"
}

// deliver sends one event to every destination, each on its own: a
// success records the recipient, a failure the retry state. It returns
// an error only when neither could be recorded (the stream batch then
// retries the record).
func (r *run) deliver(ctx context.Context, rec store.EventRecord) error {
	ev, err := r.h.build(rec)
	if err != nil {
		return nil //nolint:nilerr // not an event this version knows: nothing to deliver
	}
	// The contact id leaves waguard with the event: record it (once), so
	// that POST /v1/messages/query finds the person by it.
	if rec.Type != events.TypeSubjectErased {
		if err := r.h.Store.RecordContact(ctx, rec.Subject, ev.Data.ContactID); err != nil {
			return err
		}
	}
	destinations := r.destinations
	if rec.Type == events.TypeSubjectErased {
		destinations = r.noticeDestinations
	}
	dests, eps, err := destinations(ctx, rec)
	if err != nil {
		return err
	}
	errs := make([]error, len(dests))
	var wg sync.WaitGroup
	for i, dest := range dests {
		wg.Go(func() { errs[i] = r.settle(ctx, rec, ev, dest, eps[dest], 0, false) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// settle makes one attempt (the made+1st) and records its outcome; a
// first success leaves no state unless stored says there is one.
func (r *run) settle(ctx context.Context, rec store.EventRecord, ev events.Event, dest string, ep endpoint.Endpoint, made int, stored bool) error {
	res := r.attempt(ctx, rec, ev, dest, ep)
	now := r.h.now()
	d := store.Delivery{AuditID: rec.AuditID, Destination: dest, Attempts: made + 1, LastError: res.reason}
	switch {
	case res.ok:
		d.State = store.DeliveryDelivered
		r.h.Metrics.Add(metricDelivered, 1)
		if err := r.h.acknowledged(ctx, rec, dest, now); err != nil {
			return err
		}
		if !stored {
			return nil // no retry state was ever written
		}
	case res.dropped:
		d.State = store.DeliveryDropped
		r.h.Metrics.Add(metricDropped, 1)
	case res.skipped: // due again soon, the attempt not counted
		d.State, d.Attempts, d.NextAt = store.DeliveryPending, made, now.Add(retrySchedule[0])
	default:
		next, more := nextAttempt(made+1, now, rand.Float64())
		d.State, d.NextAt = store.DeliveryPending, next
		if !more {
			d.State = store.DeliveryDead
			r.h.Metrics.Add(metricDeadLetters, 1)
			if err := r.h.failed(ctx, rec, dest, now); err != nil {
				return err
			}
		}
	}
	if err := r.h.Store.SaveDelivery(ctx, d); err != nil {
		return fmt.Errorf("delivery to %s: %w", dest, err)
	}
	return nil
}
