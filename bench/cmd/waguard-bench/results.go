package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/waguard/waguard/bench/awscount"
	"github.com/waguard/waguard/bench/cost"
	"github.com/waguard/waguard/bench/proccpu"
)

// results is everything a run measured; it is written as results.json.
type results struct {
	Started     time.Time `json:"started"`
	Machine     machine   `json:"machine"`
	Requests    int       `json:"requests_per_level"`
	Levels      []int     `json:"concurrency_levels"`
	Senders     int       `json:"webhook_senders"`
	Recipients  int       `json:"send_recipients"`
	GlobalLimit int       `json:"global_limit_override,omitempty"`
	Pool        int       `json:"rie_pool_per_function,omitempty"`
	Rounds      int       `json:"rounds_per_level"`
	// Counted is false on an attached stack: no calls, no cost.
	Counted bool          `json:"calls_counted"`
	Setup   []phaseResult `json:"setup"`
	// SetupRetries counts setup requests that failed and were retried.
	SetupRetries int `json:"setup_retries"`
	// ConsentEventsMissing counts the setup consents whose events did not
	// reach the endpoint: failures.
	ConsentEventsMissing int           `json:"consent_events_missing"`
	Results              []levelResult `json:"levels"`
	// Webhook and Send are per message over all levels (steady state);
	// FirstContact is the first message of each new sender.
	Webhook      usage `json:"webhook_per_message"`
	Send         usage `json:"send_per_message"`
	FirstContact usage `json:"webhook_first_contact_per_message"`
	// Events and EventsFirstContact are what the events function did per
	// webhook message (steady state, and a new sender's first message);
	// EventsOut the events per message by destination and their receipt
	// latency, over all levels.
	Events             usage        `json:"events_per_webhook_message"`
	EventsFirstContact usage        `json:"events_first_contact_per_webhook_message"`
	EventsOut          eventsResult `json:"events_out"`
	FirstContactEvents eventsResult `json:"events_out_first_contact"`
	// EventsAlone are the events of webhook messages sent one at a time,
	// each after the previous one's event arrived: receipt without a
	// queue.
	EventsAlone eventsResult `json:"events_out_one_at_a_time"`
	// CPU is the CPU time per message by part of the stack, over all
	// levels, for "webhook", "send" and "ceiling".
	CPU map[string]map[string]float64 `json:"cpu_ms_per_message,omitempty"`
	// CPUBoundRatio is the ceiling's CPU per message over the webhook's:
	// what webhook/ceiling would be if both were CPU-bound on the same
	// cores, and far less sensitive to other load than throughput.
	CPUBoundRatio float64              `json:"cpu_bound_ratio,omitempty"`
	Prices        cost.Prices          `json:"prices_usd_per_unit"`
	Cost          map[string]costLines `json:"cost_usd_per_million_messages"`
}

type machine struct {
	CPUs       int    `json:"cpus"`
	GoVersion  string `json:"go"`
	OS         string `json:"os"`
	LoadBefore string `json:"load_average_1m_before,omitempty"`
	LoadAfter  string `json:"load_average_1m_after,omitempty"`
}

type phaseResult struct {
	Name        string         `json:"name"`
	Concurrency int            `json:"concurrency"`
	Requests    int            `json:"requests"`
	Errors      int            `json:"errors"`
	ErrorKinds  map[string]int `json:"error_kinds,omitempty"`
	Throughput  float64        `json:"per_second"`
	P50Ms       float64        `json:"p50_ms"`
	P99Ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
	ElapsedS    float64        `json:"elapsed_s"`
	Capped      bool           `json:"time_capped,omitempty"`
	// Calls counts the functions' AWS calls by "Service.Operation".
	Calls map[string]int `json:"aws_calls,omitempty"`
	// BilledMeanMs is the function's mean billed duration.
	BilledMeanMs float64 `json:"lambda_billed_mean_ms,omitempty"`
	// CPUMs is the CPU time per successful request by part of the stack.
	CPUMs map[string]float64 `json:"cpu_ms_per_request,omitempty"`
}

