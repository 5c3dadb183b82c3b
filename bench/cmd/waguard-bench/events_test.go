package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/bench/awscount"
	"github.com/waguard/waguard/bench/cost"
	"github.com/waguard/waguard/bench/lambdalog"
	"github.com/waguard/waguard/bench/loadgen"
	"github.com/waguard/waguard/devstack/sandbox"
)

func TestArrivals(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	text := func(tag string) json.RawMessage {
		b, _ := json.Marshal(map[string]string{"contact_id": "ct_x", "text": "Hello, this is load message " + tag + "; where is my order?"})
		return b
	}
	const msg, consent = typeMessageReceived, typeConsentChanged
	ds := []sandbox.EndpointDelivery{
		{ID: "evt_1", Type: msg, Status: 503, Time: t0, Data: text("t0000001")},                      // refused: not delivered
		{ID: "evt_1", Type: msg, Status: 200, Time: t0.Add(2 * time.Second), Data: text("t0000001")}, // its retry
		{ID: "evt_1", Type: msg, Status: 200, Time: t0.Add(3 * time.Second), Data: text("t0000001")}, // a duplicate
		{ID: "evt_2", Type: msg, Status: 200, Time: t0.Add(time.Second), Data: text("t0000002")},
		{ID: "evt_3", Type: consent, Status: 204, Time: t0, Data: json.RawMessage(`{"contact_id":"ct_y"}`)},
		{ID: "evt_4", Type: msg, Status: 401, Time: t0, Data: text("t0000004")},                   // never accepted
		{ID: "evt_5", Type: msg, Status: 200, Time: t0, Data: json.RawMessage(`"not an object"`)}, // no tag
		{ID: "evt_6", Type: msg, Status: 200, Time: t0, Data: text("t0000099")},                   // another phase's
		{ID: "evt_7", Type: consent, Status: 200, Time: t0, Data: json.RawMessage(`{}`)},
	}
	a := &answers{}
	a.answered("t0000099", t0) // before reset: another phase's
	a.reset()
	for _, tag := range []string{"t0000001", "t0000002", "t0000004"} {
		a.answered(tag, t0)
	}
	a.answered("t0000001", t0.Add(1500*time.Millisecond))
	a.answered("t0000002", t0.Add(900*time.Millisecond))
	delivered, attempts, first := arrivals(ds, msg, a)
	if delivered != 2 || attempts != 5 {
		t.Errorf("arrivals(message.received) = %d delivered, %d attempts; want 2, 5", delivered, attempts)
	}
	want := map[string]time.Time{"t0000001": t0.Add(2 * time.Second), "t0000002": t0.Add(time.Second)}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("arrivals() first mismatch (-want +got):\n%s", diff)
	}
	got := receiptTimes(first, a)
	if diff := cmp.Diff([]time.Duration{100 * time.Millisecond, 500 * time.Millisecond}, got); diff != "" {
		t.Errorf("receiptTimes() mismatch (-want +got):\n%s", diff)
	}
	if delivered, attempts, first := arrivals(ds, consent, nil); delivered != 2 || attempts != 2 || len(first) != 0 {
		t.Errorf("arrivals(consent.changed) = %d, %d, %v; want 2, 2, none", delivered, attempts, first)
	}
}

