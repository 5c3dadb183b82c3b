package chaos

import (
	"context"
	"fmt"
	"maps"
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
