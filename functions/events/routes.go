package main

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/summary"
)

// The refusals of the events function's routes.
var (
	errInvalidRequest = &httpapi.Problem{Status: http.StatusBadRequest, Code: "invalid_request", Message: "the request body is not valid"}
	errInvalidPhone   = &httpapi.Problem{Status: http.StatusBadRequest, Code: "invalid_phone", Message: "the phone number is not a valid E.164 number"}
	errNoMessage      = &httpapi.Problem{Status: http.StatusNotFound, Code: "not_found", Message: "no such message"}
)

// api serves an API Gateway request (payload format 2.0) and logs its
// summary line.
func (h *Handler) api(ctx context.Context, raw json.RawMessage) (any, error) {
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return httpapi.ErrorResponse(errInvalidRequest), nil
	}
	resp, err := h.route(ctx, req)
	summary.Done(ctx, h.Log, h.Metrics, h.MetricsOut, err, "route", req.RouteKey, "status", resp.StatusCode,
		"request_id", req.RequestContext.RequestID)
	return resp, nil
}

// route authenticates req for its route's scope and serves it. A
// dependency that failed answers 503 and is returned to be logged.
func (h *Handler) route(ctx context.Context, req events.APIGatewayV2HTTPRequest) (httpapi.Response, error) {
	var serve func(context.Context, events.APIGatewayV2HTTPRequest, apiauth.Principal, []byte) (httpapi.Response, error)
	scope := apiauth.ScopeMessagesRead
	switch req.RouteKey {
	case "GET /v1/messages/{id}":
		serve = h.getMessage
	case "POST /v1/messages/query":
		serve = h.queryMessages
	case "GET /v1/dead-letters":
		scope, serve = apiauth.ScopeEventsManage, h.listDeadLetters
	case "POST /v1/dead-letters/{id}/redrive":
		scope, serve = apiauth.ScopeEventsManage, h.redrive
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
