package main

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/blindindex"
	"github.com/waguard/waguard/shared/floodguard"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/idempotency"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/ratelimit"
	"github.com/waguard/waguard/shared/store"
)

// Handler serves the send API. It is built once per cold start, is safe
// for concurrent use and holds no request data.
type Handler struct {
	Auth        *apiauth.Authenticator
	Flood       *floodguard.Guard
	Keys        *blindindex.Keys
	Store       *store.Store
	Audit       *audit.Writer
	Idempotency *idempotency.Store
	Limits      *ratelimit.Limiter
	Provider    *provider.Sender
	Metrics     *metrics.Recorder
	Log         *slog.Logger
	Config      Config
	Now         func() time.Time
	// MetricsOut receives the EMF lines (default os.Stdout).
	MetricsOut io.Writer
}

var (
	errUnauthenticated = &apiError{status: 401, code: "unauthenticated", message: "a valid API key is required"}
	errScope           = &apiError{status: 403, code: "insufficient_scope", message: "the API key does not allow this operation"}
	errUnavailable     = &apiError{status: 503, code: "dependency_unavailable", message: "a dependency is unavailable; retry later"}
	errNotFound        = &apiError{status: 404, code: "not_found", message: "no such route"}
)

// Handle routes one API Gateway HTTP API request.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	resp, principal, err := h.route(ctx, req)
	h.done(req, resp, principal, err)
	return resp, nil
}

// route authenticates, checks the scope and dispatches. Errors that are
// *apiError become their response; any other error is a dependency
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
	default:
		return errorResponse(errNotFound), apiauth.Principal{}, nil
	}
	p, err := h.authenticate(ctx, req)
	if err != nil {
		return errorResponse(err), p, internal(err)
	}
	if !p.Can(scope) {
		return errorResponse(errScope), p, nil
	}
	body, err := requestBody(req)
	if err != nil {
		return errorResponse(errInvalidRequest), p, nil
	}
	resp, err := serve(ctx, req, p, body)
	if err != nil {
		return errorResponse(err), p, internal(err)
	}
	return resp, p, nil
}

// authenticate checks flood control before any key work, then the key.
// A failed key is counted for the source and audited once per source and
// minute.
func (h *Handler) authenticate(ctx context.Context, req events.APIGatewayV2HTTPRequest) (apiauth.Principal, error) {
	ip := req.RequestContext.HTTP.SourceIP
	blocked, retry, err := h.Flood.Blocked(ctx, ip)
	if err != nil {
		return apiauth.Principal{}, err
	}
	if blocked {
		return apiauth.Principal{}, &apiError{status: 429, code: "rate_limited", message: "too many failed requests from this source", retryAfter: retry}
	}
	p, err := h.Auth.Authenticate(ctx, req.Headers["authorization"])
	if errors.Is(err, apiauth.ErrUnauthenticated) {
		h.Metrics.Add(metrics.AuthFailures, 1)
		n, ferr := h.Flood.RecordFailure(ctx, ip)
		if ferr != nil {
			return p, ferr
		}
		if n == 1 || n == floodLimit+1 {
			if _, aerr := h.Audit.Append(ctx, audit.Event{Type: audit.EventAuthFailed, Actor: audit.Actor{Caller: "unknown"},
				RequestID: req.RequestContext.RequestID, Details: map[string]string{"route": req.RouteKey,
					"source": h.Flood.Source(ip), "failures_this_minute": strconv.Itoa(n)}}); aerr != nil {
				return p, aerr
			}
		}
		return p, errUnauthenticated
	}
	return p, err
}

const floodLimit = 20

func requestBody(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if req.IsBase64Encoded {
		return base64.StdEncoding.DecodeString(req.Body)
	}
	return []byte(req.Body), nil
}

// internal returns err when it is not an API refusal (so it is logged).
func internal(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return nil
	}
	return err
}

// errorResponse maps err to its response; unknown errors are 503.
func errorResponse(err error) httpapi.Response {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errUnavailable
	}
	resp := httpapi.Error(ae.status, ae.code, ae.message)
	if ae.status == http.StatusUnauthorized {
		resp.Headers["WWW-Authenticate"] = "Bearer"
	}
	if ae.retryAfter > 0 {
		resp = httpapi.RetryAfter(resp, ae.retryAfter)
	}
	return resp
}

// done logs the invocation's one summary line and flushes metrics.
func (h *Handler) done(req events.APIGatewayV2HTTPRequest, resp httpapi.Response, p apiauth.Principal, err error) {
	attrs := []any{"route", req.RouteKey, "status", resp.StatusCode, "request_id", req.RequestContext.RequestID, "client", p.ClientID}
	if err != nil {
		h.Metrics.Add(metrics.DependencyFailures, 1)
		h.Log.Error("request failed", append(attrs, "err", err)...)
	} else {
		h.Log.Info("request", attrs...)
	}
	w := h.MetricsOut
	if w == nil {
		w = os.Stdout
	}
	_ = h.Metrics.Flush(w)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
