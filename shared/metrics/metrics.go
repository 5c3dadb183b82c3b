// Package metrics records waguard's operational counters and gauges during
// an invocation and writes them as one CloudWatch Embedded Metric Format
// (EMF) log line, which CloudWatch Logs turns into metrics without an API
// call.
//
// # Usage
//
// main builds one [Recorder] per cold start and keeps it in Deps; the
// handler adds to it and calls [Recorder.Flush] with os.Stdout once per
// invocation, after its summary log line:
//
//	rec, err := metrics.NewRecorder(os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
//	...
//	rec.Add(metrics.MessagesSent, 1)
//	...
//	if err := rec.Flush(os.Stdout); err != nil {
//		log.ErrorContext(ctx, "flush metrics", "err", err)
//	}
//
// Flush writes lines of the shape
//
//	{"Function":"send","MessagesSent":1,"_aws":{"CloudWatchMetrics":[{
//	"Namespace":"waguard","Dimensions":[["Function"]],
//	"Metrics":[{"Name":"MessagesSent","Unit":"Count"}]}],"Timestamp":1700000000000}}
//
// (on one line), with the metrics sorted by name and at most 100 per line,
// as the specification requires. Write them to os.Stdout directly, never
// through the redacting logger, which would mask the 13-digit timestamp. When invocations run concurrently, one
// invocation's Flush may carry counts recorded by another; every count is
// still written exactly once, so CloudWatch's sums are exact.
//
// # Security properties
//
// Metric values are numbers and dimension values are fixed when the
// Recorder is built, from configuration such as the function name and
// stage. Dimension values must never be personal data or request data:
// no phone numbers, blind indexes, message ids or client-supplied values.
// Each distinct dimension value is also a separately billed metric.
//
// # Non-goals
//
// It does not call PutMetricData, aggregate across invocations, or record
// distributions or high-resolution metrics.
package metrics

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of waguard's metrics.
const Namespace = "waguard"

// Metric names used across waguard. Counters are recorded with
// [Recorder.Add]; gauges (noted) with [Recorder.Set].
const (
	// SignatureFailures counts webhook deliveries whose signature failed.
	SignatureFailures = "SignatureFailures"
	// AuthFailures counts API requests refused for bad credentials.
	AuthFailures = "AuthFailures"
	// RateLimited counts requests or sends refused by a rate limit.
	RateLimited = "RateLimited"
	// MessagesSent counts messages accepted by the WhatsApp Cloud API.
	MessagesSent = "MessagesSent"
	// MessagesReceived counts inbound messages stored.
	MessagesReceived = "MessagesReceived"
	// ConfirmationsIgnored counts taps on a double opt-in confirmation
	// button that confirmed nothing (unknown, expired or confirmed before).
	ConfirmationsIgnored = "ConfirmationsIgnored"
	// SendRefused counts sends refused for consent, suppression, erasure
	// or the customer service window.
	SendRefused = "SendRefused"
	// Erasures counts completed erasure requests.
	Erasures = "Erasures"
	// ErasurePendingOldestHours is a gauge: the age in hours of the oldest
	// open erasure request (unit None; CloudWatch has no hour unit).
	ErasurePendingOldestHours = "ErasurePendingOldestHours"
	// RetentionDeleted counts items deleted by the retention sweep.
	RetentionDeleted = "RetentionDeleted"
	// RetentionExcessHours is a gauge: the most hours by which any
	// class's oldest surviving item has outlived its retention policy (0
	// when none has; the breach alarm fires above 48).
	RetentionExcessHours = "RetentionExcessHours"
	// RetentionOverdueHours is how far behind the retention sweep is: no
	// item survives its retention policy by more than this (the alarm
	// fires above 48 hours).
	RetentionOverdueHours = "RetentionOverdueHours"
	// AuditDigestsLate counts audit digests the daily run made after
	// their day's grace period: days it had missed, digested late. Every
	// run reports it, 0 when on time.
	AuditDigestsLate = "AuditDigestsLate"
	// AuditDigestFailures counts failed audit digest runs. Every run
	// reports it, 0 on success.
	AuditDigestFailures = "AuditDigestFailures"
	// EventDeliveries counts events a destination (the bus or an
	// endpoint) acknowledged.
	EventDeliveries = "EventDeliveries"
	// EventDeliveriesDropped counts deliveries given up because the
	// person was erased first (never delivered afterwards).
	EventDeliveriesDropped = "EventDeliveriesDropped"
	// EventDeadLetters counts deliveries that ran out of retries (the
	// dead-letter alarm fires above 0).
	EventDeadLetters = "EventDeadLetters"
	// RotationFailures counts failed key or secret rotation steps.
	RotationFailures = "RotationFailures"
	// KMSCalls counts calls to AWS KMS.
	KMSCalls = "KMSCalls"
	// KeyCacheHits counts data keys served from the in-memory cache.
	KeyCacheHits = "KeyCacheHits"
	// KeyCacheMisses counts data keys that had to be unwrapped.
	KeyCacheMisses = "KeyCacheMisses"
	// AuditWriteFailures counts audit events that could not be written.
	AuditWriteFailures = "AuditWriteFailures"
	// DependencyFailures counts failed calls to DynamoDB, KMS, Secrets
	// Manager or the WhatsApp Cloud API.
	DependencyFailures = "DependencyFailures"
)

