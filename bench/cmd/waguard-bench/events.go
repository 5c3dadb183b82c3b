package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/waguard/waguard/bench/awscount"
	"github.com/waguard/waguard/bench/cost"
	"github.com/waguard/waguard/bench/lambdalog"
	"github.com/waguard/waguard/bench/loadgen"
	"github.com/waguard/waguard/devstack/sandbox"
)

// eventsFunction is the events function's logical ID: it reads the audit
// stream and hands each message's event to the bus and the endpoints.
const eventsFunction = "EventsFunction"

// settleTimeout bounds the wait, after a run, for its messages' events
// to reach the sandbox endpoint; what has not arrived by then is missing.
// The events function drains its stream far slower than the webhook
// fills it (docs/performance.md), hence minutes.
const settleTimeout = 3 * time.Minute

// Event types the bench follows: a webhook message's, and a consent's.
const (
	typeMessageReceived = "message.received"
	typeConsentChanged  = "consent.changed"
)

// eventProxies count the events function's AWS calls (its stream
// trigger's reads included) apart from every other function's.
type eventProxies struct{ dynamoDB, kms, secrets, bus, streams *awscount.Proxy }

// take returns and resets what the proxies counted.
func (e *eventProxies) take() eventCounts {
	return eventCounts{dynamoDB: e.dynamoDB.Take(), kms: e.kms.Take(), secrets: e.secrets.Take(), bus: e.bus.Take(),
		streams: e.streams.Take()}
}

// eventCounts are the events function's calls by service.
type eventCounts struct{ dynamoDB, kms, secrets, bus, streams awscount.Counts }

func (c eventCounts) add(d eventCounts) eventCounts {
	return eventCounts{dynamoDB: c.dynamoDB.Add(d.dynamoDB), kms: c.kms.Add(d.kms), secrets: c.secrets.Add(d.secrets),
		bus: c.bus.Add(d.bus), streams: c.streams.Add(d.streams)}
}

// byService names the counts as calls() does ("Service.Operation").
func (c eventCounts) byService() map[string]awscount.Counts {
	return map[string]awscount.Counts{"DynamoDB": c.dynamoDB, "KMS": c.kms, "SecretsManager": c.secrets,
		"EventBridge": c.bus, "DynamoDBStreams": c.streams}
}

// eventsPhase is what the events function did for one phase's messages,
// from the start of the run until their events had arrived.
type eventsPhase struct {
	counts  eventCounts
	reports []lambdalog.Report
	// receipts are, per tagged message whose event arrived, the time
	// from the webhook's 200 to the event's first 2xx arrival at the
	// sandbox endpoint.
	receipts []time.Duration
	// delivered counts distinct events the endpoint accepted (2xx),
	// attempts every POST it got, missing the events expected but not
	// delivered within settleTimeout.
	delivered, attempts, missing int
	// settle is the wait after the run until the last event arrived;
	// span the time from the start of the run until then (summed over
	// merged phases, which ran one after the other).
	settle, span time.Duration
}

func (e *eventsPhase) add(d *eventsPhase) *eventsPhase {
	if e == nil {
		return d
	}
	if d == nil {
		return e
	}
	return &eventsPhase{counts: e.counts.add(d.counts), reports: append(slices.Clone(e.reports), d.reports...),
		receipts: append(slices.Clone(e.receipts), d.receipts...), delivered: e.delivered + d.delivered,
		attempts: e.attempts + d.attempts, missing: e.missing + d.missing, settle: max(e.settle, d.settle), span: e.span + d.span}
}

// answers records when each tagged webhook message was answered 200.
type answers struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (a *answers) reset() {
	a.mu.Lock()
	a.at = map[string]time.Time{}
	a.mu.Unlock()
}

func (a *answers) answered(tag string, at time.Time) {
	a.mu.Lock()
	if a.at != nil {
		a.at[tag] = at
	}
	a.mu.Unlock()
}

func (a *answers) get(tag string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[tag]
	return t, ok
}

// tagPattern finds a webhook message's tag in the text an endpoint with
// content receives (clients.webhook writes it).
var tagPattern = regexp.MustCompile(`load message (t\d+);`)

// arrivals reads the sandbox endpoint's deliveries of one phase's
// events: those of type typ, and for message.received only those whose
// tag the phase answered (a is nil for other types). It returns the
// distinct events accepted (2xx), every POST of them, and the first
// accepted arrival of each tagged message.
func arrivals(ds []sandbox.EndpointDelivery, typ string, a *answers) (delivered, attempts int, first map[string]time.Time) {
	seen := map[string]bool{}
	first = map[string]time.Time{}
	for _, d := range ds {
		if d.Type != typ {
			continue
		}
		tag := tagOf(d.Data)
		if a != nil {
			if _, ok := a.get(tag); !ok {
				continue // another phase's message
			}
		}
		attempts++
		if d.Status < 200 || d.Status > 299 || seen[d.ID] {
			continue
		}
		seen[d.ID] = true
		delivered++
		if t, ok := first[tag]; tag != "" && (!ok || d.Time.Before(t)) {
			first[tag] = d.Time
		}
	}
	return delivered, attempts, first
}