type ceilingResult struct {
	Puts             int     `json:"puts"`
	Errors           int     `json:"errors"`
	PutsPerSecond    float64 `json:"puts_per_second"`
	P50Ms            float64 `json:"p50_ms"`
	P99Ms            float64 `json:"p99_ms"`
	ItemBytes        int     `json:"item_bytes"`
	WritesPerMessage float64 `json:"writes_per_webhook_message"`
	// MessagesPerSecond is PutsPerSecond / WritesPerMessage.
	MessagesPerSecond float64 `json:"messages_per_second"`
	Capped            bool    `json:"time_capped,omitempty"`
	// CPUMs is the CPU time per message's worth of writes
	// (WritesPerMessage PutItems) by part of the stack.
	CPUMs map[string]float64 `json:"cpu_ms_per_message,omitempty"`
}

type levelResult struct {
	Concurrency int           `json:"concurrency"`
	Webhook     phaseResult   `json:"webhook"`
	Send        phaseResult   `json:"send"`
	Ceiling     ceilingResult `json:"ceiling"`
	// WebhookOfCeiling is webhook msg/s over ceiling msg/s (goal ≥ 0.6),
	// the median over the rounds.
	WebhookOfCeiling float64 `json:"webhook_of_ceiling"`
	// Replay is the webhook's DynamoDB calls made directly, and
	// WebhookOfReplay webhook msg/s over replayed msg/s (median).
	Replay          replayResult `json:"replay"`
	WebhookOfReplay float64      `json:"webhook_of_replay"`
	// Rounds are the ratios of each interleaved round.
	Rounds []roundRatio `json:"rounds,omitempty"`
	// Events are the webhook messages' events, pooled over the rounds.
	Events eventsResult `json:"events_out"`
	// Held is the webhook run with the events function's stream trigger
	// held (the events function idle), in the same rounds; HeldMissing
	// counts its events that had not arrived after the hold (failures).
	Held        phaseResult `json:"webhook_events_held"`
	HeldMissing int         `json:"webhook_events_held_missing"`
	// P99OfHeld is the webhook's p99 with the events function running
	// over its p99 with it held, the median over the rounds.
	P99OfHeld float64 `json:"webhook_p99_running_of_held,omitempty"`
}

// roundRatio is one round's webhook throughput over its ceiling's and
// its replay's.
type roundRatio struct {
	WebhookOfCeiling float64 `json:"webhook_of_ceiling"`
	WebhookOfReplay  float64 `json:"webhook_of_replay"`
	// P99OfHeld is the round's webhook p99 with the events function
	// running over its p99 with it held (0 when not measured).
	P99OfHeld float64 `json:"webhook_p99_running_of_held,omitempty"`
}

// replayResult is a run of one message's DynamoDB calls per request.
type replayResult struct {
	Shape shape `json:"shape"`
	phaseResult
}

// usage is the average AWS usage of one successful message.
type usage struct {
	Messages int `json:"messages"`
	// Calls is per message by "Service.Operation".
	Calls               map[string]float64 `json:"aws_calls"`
	ItemWrites          float64            `json:"dynamodb_item_writes"`
	IndexWrites         float64            `json:"dynamodb_index_writes"`
	ItemReads           float64            `json:"dynamodb_item_reads"`
	WRU                 float64            `json:"dynamodb_wru"`
	RRU                 float64            `json:"dynamodb_rru"`
	KMSRequests         float64            `json:"kms_requests"`
	SecretsManagerCalls float64            `json:"secretsmanager_calls"`
	LambdaInvocations   float64            `json:"lambda_invocations"`
	// BilledMs is the billed duration per message at the lowest
	// concurrency (least CPU contention on the shared machine): the mean
	// of an invocation's, or for the events function, which takes a batch
	// of stream records per invocation, the total divided by the messages.
	BilledMs  float64 `json:"lambda_billed_ms"`
	MemoryMB  int     `json:"lambda_memory_mb"`
	GBSeconds float64 `json:"lambda_gb_seconds"`
	// EventBridgeEvents are billed custom events (PutEvents entries per
	// 64 KB chunk); StreamRecords the stream records read. Both only for
	// the events function.
	EventBridgeEvents float64 `json:"eventbridge_events,omitempty"`
	StreamRecords     float64 `json:"stream_records,omitempty"`
	// APIRequests are API Gateway requests per message (1 for the
	// webhook and send, 0 for the events function).
	APIRequests float64 `json:"apigateway_requests"`
}

