package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/summary"
)

// Handler serves the audit stream, the retry schedule and the API routes.
// It is built once per cold start, is safe for concurrent use and holds
// no request data.
type Handler struct {
	Store   *store.Store
	Audit   *audit.Writer
	Metrics *metrics.Recorder
	Log     *slog.Logger
	Now     func() time.Time
	// MetricsOut receives the EMF lines (default os.Stdout).
	MetricsOut io.Writer
}

// Handle serves a DynamoDB stream batch, a scheduled event or an API
// Gateway request, told apart by their shape.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records  []json.RawMessage `json:"Records"`
		RouteKey string            `json:"routeKey"`
		Action   string            `json:"action"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, errors.New("events: unreadable event")
	}
	switch {
	case probe.Records != nil:
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, errors.New("events: unreadable stream batch")
		}
		resp, err := h.stream(ctx, ev)
		summary.Done(ctx, h.Log, h.Metrics, h.MetricsOut, err, "action", "stream", "records", len(ev.Records), "failed", len(resp.BatchItemFailures))
		return resp, err
	}
	err := errors.New("events: unknown event")
	summary.Done(ctx, h.Log, h.Metrics, h.MetricsOut, err, "action", probe.Action)
	return nil, err
}

// stream turns a batch of audit stream records into deliveries. (Being
// built: every record is acknowledged.)
func (h *Handler) stream(_ context.Context, _ events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}, nil
}