// RetentionOldestAgeHours names the gauge of one retention class: the age
// in hours of that class's oldest surviving item (unit None). Class names
// are fixed configuration, never request data.
func RetentionOldestAgeHours(class string) string { return "RetentionOldestAgeHours_" + class }

// Unit is a CloudWatch metric unit. The empty Unit omits the unit, which
// CloudWatch reads as None.
type Unit string

// Units waguard uses; any CloudWatch unit name is accepted.
const (
	UnitNone         Unit = "None"
	UnitCount        Unit = "Count"
	UnitSeconds      Unit = "Seconds"
	UnitMilliseconds Unit = "Milliseconds"
	UnitBytes        Unit = "Bytes"
	UnitPercent      Unit = "Percent"
)

// FunctionDimension is the name of the default dimension.
const FunctionDimension = "Function"

// Limits from the EMF specification and the CloudWatch API.
const (
	maxMetricsPerDirective = 100
	maxDimensions          = 30
	maxNameLen             = 255
	maxDimensionValueLen   = 1024
)

// Recorder accumulates metrics for one invocation. It is safe for
// concurrent use.
type Recorder struct {
	namespace string
	dims      []dimension // in order; one dimension set of all their names
	now       func() time.Time

	mu      sync.Mutex
	metrics map[string]*metric
	before  []func(*Recorder) // run at the start of every Flush
}

type dimension struct{ name, value string }

type metric struct {
	unit  Unit
	value float64
}

// Option configures a Recorder.
type Option func(*Recorder)

// WithNamespace replaces the namespace, [Namespace] by default.
func WithNamespace(namespace string) Option {
	return func(r *Recorder) { r.namespace = namespace }
}

// WithDimension adds a dimension, such as ("Stage", "prod"), to the
// dimension set after Function. The value must not be personal data.
func WithDimension(name, value string) Option {
	return func(r *Recorder) { r.dims = append(r.dims, dimension{name, value}) }
}

// BeforeFlush registers f to run at the start of every Flush, so that a
// source of counters (the envelope's KMS and cache statistics) adds its
// deltas to each invocation's line. f may call Add and Set.
func (r *Recorder) BeforeFlush(f func(*Recorder)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.before = append(r.before, f)
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option {
	return func(r *Recorder) { r.now = now }
}

// NewRecorder returns a Recorder whose metrics carry the dimension
// Function=function and those of any [WithDimension] options. It returns an
// error if a dimension or the namespace is not valid for CloudWatch.
func NewRecorder(function string, opts ...Option) (*Recorder, error) {
	r := &Recorder{
		namespace: Namespace,
		dims:      []dimension{{FunctionDimension, function}},
		now:       time.Now,
		metrics:   map[string]*metric{},
	}
	for _, opt := range opts {
		opt(r)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("new metrics recorder: %w", err)
	}
	return r, nil
}

// Add adds n to the counter name, unit Count. Adding 0 still reports the
// metric, so alarms see 0 rather than missing data.
func (r *Recorder) Add(name string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.get(name)
	m.unit = UnitCount
	m.value += float64(n)
}

// Set sets the gauge name to v in unit; the last value set before
// [Recorder.Flush] is reported.
func (r *Recorder) Set(name string, v float64, unit Unit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.get(name)
	m.unit = unit
	m.value = v
}

// get returns the metric name, creating it. r.mu must be held.
func (r *Recorder) get(name string) *metric {
	m, ok := r.metrics[name]
	if !ok {
		m = &metric{}
		r.metrics[name] = m
	}
	return m
}

var errNoDimensions = errors.New("no dimensions")

// validate checks the namespace and dimensions against CloudWatch's rules.
func (r *Recorder) validate() error {
	if !validText(r.namespace, maxNameLen) {
		return errors.New("invalid namespace")
	}
	if len(r.dims) == 0 {
		return errNoDimensions
	}
	if len(r.dims) > maxDimensions {
		return fmt.Errorf("more than %d dimensions", maxDimensions)
	}
	seen := map[string]bool{"_aws": true}
	for _, d := range r.dims {
		if !validText(d.name, maxNameLen) || d.name[0] == ':' || seen[d.name] {
			return fmt.Errorf("invalid or repeated dimension name %q", d.name)
		}
		if !validText(d.value, maxDimensionValueLen) {
			return fmt.Errorf("invalid value for dimension %q", d.name)
		}
		seen[d.name] = true
	}
	return nil
}

// validText reports whether s is 1 to max printable ASCII characters, not
// all spaces, as CloudWatch requires of names and dimension values.
func validText(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	blank := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
		blank = blank && s[i] == ' '
	}
	return !blank
}