type costLines struct {
	DynamoDB       float64 `json:"dynamodb"`
	KMS            float64 `json:"kms"`
	SecretsManager float64 `json:"secretsmanager"`
	Lambda         float64 `json:"lambda"`
	APIGateway     float64 `json:"apigateway_http_api"`
	EventBridge    float64 `json:"eventbridge"`
	Total          float64 `json:"total"`
}

func summarise(p phase) phaseResult {
	r := p.result
	out := phaseResult{Name: p.name, Concurrency: p.concurrency, Requests: r.Requests, Errors: r.Errors, Throughput: r.Throughput(),
		P50Ms: ms(r.Percentile(50)), P99Ms: ms(r.Percentile(99)), MaxMs: ms(r.Percentile(100)), ElapsedS: r.Elapsed.Seconds(),
		Capped: r.Capped, Calls: calls(p)}
	if len(r.ErrorKinds) > 0 {
		out.ErrorKinds = r.ErrorKinds
	}
	if len(p.reports) > 0 {
		var sum time.Duration
		for _, rep := range p.reports {
			sum += rep.Billed
		}
		out.BilledMeanMs = ms(sum) / float64(len(p.reports))
	}
	out.CPUMs = perMessage(p.cpu, float64(r.Requests-r.Errors))
	return out
}

// perMessage divides CPU times by a message count, in milliseconds.
func perMessage(cpu proccpu.Sample, messages float64) map[string]float64 {
	if len(cpu) == 0 || messages <= 0 {
		return nil
	}
	out := map[string]float64{}
	for g, d := range cpu {
		out[g] = ms(d) / messages
	}
	return out
}

// cpuTotals averages the levels' CPU per message, weighted by messages.
func (r *results) cpuTotals() {
	type acc struct {
		sum  map[string]float64
		msgs float64
	}
	add := func(a *acc, per map[string]float64, msgs float64) {
		if a.sum == nil {
			a.sum = map[string]float64{}
		}
		for g, v := range per {
			a.sum[g] += v * msgs
		}
		a.msgs += msgs
	}
	if !r.Counted {
		return // an attached stack's processes are not ours to sample
	}
	var wh, sd, ce, rp acc
	for _, l := range r.Results {
		add(&wh, l.Webhook.CPUMs, float64(l.Webhook.Requests-l.Webhook.Errors))
		add(&sd, l.Send.CPUMs, float64(l.Send.Requests-l.Send.Errors))
		add(&rp, l.Replay.CPUMs, float64(l.Replay.Requests-l.Replay.Errors))
		if l.Ceiling.WritesPerMessage > 0 {
			add(&ce, l.Ceiling.CPUMs, float64(l.Ceiling.Puts-l.Ceiling.Errors)/l.Ceiling.WritesPerMessage)
		}
	}
	r.CPU = map[string]map[string]float64{}
	for name, a := range map[string]acc{"webhook": wh, "send": sd, "ceiling": ce, "replay": rp} {
		if a.msgs == 0 || len(a.sum) == 0 {
			continue
		}
		per := map[string]float64{}
		for g, v := range a.sum {
			per[g] = v / a.msgs
		}
		r.CPU[name] = per
	}
	if w, c := total(r.CPU["webhook"]), total(r.CPU["ceiling"]); w > 0 && c > 0 {
		r.CPUBoundRatio = c / w
	}
}

