package streams

import (
	"fmt"
	"slices"
	"strings"

	"github.com/waguard/waguard/internal/samtemplate"
)

// Mapping is one event source mapping: a function event of Type DynamoDB
// in the template, with Lambda's defaults filled in.
type Mapping struct {
	// Function is the function's logical ID, the name the [Invoker]
	// knows it by; Event is the event's name in the template.
	Function, Event string
	// FunctionARN names the function in the on-failure record.
	FunctionARN string
	// StreamARN is the stream to read.
	StreamARN string
	// StartingPosition is LATEST or TRIM_HORIZON: where reading starts in
	// the shards open when the mapping starts (shards that appear later
	// are always read from their start).
	StartingPosition string
	// BatchSize is the most records per invocation (Lambda's default 100).
	BatchSize int
	// MaximumRetryAttempts is how many times a failed batch is retried
	// before it is discarded; -1 (Lambda's default) retries until the
	// records expire.
	MaximumRetryAttempts int
	// BisectBatchOnFunctionError splits a batch in two when the function
	// fails on it, without counting a retry.
	BisectBatchOnFunctionError bool
	// ReportBatchItemFailures makes the function's batchItemFailures
	// response count (FunctionResponseTypes).
	ReportBatchItemFailures bool
	// OnFailure is the ARN of the SQS queue that receives the invocation
	// record of each discarded batch, or "".
	OnFailure string
	// Enabled is false for a mapping the template disables.
	Enabled bool
}

// Lambda's limits and defaults for DynamoDB event source mappings.
const (
	defaultBatchSize = 100
	maxBatchSize     = 10000
	maxRetryAttempts = 10000
)

// ignoredProperties change nothing this emulator does: metrics, and the
// key that encrypts filter criteria (filters themselves are refused).
var ignoredProperties = []string{"MetricsConfig", "KmsKeyArn"}

// Mappings reads every DynamoDB stream trigger of the resolved template.
// It refuses a property it does not emulate (a filter, a batching window,
// a record age limit, parallelization, tumbling windows, an SNS
// destination) rather than run a mapping that behaves otherwise than on
// AWS. functionARN gives a function's ARN from its logical ID.
func Mappings(tpl *samtemplate.Template, functionARN func(logicalID string) string) ([]Mapping, error) {
	var out []Mapping
	for _, ev := range tpl.Events("DynamoDB") {
		m, err := parseMapping(ev)
		if err != nil {
			return nil, fmt.Errorf("%s event %s: %w", ev.Function, ev.Name, err)
		}
		m.FunctionARN = functionARN(ev.Function)
		out = append(out, m)
	}
	return out, nil
}

func parseMapping(ev samtemplate.Event) (Mapping, error) {
	m := Mapping{Function: ev.Function, Event: ev.Name, BatchSize: defaultBatchSize, MaximumRetryAttempts: -1, Enabled: true}
	for k, v := range ev.Properties {
		if err := m.set(k, v); err != nil {
			return Mapping{}, fmt.Errorf("%s: %w", k, err)
		}
	}
	switch {
	case m.StreamARN == "":
		return Mapping{}, fmt.Errorf("Stream is required")
	case m.StartingPosition != "LATEST" && m.StartingPosition != "TRIM_HORIZON":
		return Mapping{}, fmt.Errorf("StartingPosition %q: want LATEST or TRIM_HORIZON", m.StartingPosition)
	}
	return m, nil
}

// set applies one event property.
func (m *Mapping) set(k string, v any) error {
	var err error
	switch k {
	case "Stream":
		m.StreamARN, err = stringValue(v)
		if err == nil && !strings.Contains(m.StreamARN, ":table/") {
			err = fmt.Errorf("%q is not a DynamoDB stream ARN (is the table provisioned?)", m.StreamARN)
		}
	case "StartingPosition":
		m.StartingPosition, err = stringValue(v)
	case "BatchSize":
		m.BatchSize, err = intValue(v, 1, maxBatchSize)
	case "MaximumRetryAttempts":
		m.MaximumRetryAttempts, err = intValue(v, -1, maxRetryAttempts)
	case "BisectBatchOnFunctionError":
		m.BisectBatchOnFunctionError, err = boolValue(v)
	case "Enabled":
		m.Enabled, err = boolValue(v)
	case "FunctionResponseTypes":
		types := samtemplate.Strings(v)
		for _, t := range types {
			if t != "ReportBatchItemFailures" {
				return fmt.Errorf("unknown response type %q", t)
			}
		}
		m.ReportBatchItemFailures = slices.Contains(types, "ReportBatchItemFailures")
	case "DestinationConfig":
		m.OnFailure, err = onFailure(v)
	case "MaximumBatchingWindowInSeconds", "TumblingWindowInSeconds":
		err = wantValue(v, 0, "batching windows are not emulated")
	case "MaximumRecordAgeInSeconds":
		err = wantValue(v, -1, "a record age limit is not emulated")
	case "ParallelizationFactor":
		err = wantValue(v, 1, "parallelization is not emulated")
	default:
		if !slices.Contains(ignoredProperties, k) {
			err = fmt.Errorf("not emulated by the local stack")
		}
	}
	return err
}

// onFailure reads DestinationConfig: only an SQS OnFailure destination.
func onFailure(v any) (string, error) {
	dc, ok := v.(map[string]any)
	of, ok2 := dc["OnFailure"].(map[string]any)
	if !ok || !ok2 || len(dc) != 1 {
		return "", fmt.Errorf("want OnFailure only, got %v", v)
	}
	dest, err := stringValue(of["Destination"])
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(dest, "arn:aws:sqs:") {
		return "", fmt.Errorf("destination %q: only an SQS queue is emulated", dest)
	}
	return dest, nil
}

func stringValue(v any) (string, error) {
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("want a string, got %v", v)
	}
	return s, nil
}

// intValue reads a whole number (the template's numbers are float64,
// a parameter's may be a string) within [lo, hi].
func intValue(v any, lo, hi int) (int, error) {
	var n int
	switch x := v.(type) {
	case float64:
		if x != float64(int(x)) {
			return 0, fmt.Errorf("want a whole number, got %v", v)
		}
		n = int(x)
	case string:
		if _, err := fmt.Sscan(x, &n); err != nil {
			return 0, fmt.Errorf("want a whole number, got %q", x)
		}
	default:
		return 0, fmt.Errorf("want a whole number, got %v", v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is outside [%d, %d]", n, lo, hi)
	}
	return n, nil
}

func boolValue(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("want true or false, got %v", v)
}

// wantValue accepts only the value whose behaviour the emulator has.
func wantValue(v any, want int, why string) error {
	n, err := intValue(v, want, want)
	if err != nil || n != want {
		return fmt.Errorf("only %d: %s", want, why)
	}
	return nil
}