// tagOf returns the webhook message's tag in an event's data, or "".
func tagOf(data json.RawMessage) string {
	var d struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(data, &d) != nil {
		return ""
	}
	if m := tagPattern.FindStringSubmatch(d.Text); m != nil {
		return m[1]
	}
	return ""
}

// receiptTimes pairs each tagged arrival with its webhook's 200.
func receiptTimes(first map[string]time.Time, a *answers) []time.Duration {
	var out []time.Duration
	for tag, at := range first {
		if sent, ok := a.get(tag); ok {
			out = append(out, at.Sub(sent))
		}
	}
	slices.Sort(out)
	return out
}

// deliveries lists what the sandbox endpoint received since it was last
// cleared.
func (c *clients) deliveries(ctx context.Context) ([]sandbox.EndpointDelivery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.sandbox+"/_sandbox/deliveries", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sandbox deliveries: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sandbox deliveries: status %d", resp.StatusCode)
	}
	var out []sandbox.EndpointDelivery
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("sandbox deliveries: %w", err)
	}
	return out, nil
}

// clearDeliveries forgets what the sandbox endpoint received.
func (c *clients) clearDeliveries(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.sandbox+"/_sandbox/deliveries", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("clear sandbox deliveries: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("clear sandbox deliveries: status %d", resp.StatusCode)
	}
	return nil
}

