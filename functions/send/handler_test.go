package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/waguard/waguard/internal/apispec"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/idempotency"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
)

// The unit tests of the handlers: every route over fakes (fakes_test.go),
// without the stack. Each answer is also checked against
// docs/openapi.yaml; the stack tests check the same answers end to end.

// unitTo is a fictional number (NANP 555-01xx).
const unitTo = "+14155550123"

const routeMessages = "POST /v1/messages"

func tmplMsg(purpose string) map[string]any { return template(unitTo, purpose) }

func textMsg(purpose string) map[string]any {
	return map[string]any{"to": unitTo, "purpose": purpose, "text": "hello"}
}

// checkAnswer fails t unless resp is status with code (an error's code,
// or "" for a success) and matches docs/openapi.yaml.
func checkAnswer(t *testing.T, spec *apispec.Spec, route string, resp events.APIGatewayV2HTTPResponse, out map[string]any, status int, code string) {
	t.Helper()
	if resp.StatusCode != status || apispec.Code(out) != code {
		t.Fatalf("%s = %d %s, want %d %q", route, resp.StatusCode, resp.Body, status, code)
	}
	spec.Check(t, route, resp.StatusCode, out, resp.Headers, "Idempotent-Replayed")
	for name, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := resp.Headers[name]; got != want {
			t.Errorf("%s %d %s = %q, want %q", route, resp.StatusCode, name, got, want)
		}
	}
}

// TestRoutes: the route table, the gate's answers and the body's encoding.
func TestRoutes(t *testing.T) {
	spec := apispec.Load(t, "../../docs/openapi.yaml")
	tests := []struct {
		name   string
		route  string
		setup  func(u *unit)
		base64 bool
		body   any
		status int
		code   string
	}{
		{name: "unknown route", route: "DELETE /v1/messages", status: 404, code: "not_found"},
		{name: "unauthenticated", route: routeMessages, body: tmplMsg("marketing"), status: 401, code: "unauthenticated",
			setup: func(u *unit) {
				u.gate.err = &httpapi.Problem{Status: 401, Code: "unauthenticated", Message: "a valid API key is required"}
			}},
		{name: "flooded source", route: "POST /v1/consents/query", body: map[string]string{"phone": unitTo}, status: 429, code: "rate_limited",
			setup: func(u *unit) {
				u.gate.err = &httpapi.Problem{Status: 429, Code: "rate_limited", Message: "too many failed requests from this source", RetryAfter: 30}
			}},
		{name: "insufficient scope", route: routeMessages, body: tmplMsg("marketing"), status: 403, code: "insufficient_scope",
			setup: func(u *unit) { u.gate.principal.Scopes = []apiauth.Scope{apiauth.ScopeConsentsRead} }},
		{name: "read scope cannot write consent", route: "POST /v1/consents", body: map[string]string{}, status: 403, code: "insufficient_scope",
			setup: func(u *unit) { u.gate.principal.Scopes = []apiauth.Scope{apiauth.ScopeConsentsRead} }},
		{name: "send scope cannot read consent", route: "POST /v1/consents/query", body: map[string]string{}, status: 403, code: "insufficient_scope",
			setup: func(u *unit) { u.gate.principal.Scopes = []apiauth.Scope{apiauth.ScopeMessagesSend} }},
		{name: "client secret unreadable", route: routeMessages, body: tmplMsg("marketing"), status: 503, code: "dependency_unavailable",
			setup: func(u *unit) { u.gate.err = errDown }},
		{name: "base64 body", route: "POST /v1/consents/query", base64: true,
			body: base64.StdEncoding.EncodeToString([]byte(`{"phone":"` + unitTo + `"}`)), status: 200},
		{name: "malformed base64 body", route: "POST /v1/consents/query", base64: true, body: "%%%", status: 400, code: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t)
			if tc.setup != nil {
				tc.setup(u)
			}
			resp, out := u.callReq(context.Background(), t, tc.route, tc.body, tc.base64)
			if tc.route == "DELETE /v1/messages" {
				if resp.StatusCode != tc.status || apispec.Code(out) != tc.code {
					t.Fatalf("%s = %d %s, want %d %s", tc.route, resp.StatusCode, resp.Body, tc.status, tc.code)
				}
				return
			}
			checkAnswer(t, spec, tc.route, resp, out, tc.status, tc.code)
			if tc.code == "unauthenticated" && resp.Headers["WWW-Authenticate"] != "Bearer" {
				t.Errorf("401 WWW-Authenticate = %q, want Bearer", resp.Headers["WWW-Authenticate"])
			}
		})
	}
}

// callReq is call with the body marked base64-encoded when b64 is set.
func (u *unit) callReq(ctx context.Context, t *testing.T, route string, body any, b64 bool) (events.APIGatewayV2HTTPResponse, map[string]any) {
	t.Helper()
	if !b64 {
		return u.call(ctx, t, route, body)
	}
	return u.invoke(ctx, t, events.APIGatewayV2HTTPRequest{RouteKey: route, Body: body.(string), IsBase64Encoded: true})
}

