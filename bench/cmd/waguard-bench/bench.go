package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/waguard/waguard/bench/awscount"
	"github.com/waguard/waguard/bench/lambdalog"
	"github.com/waguard/waguard/bench/loadgen"
	"github.com/waguard/waguard/bench/proccpu"
)

// Function names as the local stack tags their logs (template logical IDs).
const (
	webhookFunction = "WebhookFunction"
	sendFunction    = "SendFunction"
)

type bench struct {
	c                  config
	s                  *stack
	cl                 *clients
	senders, receivers []string
}

func newBench(ctx context.Context, c config, s *stack) (*bench, error) {
	cl, err := newClients(ctx, s, slices.Max(c.levels))
	if err != nil {
		return nil, err
	}
	if s.counting() {
		schema, err := cl.schema(ctx, s.env)
		if err != nil {
			return nil, err
		}
		s.dynamoDB.SetSchema(schema)
	}
	senders, err := numbers(c.senders, 201)
	if err != nil {
		return nil, err
	}
	// Each recipient gets one send per level plus at most one warm-up
	// send: well under the per-recipient limit (10 an hour by default).
	receivers, err := numbers(min(c.requests, 1000), 301)
	if err != nil {
		return nil, err
	}
	return &bench{c: c, s: s, cl: cl, senders: senders, receivers: receivers}, nil
}

// phase is one measured run of one workload.
type phase struct {
	name        string
	concurrency int
	result      loadgen.Result
	// dynamoDB, kms and secrets are the calls the functions made during
	// the phase (empty on an attached stack).
	dynamoDB, kms, secrets awscount.Counts
	// reports are the REPORT lines of the phase's function.
	reports []lambdalog.Report
	// cpu is the CPU time each part of the stack used in the phase.
	cpu proccpu.Sample
	// events is what the events function did for the phase's messages,
	// counted until their events arrived (nil when not followed).
	events *eventsPhase
}

// measure runs one phase and collects what the proxies and the
// functions' log saw meanwhile. With events set to an event type (each
// successful request makes one event of it), it then waits for the
// events to reach the sandbox endpoint and collects what the events
// function did for them.
func (b *bench) measure(ctx context.Context, name, function string, n, conc int, events string,
	do func(context.Context, int) error) (phase, error) {
	if !b.s.counting() {
		events = "" // an attached stack's sandbox records are not ours to clear
	}
	if events != "" {
		if err := b.cl.clearDeliveries(ctx); err != nil {
			return phase{}, err
		}
		b.cl.answers.reset()
	}
	b.take()
	off := b.s.logOffset()
	cpu0 := b.s.cpu()
	start := time.Now()
	res, err := loadgen.Run(ctx, loadgen.Options{Requests: n, Concurrency: conc, MaxDuration: b.c.levelTimeout}, do)
	if err != nil {
		return phase{}, fmt.Errorf("%s: %w", name, err)
	}
	end := time.Now()
	p := phase{name: name, concurrency: conc, result: res, cpu: b.s.cpu().Sub(cpu0)}
	time.Sleep(300 * time.Millisecond) // the runtime prints REPORT just after the answer
	if b.s.counting() {
		p.dynamoDB, p.kms, p.secrets = b.s.dynamoDB.Take(), b.s.kms.Take(), b.s.secrets.Take()
	}
	if events != "" {
		if p.events, err = b.settleEvents(ctx, res.Requests-res.Errors, events, start, end, off); err != nil {
			return phase{}, fmt.Errorf("%s: events: %w", name, err)
		}
	}
	if f, err := b.s.logSince(off); err == nil {
		reps, _ := lambdalog.Scan(f)
		f.Close()
		for _, r := range reps {
			if r.Function == function {
				p.reports = append(p.reports, r)
			}
		}
	}
	return p, nil
}

