package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/blindindex"
	"github.com/waguard/waguard/shared/envelope"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
	"github.com/waguard/waguard/shared/summary"
)

// Handler serves the erase routes and the resume schedule. It is built
// once per cold start, is safe for concurrent use and holds no request
// data.
type Handler struct {
	Gate     *apiauth.Gate
	Keys     *blindindex.Keys
	Subjects *subject.Finder
	// ContactKey keys the contact id of the subject.erased event.
	ContactKey []byte
	Store      *store.Store
	Envelope   *envelope.Envelope
	Audit      *audit.Writer
	Metrics    *metrics.Recorder
	Log        *slog.Logger
	// Confirm sends the optional final confirmation; nil sends none.
	Confirm *Confirmation
	Now     func() time.Time
	// MetricsOut receives the EMF lines (default os.Stdout).
	MetricsOut io.Writer
	// stopAfter, in tests only, ends processing right after the named
	// step, as a crash or timeout would.
	stopAfter string
}

var (
	errInvalidRequest = &httpapi.Problem{Status: http.StatusBadRequest, Code: "invalid_request", Message: "the request body is not valid"}
	errInvalidPhone   = &httpapi.Problem{Status: http.StatusBadRequest, Code: "invalid_phone", Message: "the phone number is not a valid E.164 number"}
	errNotFound       = &httpapi.Problem{Status: http.StatusNotFound, Code: "not_found", Message: "no such erasure request"}
)

// Handle serves an API Gateway request or a scheduled event, told apart
// by their shape.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		RouteKey string `json:"routeKey"`
		Action   string `json:"action"`
	}
	_ = json.Unmarshal(raw, &probe)
	if probe.RouteKey == "" {
		return h.scheduled(ctx, probe.Action)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return httpapi.ErrorResponse(errInvalidRequest), nil
	}
	resp, err := h.route(ctx, req)
	h.done(ctx, "route", req.RouteKey, resp.StatusCode, err, "request_id", req.RequestContext.RequestID)
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
	if action != "resume_pending_erasures" {
		h.done(ctx, "schedule", action, 400, nil)
		return map[string]string{"error": "unknown action"}, nil
	}
	ids, err := h.Store.PendingErasures(ctx, 100)
	done, failed := 0, 0
	oldest := time.Duration(0)
	defer func() {
		// The alarm in template.yaml fires above 24 hours (the deadline is
		// a month; the target is minutes).
		h.Metrics.Set(metrics.ErasurePendingOldestHours, oldest.Hours(), metrics.UnitNone)
	}()
	for _, id := range ids {
		if err != nil || !h.timeLeft(ctx) {
			break
		}
		// One request that fails (a dependency, a bad record) must not hold
		// up the others: log it, count it, go on.
		r, perr := h.process(ctx, id)
		switch {
		case perr != nil:
			failed++
			h.Log.ErrorContext(ctx, "erasure step failed", "erasure_request", id, "err", perr)
			if !r.RequestedAt.IsZero() {
				oldest = max(oldest, h.now().Sub(r.RequestedAt))
			}
		case r.Status == "completed":
			done++
		default:
			oldest = max(oldest, h.now().Sub(r.RequestedAt))
		}
	}
	if err == nil && failed > 0 {
		err = fmt.Errorf("%d erasure requests failed this run", failed)
	}
	h.done(ctx, "schedule", action, 200, err)
	if err != nil {
		return nil, err // the schedule's error metric and retry see it
	}
	return map[string]int{"pending": len(ids), "completed": done}, nil
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
	return (!ok || time.Until(dl) > 3*time.Second) && ctx.Err() == nil
}
