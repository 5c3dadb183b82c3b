package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/internal/apispec"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// callFull is call with the response headers, for the spec's header checks.
func (e *env) callFull(t *testing.T, route, key string, body string, path map[string]string) (int, map[string]any, map[string]string) {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{RouteKey: route, Body: body, PathParameters: path, Headers: map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "oas", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.61"}}}
	if key != "" {
		req.Headers["authorization"] = "Bearer " + key
	}
	raw, _ := json.Marshal(req)
	out, err := e.handle(t, raw)
	if err != nil {
		t.Fatalf("Handle() err = %v", err)
	}
	resp := out.(events.APIGatewayV2HTTPResponse)
	var m map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &m)
	return resp.StatusCode, m, resp.Headers
}

// TestOpenAPIResponses checks the erase function's real responses, on the
// local stack, against docs/openapi.yaml: every status it answers is
// documented for the route and every body matches its schema.
func TestOpenAPIResponses(t *testing.T) {
	e := newEnv(t)
	s := apispec.Load(t, "../../docs/openapi.yaml")
	const erasures, status, export = "POST /v1/erasure-requests", "GET /v1/erasure-requests/{id}", "POST /v1/exports"
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	user := newUserID(t)
	withHistory := func(num string) {
		subject := e.subject(t, num)
		l := hex.EncodeToString(randBytes(10))
		id := "msg_" + strings.ToUpper(hex.EncodeToString(randBytes(6)))
		ctx := context.Background()
		if err := e.webhook.Store.PutOutbound(ctx, store.Outbound{Subject: subject, ID: id, Lookup: l, Phone: num, ProviderID: "wamid.o" + l,
			Body: []byte(`{"text":"x"}`), Purpose: retention.ClassTransactional, Status: "accepted", At: time.Now()}, store.Unit{}); err != nil {
			t.Fatal(err)
		}
		for _, st := range []store.Status{{Status: "sent"}, {Status: "failed", ErrorCode: 131026}} {
			st.Lookup, st.At = l, time.Now()
			if err := e.webhook.Store.ApplyStatus(ctx, subject, "msg#out#"+id, st, store.Unit{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		route  string
		setup  func(num string)
		key    string // "" the ops key, "-" none
		body   func(num string) string
		path   func(num string) map[string]string
		status int
		code   string
	}{
		{name: "erasure", route: erasures, setup: func(num string) { e.seed(t, num, 2) },
			body: func(num string) string { return js(map[string]string{"phone": num, "reason": "user_request"}) }, status: 202},
		{name: "erasure bad reason", route: erasures, body: func(num string) string { return js(map[string]string{"phone": num, "reason": "bored"}) },
			status: 400, code: "invalid_request"},
		{name: "erasure invalid phone", route: erasures, body: func(string) string { return js(map[string]string{"phone": "0044", "reason": "other"}) },
			status: 400, code: "invalid_phone"},
		{name: "erasure no key", route: erasures, key: "-", body: func(num string) string { return js(map[string]string{"phone": num, "reason": "other"}) },
			status: 401, code: "unauthenticated"},
		{name: "status", route: status, path: func(num string) map[string]string {
			_, out := e.call(t, erasures, map[string]string{"phone": num, "reason": "contract_end"}, nil)
			return map[string]string{"id": out["id"].(string)}
		}, body: func(string) string { return "" }, status: 200},
		{name: "status unknown", route: status, path: func(string) map[string]string { return map[string]string{"id": "er_UNKNOWN"} },
			body: func(string) string { return "" }, status: 404, code: "not_found"},
		{name: "export", route: export, setup: func(num string) { e.seed(t, num, 2); withHistory(num) },
			body: func(num string) string { return js(map[string]string{"phone": num}) }, status: 200},
		{name: "export by user id", route: export, setup: func(num string) {
			n, _ := phone.Parse(num)
			e.inbound(t, subject.Who{Phone: n, User: user}, "grace.h", "hello")
		}, body: func(string) string { return js(map[string]string{"user_id": user.Reveal()}) }, status: 200},
		{name: "export with both identifiers", route: export, body: func(num string) string {
			return js(map[string]string{"phone": num, "user_id": user.Reveal()})
		}, status: 400, code: "invalid_request"},
		{name: "export unknown number", route: export, body: func(num string) string { return js(map[string]string{"phone": num}) }, status: 200},
		{name: "export bad cursor", route: export, body: func(num string) string { return js(map[string]string{"phone": num, "cursor": "x"}) },
			status: 400, code: "invalid_request"},
		{name: "export trailing data", route: export, body: func(num string) string { return js(map[string]string{"phone": num}) + "{}" },
			status: 400, code: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			num, _ := number(t)
			if tc.setup != nil {
				tc.setup(num)
			}
			var path map[string]string
			if tc.path != nil {
				path = tc.path(num)
			}
			key := e.key
			if tc.key == "-" {
				key = ""
			}
			got, out, hdr := e.callFull(t, tc.route, key, tc.body(num), path)
			if got != tc.status || apispec.Code(out) != tc.code {
				t.Fatalf("%s = %d %v, want %d %q", tc.route, got, out, tc.status, tc.code)
			}
			s.Check(t, tc.route, got, out, hdr)
		})
	}
}

// TestOpenAPISpec checks that every documented response of the erase
// routes has a schema that compiles.
func TestOpenAPISpec(t *testing.T) {
	s := apispec.Load(t, "../../docs/openapi.yaml")
	for _, route := range []string{"POST /v1/erasure-requests", "GET /v1/erasure-requests/{id}", "POST /v1/exports"} {
		s.CheckCompiles(t, route)
	}
}