// show prints one line about a phase.
func show(p phase) phase {
	res := p.result
	status := "ok"
	if res.Errors > 0 {
		status = fmt.Sprintf("%d FAILED %v", res.Errors, res.ErrorKinds)
	}
	for op, c := range p.dynamoDB {
		if c.Unparsed > 0 {
			status += fmt.Sprintf(" (%d %s requests not sized)", c.Unparsed, op)
		}
	}
	fmt.Printf("  %-28s c=%-3d %5d requests  %7.1f/s  p50 %6.1f ms  p99 %6.1f ms  %s\n", p.name, p.concurrency, res.Requests,
		res.Throughput(), ms(res.Percentile(50)), ms(res.Percentile(99)), status)
	if e := p.events; e != nil {
		status = "ok"
		if e.missing > 0 {
			status = fmt.Sprintf("%d MISSING", e.missing)
		}
		receipt := ""
		if len(e.receipts) > 0 {
			receipt = fmt.Sprintf("receipt p50 %6.1f ms  p99 %6.1f ms  ", ms(loadgen.Percentile(e.receipts, 50)), ms(loadgen.Percentile(e.receipts, 99)))
		}
		fmt.Printf("  %-28s       %5d events    %ssettled %.1f s after the run  %s\n", "  its events at the endpoint",
			e.delivered, receipt, e.settle.Seconds(), status)
	}
	return p
}

// merge pools the phases of several rounds of one workload.
func merge(ps []phase) phase {
	if len(ps) == 0 {
		return phase{}
	}
	out := phase{name: ps[0].name, concurrency: ps[0].concurrency, dynamoDB: awscount.Counts{}, kms: awscount.Counts{},
		secrets: awscount.Counts{}, cpu: proccpu.Sample{}}
	var rs []loadgen.Result
	for _, p := range ps {
		rs = append(rs, p.result)
		out.dynamoDB, out.kms, out.secrets = out.dynamoDB.Add(p.dynamoDB), out.kms.Add(p.kms), out.secrets.Add(p.secrets)
		out.reports = append(out.reports, p.reports...)
		out.cpu = out.cpu.Add(p.cpu)
		out.events = out.events.add(p.events)
	}
	if out.events != nil {
		slices.Sort(out.events.receipts)
	}
	out.result = loadgen.Merge(rs...)
	return out
}

