package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/internal/apispec"
	"github.com/waguard/waguard/shared/store"
)

// The erase routes against fakes: every answer's status and code as
// docs/api.md gives them, and its body and headers as docs/openapi.yaml
// documents them.

const (
	routeErasures = "POST /v1/erasure-requests"
	routeStatus   = "GET /v1/erasure-requests/{id}"
	routeExport   = "POST /v1/exports"
)

// openID is the id of a request a test opens by hand.
const openID = "er_OPENOPENOPENOPENOPENOPEN"

// synthetic numbers and a user id (fictional ranges only).
const (
	num1   = "+14155550123"
	num2   = "+14155550124"
	userID = "US.00000000000000000042"
)

// request is one API call of a test: base64 marks a body API Gateway
// encoded (the test encodes it, or not to test a bad one).
type request struct {
	route, auth, body string
	path              map[string]string
	base64            bool
}

// call serves req as API Gateway would invoke the function and returns
// the status, the decoded body and the headers.
func (f *fixture) call(t testing.TB, req request) (int, map[string]any, map[string]string) {
	t.Helper()
	if req.auth == "" {
		req.auth = "ops"
	}
	body := req.body
	ev := Event{APIGatewayV2HTTPRequest: events.APIGatewayV2HTTPRequest{RouteKey: req.route, Body: body, IsBase64Encoded: req.base64,
		PathParameters: req.path, Headers: map[string]string{"authorization": "Bearer " + req.auth},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-1",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.7"}}}}
	out, err := f.h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handle(%s) err = %v, want an answer", req.route, err)
	}
	resp := out.(events.APIGatewayV2HTTPResponse)
	var m map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &m); err != nil {
		t.Fatalf("Handle(%s) body is not JSON: %v", req.route, err)
	}
	return resp.StatusCode, m, resp.Headers
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestRoutes(t *testing.T) {
	spec := apispec.Load(t, "../../docs/openapi.yaml")
	open := func(fx *fixture) map[string]string { // a request waiting for nothing but the schedule
		r, _ := fx.store.OpenErasure(context.Background(), store.ErasureRequest{ID: openID, Subject: keyOf(num1), Pseudonym: "P",
			Reason: "other", RequestedAt: t0}, store.Unit{})
		return map[string]string{"id": r.ID}
	}
	tests := []struct {
		name   string
		setup  func(fx *fixture) map[string]string // returns the path parameters
		req    request
		status int
		code   string
		check  func(t *testing.T, fx *fixture, out map[string]any)
	}{
		{name: "erasure", req: request{route: routeErasures, body: js(map[string]string{"phone": num1, "reason": "user_request"})}, status: 202,
			check: func(t *testing.T, fx *fixture, out map[string]any) {
				if !strings.HasPrefix(out["id"].(string), "er_") || out["status"] != "completed" || out["due_by"] != "2026-06-03T10:00:00Z" {
					t.Errorf("erasure = %v, want a completed er_ request due in 30 days", out)
				}
			}},
		{name: "erasure by user id", req: request{route: routeErasures, body: js(map[string]string{"user_id": userID, "reason": "other"})}, status: 202},
		{name: "erasure in base64", req: request{route: routeErasures, body: b64(js(map[string]string{"phone": num1, "reason": "other"})), base64: true}, status: 202},
		{name: "erasure flood", req: request{route: routeErasures, auth: "flooded", body: js(map[string]string{"phone": num1, "reason": "other"})}, status: 429, code: "rate_limited"},
		{name: "erasure bad reason", req: request{route: routeErasures, body: js(map[string]string{"phone": num1, "reason": "bored"})}, status: 400, code: "invalid_request"},
		{name: "erasure no reason", req: request{route: routeErasures, body: js(map[string]string{"phone": num1})}, status: 400, code: "invalid_request"},
		{name: "erasure unknown field", req: request{route: routeErasures, body: `{"phone":"` + num1 + `","reason":"other","name":"x"}`}, status: 400, code: "invalid_request"},
		{name: "erasure trailing data", req: request{route: routeErasures, body: js(map[string]string{"phone": num1, "reason": "other"}) + "{}"}, status: 400, code: "invalid_request"},
		{name: "erasure not JSON", req: request{route: routeErasures, body: "phone=" + num1}, status: 400, code: "invalid_request"},
		{name: "erasure invalid phone", req: request{route: routeErasures, body: js(map[string]string{"phone": "0044", "reason": "other"})}, status: 400, code: "invalid_phone"},
		{name: "erasure both identifiers", req: request{route: routeErasures, body: js(map[string]string{"phone": num1, "user_id": userID, "reason": "other"})}, status: 400, code: "invalid_request"},
		{name: "erasure bad user id", req: request{route: routeErasures, body: js(map[string]string{"user_id": "someone", "reason": "other"})}, status: 400, code: "invalid_request"},
		{name: "erasure no key", req: request{route: routeErasures, auth: "nobody", body: js(map[string]string{"phone": num1, "reason": "other"})}, status: 401, code: "unauthenticated"},
		{name: "erasure export-only key", req: request{route: routeErasures, auth: "reader", body: js(map[string]string{"phone": num1, "reason": "other"})}, status: 403, code: "insufficient_scope"},
		{name: "erasure gate down", setup: func(fx *fixture) map[string]string { fx.gate.fail = failOnce("Check", 1, errDown); return nil },
			req: request{route: routeErasures, body: js(map[string]string{"phone": num1, "reason": "other"})}, status: 503, code: "dependency_unavailable"},
		{name: "erasure finder down", setup: func(fx *fixture) map[string]string { fx.finder.fail = failOnce("Find", 1, errDown); return nil },
			req: request{route: routeErasures, body: js(map[string]string{"phone": num1, "reason": "other"})}, status: 503, code: "dependency_unavailable"},
		{name: "erasure store down", setup: func(fx *fixture) map[string]string { fx.store.fail = failOnce("OpenErasure", 1, errDown); return nil },
			req: request{route: routeErasures, body: js(map[string]string{"phone": num1, "reason": "other"})}, status: 503, code: "dependency_unavailable"},
		{name: "erasure already open", setup: func(fx *fixture) map[string]string {
			fx.store.fail = failOnce("ScopeErasure", 1, errDown)
			open(fx)
			return nil
		},
			req: request{route: routeErasures, body: js(map[string]string{"phone": num1, "reason": "other"})}, status: 202,
			check: func(t *testing.T, fx *fixture, out map[string]any) {
				if out["id"] != openID || out["status"] == "completed" {
					t.Errorf("erasure of a subject with an open request = %v, want that request, not completed", out)
				}
			}},
		{name: "status", setup: open, req: request{route: routeStatus}, status: 200,
			check: func(t *testing.T, fx *fixture, out map[string]any) {
				if out["id"] != openID || out["status"] != "pending" || out["reason"] != "other" {
					t.Errorf("status = %v, want the pending request", out)
				}
			}},
		{name: "status unknown", req: request{route: routeStatus, path: map[string]string{"id": "er_UNKNOWN"}}, status: 404, code: "not_found"},
		{name: "status store down", setup: func(fx *fixture) map[string]string {
			fx.store.fail = failOnce("ErasureRequest", 1, errDown)
			return open(fx)
		}, req: request{route: routeStatus}, status: 503, code: "dependency_unavailable"},
		{name: "status bad base64", setup: open, req: request{route: routeStatus, body: "%%%", base64: true}, status: 400, code: "invalid_request"},
		{name: "status erase-less key", setup: open, req: request{route: routeStatus, auth: "reader"}, status: 403, code: "insufficient_scope"},
		{name: "status flood", setup: open, req: request{route: routeStatus, auth: "flooded"}, status: 429, code: "rate_limited"},
		{name: "status no key", setup: open, req: request{route: routeStatus, auth: "nobody"}, status: 401, code: "unauthenticated"},
		{name: "export", req: request{route: routeExport, body: js(map[string]string{"phone": num1})}, status: 200,
			check: func(t *testing.T, fx *fixture, out map[string]any) {
				if out["format"] != ExportFormat || out["next_cursor"] != nil {
					t.Errorf("export = %v, want one %s page", out, ExportFormat)
				}
			}},
		{name: "export by user id", req: request{route: routeExport, auth: "reader", body: js(map[string]string{"user_id": userID})}, status: 200},
		{name: "export bad cursor", req: request{route: routeExport, body: js(map[string]string{"phone": num1, "cursor": "x"})}, status: 400, code: "invalid_request"},
		{name: "export invalid phone", req: request{route: routeExport, body: js(map[string]string{"phone": "+1"})}, status: 400, code: "invalid_phone"},
		{name: "export trailing data", req: request{route: routeExport, body: js(map[string]string{"phone": num1}) + "{}"}, status: 400, code: "invalid_request"},
		{name: "export not base64", req: request{route: routeExport, body: "{}", base64: true}, status: 400, code: "invalid_request"},
		{name: "export flood", req: request{route: routeExport, auth: "flooded", body: js(map[string]string{"phone": num1})}, status: 429, code: "rate_limited"},
		{name: "export no key", req: request{route: routeExport, auth: "nobody", body: js(map[string]string{"phone": num1})}, status: 401, code: "unauthenticated"},
		{name: "export audit down", setup: func(fx *fixture) map[string]string { fx.audit.fail = failOnce("Append", 1, errDown); return nil },
			req: request{route: routeExport, body: js(map[string]string{"phone": num1})}, status: 503, code: "dependency_unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			if tc.setup != nil {
				if path := tc.setup(fx); path != nil {
					tc.req.path = path
				}
			}
			status, out, hdr := fx.call(t, tc.req)
			if status != tc.status || apispec.Code(out) != tc.code {
				t.Fatalf("%s = %d %v, want %d %q", tc.req.route, status, out, tc.status, tc.code)
			}
			spec.Check(t, tc.req.route, status, out, hdr)
			if tc.check != nil {
				tc.check(t, fx, out)
			}
			if strings.Contains(js(out)+fx.logs.String(), "4155550123") {
				t.Errorf("the answer or the log holds the phone number")
			}
		})
	}
}
