package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/blindindex"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/summary"
)

// Handler serves the erase routes and the resume schedule. It is built
// once per cold start, is safe for concurrent use and holds no request
// data.
type Handler struct {
	// Gate authenticates every route ([apiauth.Gate]).
	Gate gate
	// Keys are the blind-index keys Subjects works with; the handler
	// itself calls only Subjects.
	Keys *blindindex.Keys
	// Subjects finds the subject a request names ([subject.Finder]).
	Subjects subjectFinder
	// ContactKey keys the contact id of the subject.erased event.
	ContactKey []byte
	// Store is the data table ([store.Store]).
	Store dataStore
	// Envelope deletes subject keys ([envelope.Envelope]).
	Envelope keyShredder
	// Audit appends the export's audit event ([audit.Writer]).
	Audit   auditLog
	Metrics *metrics.Recorder
	Log     *slog.Logger
	// Confirm sends the optional final confirmation; nil sends none.
	Confirm *Confirmation
	Now     func() time.Time
	// MetricsOut receives the EMF lines (default os.Stdout).
	MetricsOut io.Writer
}

var (
	errInvalidRequest = &httpapi.Problem{Status: http.StatusBadRequest, Code: "invalid_request", Message: "the request body is not valid"}
	errInvalidPhone   = &httpapi.Problem{Status: http.StatusBadRequest, Code: "invalid_phone", Message: "the phone number is not a valid E.164 number"}
	errNotFound       = &httpapi.Problem{Status: http.StatusNotFound, Code: "not_found", Message: "no such erasure request"}
)

// Handle serves an API Gateway request or a scheduled run.
func (h *Handler) Handle(ctx context.Context, ev Event) (any, error) {
	if ev.scheduled() {
		return h.scheduled(ctx, ev.Action)
	}
	resp, err := h.route(ctx, ev.APIGatewayV2HTTPRequest)
	h.done(ctx, "route", ev.RouteKey, resp.StatusCode, err, "request_id", ev.RequestContext.RequestID)
	return resp, nil
}

func (h *Handler) route(ctx context.Context, req events.APIGatewayV2HTTPRequest) (httpapi.Response, error) {
	scope, serve := apiauth.ScopeSubjectsErase, h.postErasure
	switch req.RouteKey {
	case "POST /v1/erasure-requests":
	case "GET /v1/erasure-requests/{id}":
		serve = h.getErasure
	case "POST /v1/exports":
		scope, serve = apiauth.ScopeSubjectsExport, h.postExport
	default:
		return httpapi.Error(http.StatusNotFound, "not_found", "no such route"), nil
	}
	p, err := h.Gate.Check(ctx, req, scope)
	if err != nil {
		return httpapi.ErrorResponse(err), httpapi.Internal(err)
	}
	body, err := httpapi.Body(req)
	if err != nil {
		return httpapi.ErrorResponse(errInvalidRequest), nil
	}
	resp, err := serve(ctx, req, p, body)
	if err != nil {
		return httpapi.ErrorResponse(err), httpapi.Internal(err)
	}
	return resp, nil
}

// scheduled resumes every pending erasure the deadline allows.
func (h *Handler) scheduled(ctx context.Context, action string) (any, error) {
	if action != actionResume {
		h.done(ctx, "schedule", action, 400, nil)
		return map[string]string{"error": "unknown action"}, nil
	}
	ids, err := h.Store.PendingErasures(ctx, resumeBatch)
	var tally resumeTally
	for _, id := range ids {
		if err != nil || !h.timeLeft(ctx) {
			break
		}
		// One request that fails (a dependency, a bad record) must not hold
		// up the others: log it, count it, go on.
		r, perr := h.process(ctx, id)
		if perr != nil {
			h.Log.ErrorContext(ctx, "erasure step failed", "erasure_request", id, "err", perr)
		}
		tally.add(r, perr, h.now())
	}
	if err == nil {
		err = tally.err()
	}
	// Set before done flushes this invocation's metrics. The alarm in
	// template.yaml fires above 24 hours (the deadline is a month; the
	// target is minutes).
	h.Metrics.Set(metrics.ErasurePendingOldestHours, tally.oldest.Hours(), metrics.UnitNone)
	h.done(ctx, "schedule", action, 200, err)
	if err != nil {
		return nil, err // the schedule's error metric and retry see it
	}
	return map[string]int{"pending": len(ids), "completed": tally.done}, nil
}

// done logs the invocation's summary line and flushes metrics.
func (h *Handler) done(ctx context.Context, kind, name string, status int, err error, attrs ...any) {
	summary.Done(ctx, h.Log, h.Metrics, h.MetricsOut, err, append([]any{kind, name, "status", status}, attrs...)...)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// timeLeft reports whether the invocation has a reserve left (to write the
// step, the audit event and the answer).
func (h *Handler) timeLeft(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return hasReserve(dl, ok, time.Now()) && ctx.Err() == nil
}