// hasTable reports whether u holds an item of table.
func hasTable(u store.Unit, table string) bool {
	for _, it := range u.Items {
		switch {
		case it.Put != nil && aws.ToString(it.Put.TableName) == table,
			it.Update != nil && aws.ToString(it.Update.TableName) == table,
			it.Delete != nil && aws.ToString(it.Delete.TableName) == table:
			return true
		}
	}
	return false
}

// TestRepairs: the queue keeps the newest maxRepairs, retries in order and
// stops at the first failure.
func TestRepairs(t *testing.T) {
	var q repairs
	var ran []int
	fail := map[int]bool{}
	for i := range maxRepairs + 2 {
		q.add(func(context.Context) error {
			if fail[i] {
				return errDown
			}
			ran = append(ran, i)
			return nil
		})
	}
	fail[5] = true
	done, left := q.run(context.Background())
	if done != 3 || left != maxRepairs-3 || !slices.Equal(ran, []int{2, 3, 4}) {
		t.Fatalf("run() = %d, %d ran %v, want 3, %d ran [2 3 4] (the two oldest dropped)", done, left, ran, maxRepairs-3)
	}
	fail[5] = false
	ran = nil
	if done, left := q.run(context.Background()); done != maxRepairs-3 || left != 0 || ran[0] != 5 {
		t.Errorf("run() = %d, %d first %d, want %d, 0 from 5", done, left, ran[0], maxRepairs-3)
	}
	if done, left := q.run(context.Background()); done != 0 || left != 0 {
		t.Errorf("run() of an empty queue = %d, %d, want 0, 0", done, left)
	}
}

// TestProviderAnswer is the provider-answer table (docs/api.md, check 9).
func TestProviderAnswer(t *testing.T) {
	api := func(status, code int) error {
		return fmt.Errorf("send: %w", &whatsapp.APIError{Status: status, Code: code})
	}
	tests := []struct {
		name      string
		err       error
		status    int
		code      string
		transient bool
		stop      bool
	}{
		{"131047", api(400, 131047), 422, "template_required", false, false},
		{"131050", api(400, 131050), 403, "recipient_suppressed", false, true},
		{"131026", api(400, 131026), 422, "undeliverable", false, false},
		{"131049", api(400, 131049), 422, "not_delivered", false, false},
		{"130429", api(400, 130429), 429, "upstream_rate_limited", true, false},
		{"131056", api(400, 131056), 429, "upstream_rate_limited", true, false},
		{"not processed 131000", api(500, 131000), 502, "provider_error", true, false},
		{"permanent 100", api(400, 100), 502, "provider_error", false, false},
		{"proxy 4xx", api(403, 0), 502, "provider_error", false, false},
		{"gateway 502 without a body", api(502, 0), 502, "provider_error", false, false},
		{"timeout", context.DeadlineExceeded, 502, "provider_error", false, false},
		{"unreachable", whatsapp.ErrNotSent, 502, "provider_error", true, false},
		{"invalid message", whatsapp.ErrInvalidMessage, 502, "provider_error", false, false},
		{"credentials", fmt.Errorf("x: %w", provider.ErrCredentials), 503, "dependency_unavailable", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			answer, stop := providerAnswer(tc.err)
			resp := httpapi.ErrorResponse(answer)
			var p *httpapi.Problem
			transient := errors.As(answer, &p) && p.Transient
			if resp.StatusCode != tc.status || apispec.Code(decode(resp.Body)) != tc.code || transient != tc.transient || stop != tc.stop {
				t.Errorf("providerAnswer(%v) = %d %s transient %v stop %v, want %d %s transient %v stop %v", tc.err, resp.StatusCode,
					apispec.Code(decode(resp.Body)), transient, stop, tc.status, tc.code, tc.transient, tc.stop)
			}
		})
	}
}

// downTable is a data table whose every call fails.
type downTable struct{}

func (downTable) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, errDown
}

func (downTable) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, errDown
}

func (downTable) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return nil, errDown
}

// TestIdempotencyKeysNoLease: a failed claim gives no lease as a nil
// interface, not a typed nil the handler would take for a lease.
func TestIdempotencyKeysNoLease(t *testing.T) {
	s, err := idempotency.New(downTable{}, idempotency.Config{Table: "data"})
	if err != nil {
		t.Fatalf("idempotency.New() err = %v", err)
	}
	l, prior, err := idempotencyKeys{s}.Claim(context.Background(), "ops", "order-1", []byte(`{}`))
	if l != nil || prior != nil || !errors.Is(err, errDown) {
		t.Errorf("Claim() = %v, %v, %v, want nil, nil, the table's error", l, prior, err)
	}
}