// TestEventsUsage checks the arithmetic from the events function's
// counted calls to per-message figures and a cost per million messages.
func TestEventsUsage(t *testing.T) {
	counts := func(n int) eventCounts {
		return eventCounts{
			dynamoDB: awscount.Counts{"GetItem": {Calls: 4 * n, Units: awscount.Units{Reads: 4 * n, RRU: float64(4 * n)}},
				"TransactWriteItems": {Calls: 2 * n, Units: awscount.Units{Writes: 2 * n, WRU: float64(4 * n)}}},
			bus:     awscount.Counts{"PutEvents": {Calls: n, Events: n}},
			streams: awscount.Counts{"GetRecords": {Calls: 10, Records: n}},
			secrets: awscount.Counts{"ListSecrets": {Calls: 1}},
		}
	}
	phases := []phase{
		{concurrency: 8, result: loadgen.Result{Requests: 100}, events: &eventsPhase{counts: counts(100), delivered: 100, attempts: 101,
			reports: []lambdalog.Report{{Billed: 400 * time.Millisecond, MemoryMB: 256}}, receipts: []time.Duration{time.Second},
			span: 4 * time.Second}},
		// The lowest level: 100 messages in two invocations of 150 and
		// 250 ms billed, so 4 ms and 0.001 GB-s per message.
		{concurrency: 1, result: loadgen.Result{Requests: 101, Errors: 1}, events: &eventsPhase{counts: counts(100), delivered: 99, attempts: 100,
			missing: 1, span: 6 * time.Second, reports: []lambdalog.Report{{Billed: 150 * time.Millisecond, MemoryMB: 256}, {Billed: 250 * time.Millisecond, MemoryMB: 256}}}},
		{concurrency: 1, result: loadgen.Result{Requests: 50}}, // not followed: left out
	}
	u := eventsUsageOf(phases)
	want := usage{Messages: 200,
		Calls: map[string]float64{"DynamoDB.GetItem": 4, "DynamoDB.TransactWriteItems": 2, "EventBridge.PutEvents": 1,
			"DynamoDBStreams.GetRecords": 0.1, "SecretsManager.ListSecrets": 0.01},
		ItemWrites: 2, ItemReads: 4, WRU: 4, RRU: 4, SecretsManagerCalls: 0.01, LambdaInvocations: 0.015,
		BilledMs: 4, MemoryMB: 256, GBSeconds: 0.001, EventBridgeEvents: 1, StreamRecords: 1}
	approx := cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })
	if diff := cmp.Diff(want, u, approx); diff != "" {
		t.Errorf("eventsUsageOf() mismatch (-want +got):\n%s", diff)
	}
	c := u.cost(cost.ListPrices)
	// 4 WRU at $0.625/M + 4 RRU at $0.125/M = $3; Secrets Manager 0.01 ×
	// $5 = $0.05; Lambda 0.015 × $0.20 + 0.001 GB-s × $0.0000133334 × 1e6
	// = $0.003 + $0.0133334; no API Gateway; EventBridge 1 × $1.
	wantCost := costLines{DynamoDB: 3, SecretsManager: 0.05, Lambda: 0.0163334, EventBridge: 1}
	wantCost.Total = 3 + 0.05 + 0.0163334 + 1
	if diff := cmp.Diff(wantCost, c, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-6 })); diff != "" {
		t.Errorf("cost() mismatch (-want +got):\n%s", diff)
	}
	merged := merge(phases[:2])
	e := eventsOf(merged)
	wantE := eventsResult{Messages: 200, BusEvents: 1, BusCalls: 1, EndpointEvents: 199.0 / 200, EndpointAttempts: 201.0 / 200,
		Missing: 1, Receipts: 1, P50Ms: 1000, P99Ms: 1000, MaxMs: 1000, PerSecond: 19.9}
	if diff := cmp.Diff(wantE, e, approx); diff != "" {
		t.Errorf("eventsOf(merged) mismatch (-want +got):\n%s", diff)
	}
	if got := eventsOf(phases[2]); got != (eventsResult{}) {
		t.Errorf("eventsOf(not followed) = %+v, want zero", got)
	}
}

// TestPrintEvents checks the tables show the events function's figures
// beside the others, and the webhook with it running against held.
func TestPrintEvents(t *testing.T) {
	ev := eventsResult{Messages: 400, BusEvents: 1, BusCalls: 1, EndpointEvents: 1, EndpointAttempts: 1, Receipts: 400,
		P50Ms: 180, P99Ms: 950, MaxMs: 1200, SettleS: 2.5, PerSecond: 30}
	u := usage{Messages: 400, Calls: map[string]float64{"EventBridge.PutEvents": 1, "DynamoDBStreams.GetRecords": 2.5},
		EventBridgeEvents: 1, StreamRecords: 1, LambdaInvocations: 0.1, MemoryMB: 256}
	r := &results{Counted: true, Requests: 400, Rounds: 4, Setup: []phaseResult{{Name: "webhook, new senders", Concurrency: 32}},
		Results: []levelResult{{Concurrency: 1, Events: ev, Held: phaseResult{Requests: 400, P99Ms: 10}, P99OfHeld: 1.1,
			Rounds: []roundRatio{{WebhookOfCeiling: 0.5, WebhookOfReplay: 0.5, P99OfHeld: 1.2}, {WebhookOfCeiling: 0.5, WebhookOfReplay: 0.5, P99OfHeld: 1}}}},
		EventsOut: ev, FirstContactEvents: ev,
		EventsAlone: eventsResult{Messages: 20, BusEvents: 1, EndpointEvents: 1, EndpointAttempts: 1, Receipts: 20, P50Ms: 250},
		Webhook:     usage{Calls: map[string]float64{}}, Events: u, EventsFirstContact: u}
	r.price()
	var out strings.Builder
	r.print(&out)
	for _, want := range []string{"events out per webhook message", "1, one at a time", "32, new senders", "all levels",
		"EventBridge.PutEvents calls", "DynamoDBStreams.GetRecords calls", "EventBridge events (billed)", "EventBridge (bus)",
		"events, new sender", "events function running vs. held", "110 % (100–120)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("print() has no %q:\n%s", want, out.String())
		}
	}
	if c := r.Cost["events"]; math.Abs(c.EventBridge-1) > 1e-9 || c.APIGateway != 0 {
		t.Errorf("events cost = %+v, want EventBridge $1 per million and no API Gateway", c)
	}
	if err := r.chart(filepath.Join(t.TempDir(), "bench.png")); err != nil {
		t.Errorf("chart() err = %v, want nil", err)
	}
}
