package streams

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestInvocationRecord pins the on-failure record's shape to the example
// in Lambda's documentation ("Retaining discarded records for a DynamoDB
// event source"): the same keys, nested the same way.
func TestInvocationRecord(t *testing.T) {
	m := Mapping{FunctionARN: "arn:aws:lambda:eu-west-2:111122223333:function:f", StreamARN: testStream}
	b := batch{records: recs(3), attempts: 11}
	b.records[0].created = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	b.records[2].created = time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)
	now := time.Date(2026, 1, 2, 3, 6, 7, 891_000_000, time.UTC)
	rec := invocationRecord(m, "shardId-1", b, outcome{kind: outcomeFunctionError}, now)
	body, err := rec.body()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	reqID, _ := got["requestContext"].(map[string]any)["requestId"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(reqID) {
		t.Errorf("requestId = %q, want a UUID", reqID)
	}
	want := map[string]any{
		"requestContext": map[string]any{"requestId": reqID, "functionArn": m.FunctionARN, "condition": "RetryAttemptsExhausted",
			"approximateInvokeCount": float64(11)},
		"responseContext": map[string]any{"statusCode": float64(200), "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"version":         "1.0",
		"timestamp":       "2026-01-02T03:06:07.891Z",
		"DDBStreamBatchInfo": map[string]any{"shardId": "shardId-1", "startSequenceNumber": seq(1), "endSequenceNumber": seq(3),
			"approximateArrivalOfFirstRecord": "2026-01-02T03:04:00Z", "approximateArrivalOfLastRecord": "2026-01-02T03:05:00Z",
			"batchSize": float64(3), "streamArn": testStream},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("invocation record mismatch (-want +got):\n%s", diff)
	}
	partial := invocationRecord(m, "shardId-1", b, outcome{kind: outcomeOK}, now)
	if partial.ResponseContext.FunctionError != "" {
		t.Errorf("functionError after a partial failure = %q, want none", partial.ResponseContext.FunctionError)
	}
}
