package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/blindindex"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
	"github.com/waguard/waguard/shared/summary"
)

// Config is the events function's configuration.
type Config struct {
	// BusName is the event bus (EVENT_BUS_NAME).
	BusName string
	// AttemptTimeout bounds one delivery: a 2xx within it is success
	// (default 10 s).
	AttemptTimeout time.Duration
	// RetryCursor names the retry run's progress record (default "retry").
	RetryCursor string
}

func (c Config) attemptTimeout() time.Duration {
	if c.AttemptTimeout > 0 {
		return c.AttemptTimeout
	}
	return 10 * time.Second
}

func (c Config) retryCursor() string {
	if c.RetryCursor != "" {
		return c.RetryCursor
	}
	return "retry"
}

// Handler serves the audit stream, the retry schedule and the API routes.
// It is built once per cold start, is safe for concurrent use and holds
// no request data.
type Handler struct {
	Store     *store.Store
	Audit     *audit.Writer
	Bus       bus
	Endpoints endpointSource
	// HTTP posts to endpoints: no redirects, per-attempt deadlines.
	HTTP *http.Client
	// ContactKey keys the events' contact ids.
	ContactKey []byte
	Metrics    *metrics.Recorder
	Log        *slog.Logger
	Config     Config
	Now        func() time.Time
	// MetricsOut receives the EMF lines (default os.Stdout).
	MetricsOut io.Writer

	// The API (routes.go, read.go): its gate, and the read API's person
	// finder and keys.
	Gate     *apiauth.Gate
	Subjects *subject.Finder
	Keys     *blindindex.Keys
	// pageBudget, in tests only, replaces httpapi.PageBudget.
	pageBudget int
	// broken is this instance's memory of endpoints that failed to
	// connect or answer in time (not request data: [breaker]).
	broken breaker
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
	case probe.RouteKey != "":
		return h.api(ctx, raw)
	case probe.Records != nil:
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, errors.New("events: unreadable stream batch")
		}
		resp := h.stream(ctx, ev)
		var err error
		if len(resp.BatchItemFailures) > 0 {
			err = errors.New("events: records left for the stream to retry")
		}
		summary.Done(ctx, h.Log, h.Metrics, h.MetricsOut, err, "action", "stream", "records", len(ev.Records), "failed", len(resp.BatchItemFailures))
		return resp, nil
	case probe.Action == "retry_deliveries":
		res, err := h.retry(ctx)
		summary.Done(ctx, h.Log, h.Metrics, h.MetricsOut, err, "action", probe.Action, "attempted", res.Attempted,
			"delivered", res.Delivered, "dead", res.Dead)
		return res, err
	}
	err := errors.New("events: unknown event")
	summary.Done(ctx, h.Log, h.Metrics, h.MetricsOut, err, "action", probe.Action)
	return nil, err
}

// eventTypes are the audit event types whose change has an event.
var eventTypes = map[audit.EventType]bool{audit.EventMessageReceived: true, audit.EventMessageStatus: true,
	audit.EventConsentGranted: true, audit.EventConsentRevoked: true, audit.EventConsentResumed: true, audit.EventConsentRequested: true,
	audit.EventDataDeletion: true}

// streamConcurrency is how many records of a stream batch are delivered
// at once. One at a time, a batch of 100 took the sum of its records'
// round trips (make bench: about 2.5 events/s, a receipt p99 of a minute
// at 8 clients); each record's destinations are already concurrent.
const streamConcurrency = 16

// stream delivers the events of a batch of audit stream records. A record
// whose event is delivered, or whose failure is recorded for the retry
// run, is done. Records are delivered concurrently (order is not
// promised: consumers order by time), except that an erasure's record
// waits for every record before it, so that its notice goes to every
// endpoint those events reached. The earliest record whose state could
// not be recorded is reported, so the stream retries from it
// (ReportBatchItemFailures); a later record already delivered is then
// delivered again under its own event id, which consumers dedupe.
func (h *Handler) stream(ctx context.Context, ev events.DynamoDBEvent) events.DynamoDBEventResponse {
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	r := h.newStreamRun()
	errs := make([]error, len(ev.Records))
	sem := make(chan struct{}, streamConcurrency)
	var wg sync.WaitGroup
	for i, rec := range ev.Records {
		barrier := attr(rec.Change.NewImage, "type") == string(audit.EventDataDeletion)
		if barrier {
			wg.Wait()
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = h.record(ctx, r, rec)
		})
		if barrier {
			wg.Wait()
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			h.Log.WarnContext(ctx, "stream record left for a retry", "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: ev.Records[i].Change.SequenceNumber})
			return resp
		}
	}
	return resp
}

// record delivers the event of one audit stream record, if it has one.
func (h *Handler) record(ctx context.Context, r *run, rec events.DynamoDBEventRecord) error {
	if rec.EventName != "INSERT" {
		return nil
	}
	img := rec.Change.NewImage
	typ, id := attr(img, "type"), attr(img, "id")
	if !eventTypes[audit.EventType(typ)] || id == "" {
		return nil
	}
	er, err := h.Store.Event(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // a change recorded before events existed, or one with no event
	}
	if err != nil {
		return err
	}
	return r.deliver(ctx, er)
}

// attr reads a string attribute of a stream image.
func attr(img map[string]events.DynamoDBAttributeValue, name string) string {
	v, ok := img[name]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
