package chaos

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"time"
)

// Answers the documentation promises (docs/api.md, docs/webhooks.md).
const (
	unavailable   = "503 dependency_unavailable" // any route, when DynamoDB, KMS or Secrets Manager fails
	providerError = "502 provider_error"         // a send the provider refused or did not answer
)

// phase is one fault, applied to one run of the workload on a stack.
type phase struct {
	// name is the row of the results table.
	name string
	// cold runs the phase before any function has served a request (it
	// must then be its scenario's first phase); otherwise a warm-up run
	// of every operation precedes the fault.
	cold bool
	// idle is how long to wait after the warm-up, before the fault,
	// e.g. for the functions' secret cache (one minute) to expire.
	idle time.Duration
	// ops is the workload (default: all five operations).
	ops []opKind
	// want lists the documented answers per operation during the fault
	// (ok is the operation's success); wantAll applies to the others.
	want    map[opKind][]string
	wantAll []string
	// inject applies the fault; the rig's heal clears it.
	inject func(ctx context.Context, r *rig, x *run) error
	// inFlight, when set, runs while the send (the only op) is in
	// flight, to inject a fault in the middle of a request.
	inFlight func(ctx context.Context, r *rig, x *run) error
	// events, when set, also checks the events of the run's changes
	// (events_test.go).
	events *eventCheck
}

func (p phase) workload() []opKind {
	if p.ops == nil {
		return allOps
	}
	return p.ops
}

func (p phase) wants(op opKind) []string {
	if w, ok := p.want[op]; ok {
		return w
	}
	return p.wantAll
}

// scenario is a sequence of phases on one fresh stack.
type scenario struct {
	name   string
	phases []phase
}

// scenarios are the faults of `make chaos`, in order.
var scenarios = []scenario{
	{name: "kms", phases: []phase{
		// A cold function must unwrap the branch key: KMS is needed.
		{name: "KMS down, cold functions", cold: true, inject: down(proxyKMS),
			wantAll: []string{ok, unavailable}, want: map[opKind][]string{opSend: {unavailable}, opWebhook: {unavailable}}},
		// docs/crypto.md: a warm instance caches the branch key for 10 min.
		{name: "KMS down, warm functions", inject: down(proxyKMS), wantAll: []string{ok}},
	}},
	{name: "dynamodb", phases: []phase{
		{name: "DynamoDB down", inject: down(proxyDynamoDB), wantAll: []string{unavailable}},
		// The provider holds the send 3 s; DynamoDB goes down meanwhile,
		// so the message is accepted but its confirmation cannot be
		// written. It was recorded and audited before the call, so the
		// client gets its 202 (docs/api.md).
		{name: "DynamoDB down while a send is at the provider", ops: []opKind{opSend},
			inject: providerFault(map[string]any{"delay_ms": 3000}), inFlight: downWhenConsumed(proxyDynamoDB),
			want: map[opKind][]string{opSend: {ok}}},
	}},
	{name: "throttle", phases: []phase{
		{name: "DynamoDB throttled: every call", inject: throttle(1), wantAll: []string{unavailable}},
		{name: "DynamoDB throttled: 1 call in 3", inject: throttle(1.0 / 3), wantAll: []string{ok, unavailable}},
	}},
	{name: "secrets-down", phases: []phase{
		// docs/api.md: 503 also when the keys cannot be read at a cold
		// start; the instance tries again on its next request.
		{name: "Secrets Manager down, cold functions", cold: true, inject: down(proxySecrets), wantAll: []string{unavailable}},
	}},
	{name: "secrets", phases: []phase{
		// docs/api.md: a Secrets Manager failure answers 503.
		{name: "Secrets Manager +3 s, cold functions", cold: true, inject: latency(proxySecrets, 3000),
			wantAll: []string{ok, unavailable}},
		// Secret values are cached for one minute per instance: within it
		// nothing waits; after it every request re-reads what it needs.
		{name: "Secrets Manager +3 s, warm functions", inject: latency(proxySecrets, 3000), wantAll: []string{ok}},
		{name: "Secrets Manager +3 s, warm functions, secret cache expired", idle: 61 * time.Second,
			inject: latency(proxySecrets, 3000), wantAll: []string{ok, unavailable}},
	}},
	{name: "provider", phases: []phase{
		// 131000 is Meta's generic server error, served as HTTP 500;
		// the send retries it up to 3 times.
		{name: "Provider 500 on 2 attempts", ops: []opKind{opSend},
			inject: providerFault(map[string]any{"status": 500, "code": 131000, "count": 2}), want: map[opKind][]string{opSend: {ok}}},
		{name: "Provider 500 on every attempt", ops: []opKind{opSend},
			inject: providerFault(map[string]any{"status": 500, "code": 131000, "count": 4}), want: map[opKind][]string{opSend: {providerError}}},
		// A gateway's 502 without Meta's error body (Meta's edge, a
		// RapidAPI-style proxy) does not prove the message was not sent:
		// the send calls the provider once, keeps the message sending
		// and answers 502, replayed for its key (docs/api.md).
		{name: "Provider 502 without a body (a gateway's)", ops: []opKind{opSend},
			inject: providerFault(map[string]any{"status": 502, "body": "none"}), want: map[opKind][]string{opSend: {providerError}}},
		// The WhatsApp client waits 10 s for response headers.
		{name: "Provider timeout (no answer for 12 s)", ops: []opKind{opSend},
			inject: providerFault(map[string]any{"delay_ms": 12000}), want: map[opKind][]string{opSend: {providerError}}},
	}},
	// docs/events.md: events are an outbox, delivered from the audit
	// stream by the events function; a destination that fails holds up
	// neither the API nor the other destination, and is retried on the
	// schedule (the retry run, invoked as the per-minute schedule would).
	{name: "events", phases: []phase{
		{name: "EventBridge down", inject: down(proxyEventBridge), wantAll: []string{ok},
			events: &eventCheck{pending: destBus, lastError: "bus unavailable"}},
		{name: "Endpoint answers 503", inject: endpointFaults(map[string]any{"status": 503, "always": true}), wantAll: []string{ok},
			events: &eventCheck{pending: destEndpoint, lastError: "HTTP 503", firstRetry: true, deadLetter: true}},
		// The endpoint holds the run's consent.changed 3 s, so that the
		// records of the rest of the workload make one batch, and then its
		// message.received 8 s: the events function is killed meanwhile.
		{name: "Events function killed in the middle of a stream batch", inject: crashFaults, wantAll: []string{ok},
			events: &eventCheck{crash: true}},
		// The events function waits 10 s for an endpoint's answer; an
		// instance then skips that endpoint for a minute in its stream
		// batches (last: the crash row needs the stream to try it); two
		// grants made behind the held batch check that (finding 6).
		{name: "Endpoint slower than the 10 s attempt timeout", inject: endpointFaults(map[string]any{"delay_ms": 12000, "always": true}),
			wantAll: []string{ok}, events: &eventCheck{pending: destEndpoint, lastError: "timeout", behind: true}},
	}},
}

