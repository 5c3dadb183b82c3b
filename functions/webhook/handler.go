package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/floodguard"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/secrets"
)

// Handler serves the webhook routes. It is safe for concurrent use and
// holds no request data.
type Handler struct {
	Secrets      *secrets.Store
	Flood        *floodguard.Guard
	Log          *slog.Logger
	MetaSecretID string
}

// Handle routes one API Gateway HTTP API request.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ip := req.RequestContext.HTTP.SourceIP
	blocked, retry, err := h.Flood.Blocked(ctx, ip)
	if err != nil {
		return h.done(req, httpapi.Error(http.StatusServiceUnavailable, "dependency_unavailable", "a dependency is unavailable; retry later"), err)
	}
	if blocked {
		return h.done(req, httpapi.RetryAfter(httpapi.Error(http.StatusTooManyRequests, "rate_limited", "too many failed requests from this source"), retry), nil)
	}
	switch req.RouteKey {
	case "GET /webhooks/meta":
		resp, err := h.verify(ctx, req)
		return h.done(req, resp, err)
	default:
		return h.done(req, httpapi.Error(http.StatusNotImplemented, "not_implemented", "this route is not available yet"), nil)
	}
}

// verify answers Meta's subscription handshake: hub.mode=subscribe and the
// configured verify token (compared in constant time) echo hub.challenge.
func (h *Handler) verify(ctx context.Context, req events.APIGatewayV2HTTPRequest) (httpapi.Response, error) {
	q := req.QueryStringParameters
	sec, err := h.Secrets.Get(ctx, h.MetaSecretID, secrets.StageCurrent)
	if err != nil {
		return httpapi.Error(http.StatusServiceUnavailable, "dependency_unavailable", "a dependency is unavailable; retry later"), err
	}
	token := sec.Get("verify_token")
	ok := token.Equal([]byte(q["hub.verify_token"])) && q["hub.mode"] == "subscribe" && q["hub.challenge"] != ""
	if !ok {
		forbidden := httpapi.Error(http.StatusForbidden, "verification_failed", "verification failed")
		return forbidden, h.Flood.RecordFailure(ctx, req.RequestContext.HTTP.SourceIP)
	}
	return httpapi.Text(http.StatusOK, q["hub.challenge"]), nil
}

// done logs the one summary line of the invocation.
func (h *Handler) done(req events.APIGatewayV2HTTPRequest, resp httpapi.Response, err error) (events.APIGatewayV2HTTPResponse, error) {
	attrs := []any{"route", req.RouteKey, "status", resp.StatusCode}
	if err != nil {
		h.Log.Error("request failed", append(attrs, "err", err)...)
	} else {
		h.Log.Info("request", attrs...)
	}
	return resp, nil
}
