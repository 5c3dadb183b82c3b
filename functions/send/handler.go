package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/blindindex"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/outbound"
	"github.com/waguard/waguard/shared/summary"
)

// Handler serves the send API. It is built once per cold start and is
// safe for concurrent use. It holds no request data in clear: only the
// sealed confirmations of messages sent while DynamoDB failed.
type Handler struct {
	Gate        gate
	Keys        *blindindex.Keys
	Store       dataStore
	Subjects    finder
	Audit       auditLog
	Idempotency keyClaims
	Limits      limiter
	// Outbound sends messages (shared/outbound: intent, provider call,
	// confirmation or withdrawal).
	Outbound *outbound.Sender
	Metrics  *metrics.Recorder
	Log      *slog.Logger
	Config   Config
	Now      func() time.Time
	// MetricsOut receives the EMF lines (default os.Stdout).
	MetricsOut io.Writer

	repairs repairs // confirmations of sent messages still to commit
}

var (
	errNotFound = &httpapi.Problem{Status: 404, Code: "not_found", Message: "no such route"}
)

// Handle routes one API Gateway HTTP API request.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if done, left := h.repairs.run(ctx); done+left > 0 {
		h.Log.InfoContext(ctx, "confirmations of sent messages retried", "committed", done, "left", left)
	}
	resp, principal, err := h.route(ctx, req)
	h.done(ctx, req, resp, principal, err)
	return resp, nil
}

// route authenticates, checks the scope and dispatches. Errors that are
// *httpapi.Problem become their response; any other error is a dependency
// failure (503) and is logged.
func (h *Handler) route(ctx context.Context, req events.APIGatewayV2HTTPRequest) (httpapi.Response, apiauth.Principal, error) {
	var scope apiauth.Scope
	var serve func(context.Context, events.APIGatewayV2HTTPRequest, apiauth.Principal, []byte) (httpapi.Response, error)
	switch req.RouteKey {
	case "POST /v1/messages":
		scope, serve = apiauth.ScopeMessagesSend, h.postMessage
	case "POST /v1/consents":
		scope, serve = apiauth.ScopeConsentsWrite, h.postConsent
	case "POST /v1/consents/query":
		scope, serve = apiauth.ScopeConsentsRead, h.queryConsents
	case "GET /v1/notices/{id}":
		scope, serve = apiauth.ScopeConsentsRead, h.getNotice
	default:
		return httpapi.ErrorResponse(errNotFound), apiauth.Principal{}, nil
	}
	p, err := h.Gate.Check(ctx, req, scope)
	if err != nil {
		return httpapi.ErrorResponse(err), p, httpapi.Internal(err)
	}
	body, err := httpapi.Body(req)
	if err != nil {
		return httpapi.ErrorResponse(errInvalidRequest), p, nil
	}
	resp, err := serve(ctx, req, p, body)
	if err != nil {
		return httpapi.ErrorResponse(err), p, httpapi.Internal(err)
	}
	return resp, p, nil
}

// done logs the invocation's one summary line and flushes metrics.
func (h *Handler) done(ctx context.Context, req events.APIGatewayV2HTTPRequest, resp httpapi.Response, p apiauth.Principal, err error) {
	summary.Done(ctx, h.Log, h.Metrics, h.MetricsOut, err, "route", req.RouteKey, "status", resp.StatusCode,
		"request_id", req.RequestContext.RequestID, "client", p.ClientID)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