// settleEvents waits until the sandbox endpoint has accepted expect
// events of type typ (one per successful request of the run that began
// at start and ended at end) or settleTimeout has passed, then collects
// the events function's counts and REPORT lines since the run began (log
// offset off).
func (b *bench) settleEvents(ctx context.Context, expect int, typ string, start, end time.Time, off int64) (*eventsPhase, error) {
	var tagged *answers
	if typ == typeMessageReceived {
		tagged = b.cl.answers
	}
	deadline := time.Now().Add(settleTimeout)
	var ds []sandbox.EndpointDelivery
	for {
		var err error
		if ds, err = b.cl.deliveries(ctx); err != nil {
			return nil, err
		}
		if delivered, _, _ := arrivals(ds, typ, tagged); delivered >= expect || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	settle := time.Since(end)
	time.Sleep(300 * time.Millisecond) // the bus put ends with the invocation; REPORT follows it
	e := &eventsPhase{counts: b.s.events.take(), settle: settle, span: time.Since(start) - 300*time.Millisecond}
	var first map[string]time.Time
	e.delivered, e.attempts, first = arrivals(ds, typ, tagged)
	e.missing = max(expect-e.delivered, 0)
	e.receipts = receiptTimes(first, b.cl.answers)
	if f, err := b.s.logSince(off); err == nil {
		reps, _ := lambdalog.Scan(f)
		f.Close()
		for _, r := range reps {
			if r.Function == eventsFunction {
				e.reports = append(e.reports, r)
			}
		}
	}
	return e, nil
}

// eventsResult is what one inbound message produced out of waguard, by
// destination, and how long its event took to reach the endpoint.
type eventsResult struct {
	// Messages are the successful webhook requests followed.
	Messages int `json:"messages"`
	// BusEvents are the events EventBridge bills per message (PutEvents
	// entries, one per started 64 KB), BusCalls the PutEvents calls.
	BusEvents float64 `json:"bus_events_per_message"`
	BusCalls  float64 `json:"bus_calls_per_message"`
	// EndpointEvents are the distinct events the sandbox endpoint
	// accepted per message, EndpointAttempts every POST it got.
	EndpointEvents   float64 `json:"endpoint_events_per_message"`
	EndpointAttempts float64 `json:"endpoint_attempts_per_message"`
	// Missing counts messages whose event had not reached the endpoint
	// within the settle time: failures.
	Missing int `json:"missing"`
	// Receipt latency, from the webhook's 200 to the event's first
	// accepted arrival at the sandbox endpoint, over Receipts messages.
	Receipts int     `json:"receipts"`
	P50Ms    float64 `json:"receipt_p50_ms"`
	P99Ms    float64 `json:"receipt_p99_ms"`
	MaxMs    float64 `json:"receipt_max_ms"`
	// SettleS is the longest wait, after a run, for its last event.
	SettleS float64 `json:"settle_s"`
	// PerSecond is the events the endpoint accepted per second, from the
	// start of each run until its last event arrived: how fast the
	// events function drained the stream.
	PerSecond float64 `json:"endpoint_events_per_second"`
}

// eventsOf summarises a phase's events (zero when not followed).
func eventsOf(p phase) eventsResult {
	e := p.events
	msgs := p.result.Requests - p.result.Errors
	if e == nil || msgs == 0 {
		return eventsResult{}
	}
	n := float64(msgs)
	return eventsResult{Messages: msgs, BusEvents: float64(e.counts.bus["PutEvents"].Events) / n,
		BusCalls: float64(e.counts.bus["PutEvents"].Calls) / n, EndpointEvents: float64(e.delivered) / n,
		EndpointAttempts: float64(e.attempts) / n, Missing: e.missing, Receipts: len(e.receipts),
		P50Ms: ms(loadgen.Percentile(e.receipts, 50)), P99Ms: ms(loadgen.Percentile(e.receipts, 99)),
		MaxMs: ms(loadgen.Percentile(e.receipts, 100)), SettleS: e.settle.Seconds(), PerSecond: ratio(float64(e.delivered), e.span.Seconds())}
}

// eventsUsageOf averages what the events function asked of AWS over the
// phases' successful webhook messages. Its Lambda time is per message:
// at the lowest concurrency, the billed time of all its invocations
// divided by the messages (one invocation serves a batch of records).
func eventsUsageOf(phases []phase) usage {
	u := usage{Calls: map[string]float64{}}
	var units awscount.Units
	var kms, sm, reports, busEvents, records int
	for _, p := range phases {
		e := p.events
		if e == nil {
			continue
		}
		u.Messages += p.result.Requests - p.result.Errors
		for k, v := range flatten(e.counts.byService()) {
			u.Calls[k] += float64(v)
		}
		units = units.Add(e.counts.dynamoDB.Units())
		kms, sm = kms+e.counts.kms.Calls(), sm+e.counts.secrets.Calls()
		busEvents += e.counts.bus["PutEvents"].Events
		records += e.counts.streams["GetRecords"].Records
		reports += len(e.reports)
	}
	if u.Messages == 0 {
		return u
	}
	n := float64(u.Messages)
	for k := range u.Calls {
		u.Calls[k] /= n
	}
	u.ItemWrites, u.ItemReads, u.WRU, u.RRU = float64(units.Writes)/n, float64(units.Reads)/n, units.WRU/n, units.RRU/n
	u.IndexWrites = float64(units.IndexWrites) / n
	u.KMSRequests, u.SecretsManagerCalls = float64(kms)/n, float64(sm)/n
	u.EventBridgeEvents, u.StreamRecords = float64(busEvents)/n, float64(records)/n
	u.LambdaInvocations = float64(reports) / n
	lowest := slices.MinFunc(phases, func(a, b phase) int { return a.concurrency - b.concurrency })
	if lowest.events != nil && len(lowest.events.reports) > 0 {
		msgs := float64(max(lowest.result.Requests-lowest.result.Errors, 1))
		var billed time.Duration
		for _, rep := range lowest.events.reports {
			billed += rep.Billed
			u.MemoryMB = rep.MemoryMB
			u.GBSeconds += cost.GBSeconds(rep.Billed, rep.MemoryMB) / msgs
		}
		u.BilledMs = ms(billed) / msgs
	}
	return u
}

// aloneMessages is how many webhook messages the harness sends one at a
// time, each after the previous one's event arrived, to time a receipt
// without a queue ahead of it.
const aloneMessages = 20

// receiptAlone sends n webhook messages one at a time, each once the
// previous one's event has reached the sandbox endpoint (or 30 s have
// passed), and returns their events: the receipt latency of an idle
// events function.
func (b *bench) receiptAlone(ctx context.Context, n int) (phase, error) {
	if err := b.cl.clearDeliveries(ctx); err != nil {
		return phase{}, err
	}
	b.cl.answers.reset()
	b.take()
	off := b.s.logOffset()
	start := time.Now()
	send := b.cl.webhook(b.senders)
	var res loadgen.Result
	for i := range n {
		res.Requests++
		t0 := time.Now()
		if err := send(ctx, i); err != nil {
			res.Errors++
			continue
		}
		res.Latencies = append(res.Latencies, time.Since(t0))
		for wait := time.Now().Add(30 * time.Second); time.Now().Before(wait); {
			ds, err := b.cl.deliveries(ctx)
			if err != nil {
				return phase{}, err
			}
			if delivered, _, _ := arrivals(ds, typeMessageReceived, b.cl.answers); delivered > i-res.Errors {
				break
			}
			select {
			case <-ctx.Done():
				return phase{}, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	res.Elapsed = time.Since(start)
	slices.Sort(res.Latencies)
	p := phase{name: "webhook, one at a time", concurrency: 1, result: res}
	var err error
	p.events, err = b.settleEvents(ctx, res.Requests-res.Errors, typeMessageReceived, start, time.Now(), off)
	if err != nil {
		return phase{}, err
	}
	if f := p.result.Errors; f > 0 {
		return p, fmt.Errorf("webhook, one at a time: %d requests failed", f)
	}
	return p, nil
}