// take discards whatever the proxies counted since the last phase.
func (b *bench) take() {
	if b.s.counting() {
		b.s.dynamoDB.Take()
		b.s.kms.Take()
		b.s.secrets.Take()
		b.s.events.take()
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// run is the whole benchmark: first contact and warm-up, then at each
// level the webhook, the write-bound ceiling and send.
func (b *bench) run(ctx context.Context) (*results, error) {
	res := &results{Started: time.Now().UTC(), Machine: machineInfo(), Requests: b.c.requests, Levels: b.c.levels,
		Senders: len(b.senders), Recipients: len(b.receivers), GlobalLimit: b.c.globalLimit, Counted: b.s.counting(),
		Rounds: b.c.rounds}
	if b.s.cmd != nil {
		res.Pool = b.c.pool
	}
	top := slices.Max(b.c.levels)
	fmt.Println("first contact and warm-up (not in the table):")
	var retries atomic.Int64
	first, err := b.measure(ctx, "webhook, new senders", webhookFunction, len(b.senders), top, typeMessageReceived,
		retried(b.cl.webhook(b.senders), &retries))
	if err != nil {
		return nil, err
	}
	consents, err := b.measure(ctx, "consents", sendFunction, len(b.receivers), top, typeConsentChanged, retried(b.cl.consent(b.receivers), &retries))
	if err != nil {
		return nil, err
	}
	warm, err := b.measure(ctx, "send, warm-up", sendFunction, min(2*top, len(b.receivers)), top, "",
		retried(b.cl.send(b.receivers), &retries))
	if err != nil {
		return nil, err
	}
	show(first)
	show(consents)
	show(warm)
	var alone phase
	if b.s.counting() {
		if alone, err = b.receiptAlone(ctx, aloneMessages); err != nil {
			return nil, err
		}
		show(alone)
		res.EventsAlone = eventsOf(alone)
	}
	res.SetupRetries = int(retries.Load())
	if consents.events != nil {
		res.ConsentEventsMissing = consents.events.missing
	}
	if res.SetupRetries > 0 {
		fmt.Printf("  (%d setup attempts failed and were retried)\n", res.SetupRetries)
	}
	res.Setup = []phaseResult{summarise(first), summarise(consents), summarise(warm)}
	res.FirstContact = usageOf([]phase{first})
	res.EventsFirstContact, res.FirstContactEvents = eventsUsageOf([]phase{first}), eventsOf(first)
	fmt.Println("measured:")
	var webhooks, sends []phase
	for _, conc := range b.c.levels {
		lvl, wh, sd, err := b.level(ctx, conc)
		if err != nil {
			return nil, err
		}
		webhooks, sends = append(webhooks, wh), append(sends, sd)
		res.Results = append(res.Results, lvl)
	}
	res.Webhook, res.Send = usageOf(webhooks), usageOf(sends)
	res.Events = eventsUsageOf(webhooks)
	var all phase
	for _, wh := range webhooks {
		all.result.Requests, all.result.Errors = all.result.Requests+wh.result.Requests, all.result.Errors+wh.result.Errors
		all.events = all.events.add(wh.events)
	}
	if all.events != nil {
		slices.Sort(all.events.receipts)
	}
	res.EventsOut = eventsOf(all)
	res.cpuTotals()
	res.price()
	res.Machine.LoadAfter = loadAverage()
	return res, nil
}

// level measures the workloads at one concurrency. The webhook, its
// write-bound ceiling and the replay of its DynamoDB calls run
// interleaved in rounds, so that a burst of other load on the machine
// hits all three alike; their ratios are the median over the rounds.
// Send follows in one run.
func (b *bench) level(ctx context.Context, conc int) (levelResult, phase, phase, error) {
	lvl := levelResult{Concurrency: conc}
	var table string
	if b.s.counting() {
		name, drop, err := b.cl.ceilingTable(ctx)
		if err != nil {
			return lvl, phase{}, phase{}, err
		}
		defer drop()
		table = name
	}
	per := max(b.c.requests/b.c.rounds, 1)
	var whs, hds, ces, rps []phase
	for r := range b.c.rounds {
		wh, hd, err := b.webhookPair(ctx, per, conc, r%2 == 1)
		if err != nil {
			return lvl, phase{}, phase{}, err
		}
		whs = append(whs, wh)
		if hd != nil {
			hds = append(hds, *hd)
			lvl.HeldMissing += hd.events.missing
		}
		sh, writes := shapeOf(wh)
		if table == "" || writes == 0 {
			continue
		}
		n := int(math.Round(writes * float64(per)))
		ce, err := b.measure(ctx, "ceiling: raw PutItem", "", n, conc, "", b.cl.putItem(table, sh.ItemBytes, conc*100+r))
		if err != nil {
			return lvl, phase{}, phase{}, err
		}
		rp, err := b.measure(ctx, "replay of its DynamoDB calls", "", per, conc, "", b.cl.replay(table, sh, conc*100+r))
		if err != nil {
			return lvl, phase{}, phase{}, err
		}
		ces, rps = append(ces, ce), append(rps, rp)
		rd := roundRatio{WebhookOfCeiling: ratio(wh.result.Throughput()*writes, ce.result.Throughput()),
			WebhookOfReplay: ratio(wh.result.Throughput(), rp.result.Throughput())}
		if hd != nil {
			rd.P99OfHeld = ratio(float64(wh.result.Percentile(99)), float64(hd.result.Percentile(99)))
		}
		lvl.Rounds = append(lvl.Rounds, rd)
		lvl.Replay.Shape = sh
	}
	wh := show(merge(whs))
	lvl.Webhook, lvl.Events = summarise(wh), eventsOf(wh)
	if len(hds) > 0 {
		hd := merge(hds)
		hd.events = nil // held, then drained: not a receipt time
		lvl.Held = summarise(show(hd))
	}
	if len(ces) > 0 {
		b.ceilingResults(&lvl, wh, show(merge(ces)), show(merge(rps)))
	}
	sd, err := b.measure(ctx, "send", sendFunction, b.c.requests, conc, "", b.cl.send(b.receivers))
	if err != nil {
		return lvl, phase{}, phase{}, err
	}
	lvl.Send = summarise(show(sd))
	return lvl, wh, sd, nil
}

// shapeOf is what a webhook phase asked of DynamoDB per message, and
// its item writes per message (0 when nothing was counted).
func shapeOf(wh phase) (shape, float64) {
	msgs := float64(wh.result.Requests - wh.result.Errors)
	u := wh.dynamoDB.Units()
	if msgs == 0 || u.Writes == 0 {
		return shape{}, 0
	}
	writes := float64(u.Writes) / msgs
	puts := int(math.Round(float64(u.FullItems) / msgs))
	return shape{Gets: int(math.Round(float64(wh.dynamoDB["GetItem"].Calls) / msgs)), Puts: puts,
		Indexed: min(int(math.Round(float64(u.IndexWrites)/msgs)), puts), Checks: max(int(math.Round(writes))-puts, 0),
		ItemBytes: u.WrittenBytes / max(u.FullItems, 1)}, writes
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// ceilingResults fills the level's ceiling and replay from the pooled
// rounds, and the ratios from the rounds' medians.
func (b *bench) ceilingResults(lvl *levelResult, wh, ce, rp phase) {
	sh, writes := shapeOf(wh)
	c := ceilingResult{Puts: ce.result.Requests, Errors: ce.result.Errors, PutsPerSecond: ce.result.Throughput(),
		ItemBytes: sh.ItemBytes, WritesPerMessage: writes, P50Ms: ms(ce.result.Percentile(50)), P99Ms: ms(ce.result.Percentile(99)),
		Capped: ce.result.Capped}
	c.MessagesPerSecond = c.PutsPerSecond / writes
	c.CPUMs = perMessage(ce.cpu, float64(c.Puts-c.Errors)/writes)
	lvl.Ceiling = c
	lvl.Replay.phaseResult = summarise(rp)
	var wc, wr []float64
	for _, r := range lvl.Rounds {
		wc, wr = append(wc, r.WebhookOfCeiling), append(wr, r.WebhookOfReplay)
	}
	lvl.WebhookOfCeiling, lvl.WebhookOfReplay = median(wc), median(wr)
	var ph []float64
	for _, r := range lvl.Rounds {
		if r.P99OfHeld > 0 {
			ph = append(ph, r.P99OfHeld)
		}
	}
	lvl.P99OfHeld = median(ph)
}

// webhookPair runs one round's webhook twice, with the events function
// running (its events followed to the endpoint) and with its stream
// trigger held, in the order heldFirst says (rounds alternate, so drift
// in the machine's other load favours neither). held is nil where the
// trigger cannot be held (an attached stack).
func (b *bench) webhookPair(ctx context.Context, n, conc int, heldFirst bool) (running phase, held *phase, err error) {
	if b.s.hold == nil {
		running, err = b.measure(ctx, "webhook", webhookFunction, n, conc, typeMessageReceived, b.cl.webhook(b.senders))
		return running, nil, err
	}
	if heldFirst {
		if held, err = b.webhookHeld(ctx, n, conc); err != nil {
			return phase{}, nil, err
		}
	}
	if running, err = b.measure(ctx, "webhook", webhookFunction, n, conc, typeMessageReceived, b.cl.webhook(b.senders)); err != nil {
		return phase{}, nil, err
	}
	if !heldFirst {
		held, err = b.webhookHeld(ctx, n, conc)
	}
	return running, held, err
}

// webhookHeld runs the webhook with the events function's stream trigger
// held, so the events function stays idle while the webhook is timed
// (the webhook's own latency without the events function beside it on
// the same cores and DynamoDB Local). It then releases the trigger and
// waits for the run's events, so the next phase starts on an idle events
// function as after every other webhook run. Its events' receipt times
// are not kept (they waited out the hold); missing ones are.
func (b *bench) webhookHeld(ctx context.Context, n, conc int) (*phase, error) {
	if err := b.cl.clearDeliveries(ctx); err != nil {
		return nil, err
	}
	b.cl.answers.reset()
	off := b.s.logOffset()
	b.s.hold.held.Store(true)
	p, err := b.measure(ctx, "webhook, events function held", webhookFunction, n, conc, "", b.cl.webhook(b.senders))
	b.s.hold.held.Store(false)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if p.events, err = b.settleEvents(ctx, p.result.Requests-p.result.Errors, typeMessageReceived, now, now, off); err != nil {
		return nil, fmt.Errorf("%s: events: %w", p.name, err)
	}
	return &p, nil
}

// median of a few values (the mean of the middle two for an even count).
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// retried makes a setup request try up to three times (cold starts of
// the local stack under load may fail); measured requests never retry.
func retried(do func(context.Context, int) error, count *atomic.Int64) func(context.Context, int) error {
	return func(ctx context.Context, i int) error {
		var err error
		for range 3 {
			if err = do(ctx, i); err == nil || ctx.Err() != nil {
				return err
			}
			count.Add(1)
		}
		return err
	}
}

// machineInfo records what the numbers were measured on.
func machineInfo() machine {
	return machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		LoadBefore: loadAverage()}
}

// loadAverage is the 1-minute load average (Linux), "" elsewhere.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
