package main

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/blindindex"
	"github.com/waguard/waguard/shared/floodguard"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/idempotency"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/outbound"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
	"github.com/waguard/waguard/shared/summary"
)

// Handler serves the webhook routes. It is built once per cold start, is
// safe for concurrent use and holds no request data.
type Handler struct {
	Secrets *secrets.Store
	Flood   *floodguard.Guard
	Keys    *blindindex.Keys
	Store   *store.Store
	// Subjects finds the person an event is about, by number or BSUID.
	Subjects *subject.Finder
	Audit    *audit.Writer
	Log      *slog.Logger
	Metrics  *metrics.Recorder
	// Outbound sends keyword confirmations (its Provider is nil when none
	// is configured) and completes sends whose answer was lost.
	Outbound *outbound.Sender
	// Idempotency completes the key of a send whose outcome only Meta's
	// status told (nil: the status completes the message alone).
	Idempotency *idempotency.Store
	Config      Config
	Now         func() time.Time
	// MetricsOut receives the EMF lines (default os.Stdout, which Lambda
	// ships to CloudWatch Logs).
	MetricsOut io.Writer
}

// outcome is what one request did, for the summary log line and the
// response body.
type outcome struct {
	Received   int `json:"received"`
	Duplicates int `json:"duplicates"`
	Ignored    int `json:"ignored"`
	// Replies and ReplyFailures count keyword confirmations (log only).
	Replies       int `json:"-"`
	ReplyFailures int `json:"-"`
	// ConfirmationsIgnored counts double opt-in confirmation buttons that
	// confirmed nothing (log only).
	ConfirmationsIgnored int `json:"-"`
}

// The webhook's fixed refusals. Each is a function, not a value, so that
// every answer gets its own Headers map: concurrent invocations never
// share one (TestResponsesOwnTheirHeaders).
func errUnavailable() httpapi.Response {
	return httpapi.Error(http.StatusServiceUnavailable, "dependency_unavailable", "a dependency is unavailable; retry later")
}

func errForbidden() httpapi.Response {
	return httpapi.Error(http.StatusForbidden, "verification_failed", "verification failed")
}

// Handle routes one API Gateway HTTP API request.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	var out outcome
	resp, err := h.route(ctx, req, &out)
	h.done(ctx, req, resp, out, err)
	return resp, nil
}

func (h *Handler) route(ctx context.Context, req events.APIGatewayV2HTTPRequest, out *outcome) (httpapi.Response, error) {
	blocked, retry, err := h.Flood.Blocked(ctx, req.RequestContext.HTTP.SourceIP)
	if err != nil {
		return errUnavailable(), err
	}
	if blocked {
		return httpapi.RetryAfter(httpapi.Error(http.StatusTooManyRequests, "rate_limited", "too many failed requests from this source"), retry), nil
	}
	switch req.RouteKey {
	case "GET /webhooks/meta":
		return h.verify(ctx, req)
	case "POST /webhooks/meta":
		return h.postMeta(ctx, req, out)
	case "POST /webhooks/signed":
		return h.postSigned(ctx, req, out)
	}
	return httpapi.Error(http.StatusNotFound, "not_found", "no such route"), nil
}

// verify answers Meta's subscription handshake: hub.mode=subscribe and the
// configured verify token (compared in constant time) echo hub.challenge.
func (h *Handler) verify(ctx context.Context, req events.APIGatewayV2HTTPRequest) (httpapi.Response, error) {
	q := req.QueryStringParameters
	sec, err := h.Secrets.Get(ctx, h.Config.MetaSecretID, secrets.StageCurrent)
	if err != nil {
		return errUnavailable(), err
	}
	token := sec.Get("verify_token")
	if !token.Equal([]byte(q["hub.verify_token"])) || q["hub.mode"] != "subscribe" || q["hub.challenge"] == "" {
		return errForbidden(), nil
	}
	return httpapi.Text(http.StatusOK, q["hub.challenge"]), nil
}

// rawBody returns the exact bytes the sender signed, or ok=false when they
// exceed the limit. The size is checked before decoding or any HMAC work.
func (h *Handler) rawBody(req events.APIGatewayV2HTTPRequest) ([]byte, bool) {
	limit := h.Config.MaxBodyBytes
	if !req.IsBase64Encoded {
		return []byte(req.Body), len(req.Body) <= limit
	}
	if base64.StdEncoding.DecodedLen(len(req.Body)) > limit+2 {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, true // undecodable: the signature check refuses it
	}
	return b, len(b) <= limit
}

func errTooLarge() httpapi.Response {
	return httpapi.Error(http.StatusRequestEntityTooLarge, "payload_too_large", "the payload is larger than allowed")
}

// done logs the one summary line of the invocation and flushes metrics.
func (h *Handler) done(ctx context.Context, req events.APIGatewayV2HTTPRequest, resp httpapi.Response, out outcome, err error) {
	summary.Done(ctx, h.Log, h.Metrics, h.MetricsOut, err, "route", req.RouteKey, "status", resp.StatusCode,
		"request_id", req.RequestContext.RequestID, "received", out.Received, "duplicates", out.Duplicates,
		"ignored", out.Ignored, "replies", out.Replies, "reply_failures", out.ReplyFailures,
		"confirmations_ignored", out.ConfirmationsIgnored)
}