func total(m map[string]float64) float64 {
	t := 0.0
	for _, v := range m {
		t += v
	}
	return t
}

// calls flattens a phase's counts to "Service.Operation" → calls.
func calls(p phase) map[string]int {
	return flatten(map[string]awscount.Counts{"DynamoDB": p.dynamoDB, "KMS": p.kms, "SecretsManager": p.secrets})
}

// flatten turns counts by service to "Service.Operation" → calls.
func flatten(bySvc map[string]awscount.Counts) map[string]int {
	out := map[string]int{}
	for svc, counts := range bySvc {
		for op, c := range counts {
			out[svc+"."+op] = c.Calls
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// usageOf averages the phases' usage over their successful messages.
func usageOf(phases []phase) usage {
	u := usage{Calls: map[string]float64{}}
	var units awscount.Units
	var kms, sm, reports int
	for _, p := range phases {
		u.Messages += p.result.Requests - p.result.Errors
		for k, v := range calls(p) {
			u.Calls[k] += float64(v)
		}
		units = units.Add(p.dynamoDB.Units())
		kms += p.kms.Calls()
		sm += p.secrets.Calls()
		reports += len(p.reports)
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
	u.APIRequests = 1
	u.LambdaInvocations = 1 // one per request unless the log says otherwise
	if reports > 0 {
		u.LambdaInvocations = float64(reports) / n
	}
	lowest := slices.MinFunc(phases, func(a, b phase) int { return a.concurrency - b.concurrency })
	if len(lowest.reports) > 0 {
		var sum time.Duration
		for _, rep := range lowest.reports {
			sum += rep.Billed
			u.MemoryMB = rep.MemoryMB
		}
		mean := sum / time.Duration(len(lowest.reports))
		u.BilledMs = ms(mean)
		u.GBSeconds = cost.GBSeconds(mean, u.MemoryMB)
	}
	return u
}

func (u usage) cost(p cost.Prices) costLines {
	b := p.PerMillion(cost.Usage{WRU: u.WRU, RRU: u.RRU, KMSRequests: u.KMSRequests, SecretsManagerCalls: u.SecretsManagerCalls,
		LambdaInvocations: u.LambdaInvocations, LambdaGBSeconds: u.GBSeconds, HTTPAPIRequests: u.APIRequests,
		EventBridgeEvents: u.EventBridgeEvents})
	return costLines{DynamoDB: b.DynamoDB, KMS: b.KMS, SecretsManager: b.SecretsManager, Lambda: b.Lambda, APIGateway: b.APIGateway,
		EventBridge: b.EventBridge, Total: b.Total()}
}

func (r *results) price() {
	r.Prices = cost.ListPrices
	if !r.Counted {
		return
	}
	r.Cost = map[string]costLines{"webhook": r.Webhook.cost(r.Prices), "send": r.Send.cost(r.Prices),
		"webhook_first_contact": r.FirstContact.cost(r.Prices), "events": r.Events.cost(r.Prices),
		"events_first_contact": r.EventsFirstContact.cost(r.Prices)}
}

// failures counts failed requests in the measured phases and the setup.
func (r *results) failures() int {
	n := 0
	for _, p := range r.Setup {
		n += p.Errors
	}
	for _, l := range r.Results {
		n += l.Webhook.Errors + l.Send.Errors + l.Ceiling.Errors + l.Replay.Errors + l.Events.Missing + l.Held.Errors + l.HeldMissing
	}
	return n + r.FirstContactEvents.Missing + r.ConsentEventsMissing + r.EventsAlone.Missing
}

// write saves results.json and bench.png in dir.
func (r *results) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return r.chart(filepath.Join(dir, "bench.png"))
}