// down stops a proxy: connections are refused and open ones closed.
func down(proxy string) func(context.Context, *rig, *run) error {
	return func(ctx context.Context, r *rig, _ *run) error { return r.toxi.SetEnabled(ctx, proxy, false) }
}

// latency delays every answer through a proxy by ms milliseconds.
func latency(proxy string, ms int) func(context.Context, *rig, *run) error {
	return func(ctx context.Context, r *rig, _ *run) error {
		return r.toxi.AddToxic(ctx, proxy, Toxic{Name: "slow", Type: "latency", Stream: "downstream",
			Attributes: map[string]any{"latency": ms}})
	}
}

// throttle answers a share of the functions' DynamoDB calls with
// ProvisionedThroughputExceededException.
func throttle(share float64) func(context.Context, *rig, *run) error {
	return func(_ context.Context, r *rig, _ *run) error { r.throttle.SetShare(share); return nil }
}

// providerFault queues a sandbox fault for the run's send recipient.
func providerFault(f map[string]any) func(context.Context, *rig, *run) error {
	return func(ctx context.Context, _ *rig, x *run) error {
		g := maps.Clone(f)
		g["to"] = x.S
		return x.c.fault(ctx, g)
	}
}

// downWhenConsumed waits until the sandbox has taken the queued fault (the
// send is now at the provider) and then stops the proxy.
func downWhenConsumed(proxy string) func(context.Context, *rig, *run) error {
	return func(ctx context.Context, r *rig, x *run) error {
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, err := x.c.pendingFaults(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				return r.toxi.SetEnabled(ctx, proxy, false)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the send did not reach the provider within 10 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// endpointFaults makes the sandbox's endpoint apply f to every delivery
// about the run's people (the warm-up's stragglers are not held up).
func endpointFaults(f map[string]any) func(context.Context, *rig, *run) error {
	return func(ctx context.Context, _ *rig, x *run) error {
		for _, n := range []string{x.G, x.S, x.W, x.E} {
			g := maps.Clone(f)
			g["contact_id"] = x.contact(n)
			if err := x.c.sandboxDo(ctx, http.MethodPost, "/_sandbox/endpoint/faults", g, nil); err != nil {
				return err
			}
		}
		return nil
	}
}

// crashFaults has the sandbox's endpoint hold the run's consent.changed
// 3 s and its message.received 8 s (each accepted afterwards).
func crashFaults(ctx context.Context, _ *rig, x *run) error {
	for _, f := range []map[string]any{
		{"delay_ms": 3000, "type": "consent.changed", "contact_id": x.contact(x.G)},
		{"delay_ms": 8000, "type": "message.received", "contact_id": x.contact(x.W)},
	} {
		if err := x.c.sandboxDo(ctx, http.MethodPost, "/_sandbox/endpoint/faults", f, nil); err != nil {
			return err
		}
	}
	return nil
}
