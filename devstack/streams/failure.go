package streams

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"
)

// InvocationRecord is what Lambda sends to a DynamoDB event source
// mapping's on-failure destination for each discarded batch: metadata
// about the batch, never its records (a consumer reads them from the
// stream while they last).
type InvocationRecord struct {
	RequestContext  RequestContext  `json:"requestContext"`
	ResponseContext ResponseContext `json:"responseContext"`
	Version         string          `json:"version"`
	// Timestamp is when the batch was discarded, RFC 3339 with
	// milliseconds, UTC.
	Timestamp string    `json:"timestamp"`
	BatchInfo BatchInfo `json:"DDBStreamBatchInfo"`
}

// RequestContext identifies the last invocation and why the batch was
// discarded.
type RequestContext struct {
	RequestID   string `json:"requestId"`
	FunctionARN string `json:"functionArn"`
	// Condition is RetryAttemptsExhausted (the only one emulated).
	Condition string `json:"condition"`
	// ApproximateInvokeCount is how many failed invocations the batch had.
	ApproximateInvokeCount int `json:"approximateInvokeCount"`
}

// ResponseContext is the last invocation's result: FunctionError is
// "Unhandled" when the function failed, empty when it answered (a
// partial batch failure).
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// BatchInfo locates the discarded records in the stream.
type BatchInfo struct {
	ShardID             string `json:"shardId"`
	StartSequenceNumber string `json:"startSequenceNumber"`
	EndSequenceNumber   string `json:"endSequenceNumber"`
	// ApproximateArrivalOfFirstRecord and …OfLastRecord are RFC 3339
	// seconds, UTC.
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}

// ConditionRetryAttemptsExhausted is the condition of a batch discarded
// after MaximumRetryAttempts retries.
const ConditionRetryAttemptsExhausted = "RetryAttemptsExhausted"

// invocationRecord describes discarded batch b of shard, whose last
// invocation ended with out, at now.
func invocationRecord(m Mapping, shard string, b batch, out outcome, now time.Time) InvocationRecord {
	first, last := b.records[0], b.records[len(b.records)-1]
	rec := InvocationRecord{
		RequestContext: RequestContext{RequestID: newRequestID(), FunctionARN: m.FunctionARN,
			Condition: ConditionRetryAttemptsExhausted, ApproximateInvokeCount: b.attempts},
		ResponseContext: ResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST"},
		Version:         "1.0",
		Timestamp:       now.UTC().Format("2006-01-02T15:04:05.000Z"),
		BatchInfo: BatchInfo{ShardID: shard, StartSequenceNumber: first.seq, EndSequenceNumber: last.seq,
			ApproximateArrivalOfFirstRecord: first.created.UTC().Format(time.RFC3339),
			ApproximateArrivalOfLastRecord:  last.created.UTC().Format(time.RFC3339),
			BatchSize:                       len(b.records), StreamARN: m.StreamARN},
	}
	if out.kind == outcomeFunctionError {
		rec.ResponseContext.FunctionError = "Unhandled"
	}
	return rec
}

// newRequestID is a random UUID, standing for the last invocation's
// request id (the Runtime Interface Emulator does not tell its own).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// body is the record as the destination's message body.
func (r InvocationRecord) body() (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("invocation record: %w", err)
	}
	return string(b), nil
}
