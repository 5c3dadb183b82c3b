package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/waguard/waguard/internal/apispec"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/idempotency"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/ratelimit"
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
	req := events.APIGatewayV2HTTPRequest{RouteKey: route, Body: body.(string), IsBase64Encoded: true,
		Headers: map[string]string{"authorization": "Bearer wg_ops_x"}}
	resp, err := u.h.Handle(ctx, req)
	if err != nil {
		t.Fatalf("Handle(%s) err = %v, want a response", route, err)
	}
	return resp, decode(resp.Body)
}

// sendCase is one POST /v1/messages.
type sendCase struct {
	name    string
	setup   func(u *unit)
	body    any // default: a marketing template to unitTo
	headers []string
	status  int
	code    string
	// retryAfter is the Retry-After header wanted ("" none).
	retryAfter string
	// audited lists the audit events written by the handler itself
	// (the outbound protocol's go through the store's unit).
	audited []audit.EventType
	// sent is how many provider calls are wanted.
	sent  int
	check func(t *testing.T, u *unit)
}

func runSends(t *testing.T, tests []sendCase) {
	t.Helper()
	spec := apispec.Load(t, "../../docs/openapi.yaml")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t)
			if tc.setup != nil {
				tc.setup(u)
			}
			body := tc.body
			if body == nil {
				body = tmplMsg("marketing")
			}
			// A deadline as Lambda gives one: the outbound protocol does
			// not back off when less than 2 s are left.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			resp, out := u.call(ctx, t, routeMessages, body, tc.headers...)
			checkAnswer(t, spec, routeMessages, resp, out, tc.status, tc.code)
			if got := resp.Headers["Retry-After"]; got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			if got := u.audit.types(); !slices.Equal(got, tc.audited) {
				t.Errorf("audited %v, want %v", got, tc.audited)
			}
			if u.prov.sends != tc.sent {
				t.Errorf("provider calls = %d, want %d", u.prov.sends, tc.sent)
			}
			if tc.check != nil {
				tc.check(t, u)
			}
		})
	}
}

// granted is a setup: a live marketing grant.
func granted(u *unit) { u.grant(unitTo, "marketing") }

// TestPostMessageValidation: the body, the recipient and the key header
// answer 400 before anything is read.
func TestPostMessageValidation(t *testing.T) {
	long := strings.Repeat("é", 4097)
	var tests []sendCase
	for name, body := range map[string]any{
		"malformed JSON":            `{"to":`,
		"trailing data":             mustString(tmplMsg("marketing")) + `{}`,
		"unknown field":             map[string]any{"to": unitTo, "purpose": "marketing", "text": "hi", "cc": "x"},
		"unknown purpose":           tmplMsg("newsletter"),
		"neither text nor template": map[string]any{"to": unitTo, "purpose": "marketing"},
		"both text and template": map[string]any{"to": unitTo, "purpose": "marketing", "text": "hi",
			"template": map[string]any{"name": "t", "language": "en"}},
		"empty text":            map[string]any{"to": unitTo, "purpose": "marketing", "text": ""},
		"text over 4096 runes":  map[string]any{"to": unitTo, "purpose": "marketing", "text": long},
		"template without name": map[string]any{"to": unitTo, "purpose": "marketing", "template": map[string]any{"language": "en"}},
		"template language too long": map[string]any{"to": unitTo, "purpose": "marketing",
			"template": map[string]any{"name": "t", "language": strings.Repeat("x", 17)}},
		"both to and to_user_id": map[string]any{"to": unitTo, "to_user_id": "US.1234", "purpose": "otp", "text": "hi"},
		"malformed user id":      map[string]any{"to_user_id": "us-1234", "purpose": "otp", "text": "hi"},
		"no recipient":           map[string]any{"purpose": "otp", "text": "hi"},
	} {
		tests = append(tests, sendCase{name: name, body: body, status: 400, code: "invalid_request", setup: granted})
	}
	tests = append(tests,
		sendCase{name: "not E.164", body: map[string]any{"to": "+1 555", "purpose": "otp", "text": "hi"}, status: 400, code: "invalid_phone"},
		sendCase{name: "idempotency key too long", headers: []string{"idempotency-key", strings.Repeat("k", 256)}, setup: granted,
			status: 400, code: "invalid_request", check: func(t *testing.T, u *unit) {
				if u.claims.claims != 0 {
					t.Errorf("claims = %d, want 0", u.claims.claims)
				}
			}},
	)
	runSends(t, tests)
}

func mustString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestPostMessageChecks: checks 5 to 8 of docs/api.md, in order, and the
// 503 of a failed read.
func TestPostMessageChecks(t *testing.T) {
	refused := []audit.EventType{audit.EventMessageSent}
	runSends(t, []sendCase{
		{name: "no consent", status: 403, code: "consent_required", audited: refused, check: refusedFor("consent_required")},
		{name: "revoked", setup: func(u *unit) {
			granted(u)
			p := u.store.profiles[subjectKey(unitTo)]
			p.Ledger = append(p.Ledger, store.ConsentEvent{ID: "cev_revoke", Purpose: "marketing", Action: store.ActionRevoke, At: unitNow.Add(-time.Hour)})
			u.store.profiles[subjectKey(unitTo)] = p
		}, status: 403, code: "consent_required", audited: refused},
		{name: "pending grant", setup: func(u *unit) {
			u.store.profiles[subjectKey(unitTo)] = store.Profile{Ledger: []store.ConsentEvent{{ID: "cev_p", Purpose: "marketing",
				Action: "pending", At: unitNow.Add(-time.Hour), ConfirmBy: unitNow.Add(time.Hour)}}}
		}, status: 403, code: "consent_required", audited: refused},
		{name: "consent for another purpose", setup: func(u *unit) { u.grant(unitTo, "otp") }, status: 403, code: "consent_required", audited: refused},
		{name: "suppressed purpose", setup: func(u *unit) {
			granted(u)
			p := u.store.profiles[subjectKey(unitTo)]
			p.Suppressed = map[string]string{"marketing": "stop_keyword"}
			u.store.profiles[subjectKey(unitTo)] = p
		}, status: 403, code: "recipient_suppressed", audited: refused, check: refusedFor("recipient_suppressed")},
		{name: "erased", setup: func(u *unit) {
			granted(u)
			p := u.store.profiles[subjectKey(unitTo)]
			p.Erased = true
			u.store.profiles[subjectKey(unitTo)] = p
		},
			status: 403, code: "recipient_suppressed", audited: refused},
		{name: "text outside the window", setup: granted, body: textMsg("marketing"), status: 422, code: "template_required"},
		{name: "text in the window", setup: func(u *unit) { granted(u); u.wrote(unitTo, time.Hour) }, body: textMsg("marketing"), status: 202, sent: 1},
		{name: "support in the window needs no consent", setup: func(u *unit) { u.wrote(unitTo, time.Hour) }, body: textMsg("support"), status: 202, sent: 1},
		{name: "support outside the window needs consent", setup: func(u *unit) { u.wrote(unitTo, 25*time.Hour) }, body: textMsg("support"),
			status: 403, code: "consent_required", audited: refused},
		{name: "profile unreadable", setup: func(u *unit) { u.store.profileErr = errDown }, status: 503, code: "dependency_unavailable"},
		{name: "refusal not audited", setup: func(u *unit) { u.audit.err = errDown }, status: 503, code: "dependency_unavailable"},
		{name: "person not found", setup: func(u *unit) { u.finder.err = errDown }, status: 503, code: "dependency_unavailable"},
		{name: "data key unusable", setup: func(u *unit) { granted(u); u.store.readyErr = errDown }, status: 503, code: "dependency_unavailable",
			check: func(t *testing.T, u *unit) {
				if len(u.limits.checks) != 0 {
					t.Errorf("rate limits checked %d times, want none before KMS answers", len(u.limits.checks))
				}
			}},
	})
}

// refusedFor checks the refusal's audit event.
func refusedFor(reason string) func(t *testing.T, u *unit) {
	return func(t *testing.T, u *unit) {
		ev := u.audit.events[0]
		if ev.Details["outcome"] != "refused" || ev.Details["reason"] != reason || ev.Details["purpose"] != "marketing" ||
			ev.Actor.Caller != "ops" || ev.Subject != "ps:"+unitTo || ev.RequestID != "req-unit" {
			t.Errorf("refusal audited as %+v, want refused %s for marketing by ops", ev, reason)
		}
	}
}

// TestPostMessageRateLimits: 429 with Retry-After rounded up, audited
// once per key and window, the limits per purpose and sender.
func TestPostMessageRateLimits(t *testing.T) {
	recipient := ratelimit.Check{Key: "to-marketing-" + subjectKey(unitTo)}
	global := ratelimit.Check{Key: "from-100000000000001"}
	refuse := func(d ratelimit.Decision) func(u *unit) {
		return func(u *unit) { granted(u); u.limits.refuse = &d }
	}
	limitAudited := func(limit string) func(t *testing.T, u *unit) {
		return func(t *testing.T, u *unit) {
			if ev := u.audit.events[0]; ev.Details["limit"] != limit || ev.Details["purpose"] != "marketing" {
				t.Errorf("rate limit audited as %v, want limit %s", ev.Details, limit)
			}
		}
	}
	limited := []audit.EventType{audit.EventRateLimitExceeded}
	runSends(t, []sendCase{
		{name: "recipient limit", setup: refuse(ratelimit.Decision{RetryAfter: 1500 * time.Millisecond, Refused: []ratelimit.Check{recipient}}),
			status: 429, code: "rate_limited", retryAfter: "2", audited: limited, check: limitAudited("recipient")},
		{name: "global limit", setup: refuse(ratelimit.Decision{RetryAfter: time.Second, Refused: []ratelimit.Check{global}}),
			status: 429, code: "rate_limited", retryAfter: "1", audited: limited, check: limitAudited("global")},
		{name: "refused again in the window", setup: refuse(ratelimit.Decision{RetryAfter: 3 * time.Second}),
			status: 429, code: "rate_limited", retryAfter: "3"},
		{name: "limiter down", setup: func(u *unit) { granted(u); u.limits.err = errDown }, status: 503, code: "dependency_unavailable"},
		{name: "refusal marks down", setup: func(u *unit) {
			refuse(ratelimit.Decision{RetryAfter: time.Second, Refused: []ratelimit.Check{recipient}})(u)
			u.limits.refusalsErr = errDown
		}, status: 503, code: "dependency_unavailable"},
		{name: "refusal not audited", setup: func(u *unit) {
			refuse(ratelimit.Decision{RetryAfter: time.Second, Refused: []ratelimit.Check{recipient}})(u)
			u.audit.err = errDown
		}, status: 503, code: "dependency_unavailable"},
		{name: "otp limit", setup: func(u *unit) { u.grant(unitTo, "otp") }, body: tmplMsg("otp"), status: 202, sent: 1,
			check: func(t *testing.T, u *unit) {
				want := []ratelimit.Check{{Key: "to-otp-" + subjectKey(unitTo), Limit: ratelimit.Limit{Count: 5, Per: 15 * time.Minute}},
					{Key: "from-100000000000001", Limit: ratelimit.Limit{Count: 80, Per: time.Second}}}
				if !slices.Equal(u.limits.checks, want) {
					t.Errorf("limits checked %v, want %v", u.limits.checks, want)
				}
			}},
	})
}

// TestPostMessageProvider: the provider-answer table as the handler
// answers it, with the message withdrawn when nothing was sent.
func TestPostMessageProvider(t *testing.T) {
	fails := func(err error) func(u *unit) {
		return func(u *unit) { granted(u); u.prov.err = err }
	}
	withdrawn := func(want bool) func(t *testing.T, u *unit) {
		return func(t *testing.T, u *unit) {
			if got := len(u.outbox.withdrawn) == 1; got != want {
				t.Errorf("withdrawn %v, want withdrawn %v", u.outbox.withdrawn, want)
			}
			if len(u.outbox.intents) != 1 {
				t.Errorf("intents %d, want 1 recorded before the provider call", len(u.outbox.intents))
			}
		}
	}
	api := func(status, code int) error { return &whatsapp.APIError{Status: status, Code: code} }
	runSends(t, []sendCase{
		{name: "accepted", setup: granted, status: 202, sent: 1, check: func(t *testing.T, u *unit) {
			if len(u.outbox.intents) != 1 || len(u.outbox.confirms) != 1 || len(u.outbox.withdrawn) != 0 {
				t.Errorf("intents %d confirms %d withdrawn %d, want 1 1 0", len(u.outbox.intents), len(u.outbox.confirms), len(u.outbox.withdrawn))
			}
			m := u.outbox.intents[0]
			if m.Subject != subjectKey(unitTo) || m.ClientID != "ops" || m.Purpose != "marketing" || m.Type != store.OutboundTemplate || m.IdempotencyRef != "" {
				t.Errorf("intent recorded %+v", m)
			}
		}},
		{name: "131047 window closed", setup: fails(api(400, 131047)), status: 422, code: "template_required", sent: 1, check: withdrawn(true)},
		{name: "131026 undeliverable", setup: fails(api(400, 131026)), status: 422, code: "undeliverable", sent: 1, check: withdrawn(true)},
		{name: "131049 marketing limit", setup: fails(api(400, 131049)), status: 422, code: "not_delivered", sent: 1, check: withdrawn(true)},
		{name: "130429 throughput", setup: fails(api(400, 130429)), status: 429, code: "upstream_rate_limited", retryAfter: "60", sent: 1, check: withdrawn(true)},
		{name: "131056 pair rate limit", setup: fails(api(400, 131056)), status: 429, code: "upstream_rate_limited", retryAfter: "60", sent: 1},
		{name: "other Meta error", setup: fails(api(400, 100)), status: 502, code: "provider_error", sent: 1, check: withdrawn(true)},
		{name: "no answer", setup: fails(context.DeadlineExceeded), status: 502, code: "provider_error", sent: 1, check: withdrawn(false)},
		{name: "5xx without Meta's body", setup: fails(api(502, 0)), status: 502, code: "provider_error", sent: 1, check: withdrawn(false)},
		{name: "unreachable", setup: fails(whatsapp.ErrNotSent), status: 502, code: "provider_error", sent: 1, check: withdrawn(true)},
		{name: "invalid message", setup: fails(whatsapp.ErrInvalidMessage), status: 502, code: "provider_error", sent: 1, check: withdrawn(true)},
		{name: "credentials unreadable", setup: fails(fmt.Errorf("read token: %w", provider.ErrCredentials)), status: 503, code: "dependency_unavailable",
			sent: 1, check: withdrawn(true)},
		{name: "withdrawal fails", setup: func(u *unit) { fails(api(400, 131026))(u); u.outbox.withdrawErr = errDown }, status: 503,
			code: "dependency_unavailable", sent: 1},
		{name: "intent not recorded", setup: func(u *unit) { granted(u); u.outbox.putErr = errDown }, status: 503, code: "dependency_unavailable"},
		{name: "erased before the intent", setup: func(u *unit) { granted(u); u.outbox.putErr = store.ErrErased }, status: 403, code: "recipient_suppressed"},
		{name: "131050 stops marketing", setup: fails(api(400, 131050)), status: 403, code: "recipient_suppressed", sent: 1,
			check: stoppedMarketing(1)},
		{name: "131050 retried once on a changed suppression", setup: func(u *unit) {
			fails(api(400, 131050))(u)
			u.store.changeErrs = []error{store.ErrSuppressionChanged}
		}, status: 403, code: "recipient_suppressed", sent: 1, check: stoppedMarketing(1)},
		{name: "131050 twice changed", setup: func(u *unit) {
			fails(api(400, 131050))(u)
			u.store.changeErrs = []error{store.ErrSuppressionChanged, store.ErrSuppressionChanged}
		}, status: 503, code: "dependency_unavailable", sent: 1},
		{name: "131050 after an erasure", setup: func(u *unit) {
			fails(api(400, 131050))(u)
			u.store.changeErrs = []error{store.ErrErased}
		}, status: 403, code: "recipient_suppressed", sent: 1, check: stoppedMarketing(0)},
		{name: "131050 revocation fails", setup: func(u *unit) {
			fails(api(400, 131050))(u)
			u.store.changeErrs = []error{errDown}
		}, status: 503, code: "dependency_unavailable", sent: 1},
	})
}

// stoppedMarketing checks that Meta's 131050 was recorded as n marketing
// revocations with their audit event and consent.changed record.
func stoppedMarketing(n int) func(t *testing.T, u *unit) {
	return func(t *testing.T, u *unit) {
		if len(u.store.writes) != n {
			t.Fatalf("ledger writes = %d, want %d", len(u.store.writes), n)
		}
		if n == 0 {
			return
		}
		w := u.store.writes[0]
		if w.ev.Purpose != "marketing" || w.ev.Action != store.ActionRevoke || w.ev.Actor != "send" || len(w.unit.Audit) != 1 || len(w.unit.Events) != 1 {
			t.Errorf("131050 recorded %+v, want a marketing revoke by send, audited", w)
		}
		if _, ok := u.store.profiles[subjectKey(unitTo)].Suppressed["marketing"]; !ok {
			t.Errorf("marketing not suppressed after 131050")
		}
	}
}

// TestPostMessageIdempotency: the Idempotency-Key cases of docs/api.md.
func TestPostMessageIdempotency(t *testing.T) {
	key := []string{"idempotency-key", "order-42"}
	lease := func(check func(t *testing.T, l *fakeLease)) func(t *testing.T, u *unit) {
		return func(t *testing.T, u *unit) {
			if u.claims.lease == nil {
				t.Fatal("no lease claimed")
			}
			check(t, u.claims.lease)
		}
	}
	completedWith := func(status int) func(t *testing.T, u *unit) {
		return lease(func(t *testing.T, l *fakeLease) {
			if l.completed == nil || l.completed.Status != status || l.released {
				t.Errorf("lease completed %+v released %v, want completed with %d", l.completed, l.released, status)
			}
		})
	}
	released := lease(func(t *testing.T, l *fakeLease) {
		if !l.released || l.completed != nil {
			t.Errorf("lease released %v completed %+v, want released", l.released, l.completed)
		}
	})
	withLease := func(l *fakeLease) func(u *unit) { return func(u *unit) { granted(u); u.claims.lease = l } }
	replay := func(r idempotency.Response) func(u *unit) { return func(u *unit) { granted(u); u.claims.prior = &r } }
	sentBody := []byte(`{"id":"` + replayID + `","status":"sent"}`)
	runSends(t, []sendCase{
		{name: "conflict", headers: key, setup: func(u *unit) { u.claims.err = idempotency.ErrConflict }, status: 409, code: "idempotency_conflict"},
		{name: "in progress", headers: key, setup: func(u *unit) { u.claims.err = idempotency.ErrInProgress }, status: 409, code: "request_in_progress"},
		{name: "claim fails", headers: key, setup: func(u *unit) { u.claims.err = errDown }, status: 503, code: "dependency_unavailable"},
		{name: "sent with a key", headers: key, setup: granted, status: 202, sent: 1, check: func(t *testing.T, u *unit) {
			if m := u.outbox.intents[0]; m.IdempotencyRef != "idem#fake" {
				t.Errorf("intent IdempotencyRef = %q, want the lease's", m.IdempotencyRef)
			}
			if !hasTable(u.outbox.units[0], leaseTable) || !hasTable(u.outbox.confirms[0], leaseTable) {
				t.Errorf("the key's mark and completion are not in the intent's and confirmation's transactions")
			}
			if l := u.claims.lease; l.completed != nil || l.released {
				t.Errorf("lease completed %+v released %v, want ended by the confirmation's transaction", l.completed, l.released)
			}
		}},
		{name: "decided refusal replayed", headers: key, status: 403, code: "consent_required", audited: []audit.EventType{audit.EventMessageSent},
			check: completedWith(403)},
		{name: "decided refusal, completion fails", headers: key, setup: func(u *unit) { u.claims.lease = &fakeLease{completeErr: errDown} },
			status: 403, code: "consent_required", audited: []audit.EventType{audit.EventMessageSent}},
		{name: "unknown outcome kept", headers: key, setup: func(u *unit) { granted(u); u.prov.err = context.DeadlineExceeded },
			status: 502, code: "provider_error", sent: 1, check: completedWith(502)},
		{name: "transient refusal frees the key", headers: key, setup: func(u *unit) { granted(u); u.prov.err = &whatsapp.APIError{Status: 400, Code: 130429} },
			status: 429, code: "upstream_rate_limited", retryAfter: "60", sent: 1, check: released},
		{name: "503 frees the key", headers: key, setup: func(u *unit) { u.store.profileErr = errDown }, status: 503, code: "dependency_unavailable",
			check: released},
		{name: "release fails", headers: key, setup: func(u *unit) { u.store.profileErr = errDown; u.claims.lease = &fakeLease{releaseErr: errDown} },
			status: 503, code: "dependency_unavailable"},
		{name: "mark fails", headers: key, setup: withLease(&fakeLease{irrevErr: errDown}), status: 503, code: "dependency_unavailable", check: released},
		{name: "completion write fails after the send", headers: key, setup: withLease(&fakeLease{doneErr: errDown}), status: 202, sent: 1,
			check: func(t *testing.T, u *unit) {
				if len(u.outbox.confirms) != 0 {
					t.Errorf("confirmed %d times, want none (logged; Meta's status confirms it)", len(u.outbox.confirms))
				}
			}},
		{name: "replayed refusal", headers: key, setup: replay(storable(httpapi.ErrorResponse(errConsentRequired))),
			status: 403, code: "consent_required"},
		{name: "replayed rate limit", headers: key, setup: replay(storable(httpapi.ErrorResponse(&httpapi.Problem{Status: 429, Code: "rate_limited",
			Message: "the rate limit for this recipient or sender is reached", RetryAfter: 7}))), status: 429, code: "rate_limited", retryAfter: "7"},
		// The lost outcome is stored at the point of no return, status and
		// body only (idempotency.Lease.Irreversible keeps no headers).
		{name: "replayed lost outcome", headers: key, setup: replay(idempotency.Response{Status: 502, Body: storable(httpapi.ErrorResponse(errOutcomeUnknown)).Body}),
			status: 502, code: "provider_error"},
		{name: "replayed 202 with the provider id", headers: key, setup: func(u *unit) {
			replay(idempotency.Response{Status: 202, Body: sentBody})(u)
			u.store.contents[replayID] = store.Content{ProviderID: "wamid.replayed"}
		}, status: 202, check: replayed("wamid.replayed")},
		{name: "replayed 202 of an erased message", headers: key, setup: replay(idempotency.Response{Status: 202, Body: sentBody}),
			status: 202, check: replayed("")},
		{name: "replayed 202, message unreadable", headers: key, setup: func(u *unit) {
			replay(idempotency.Response{Status: 202, Body: sentBody})(u)
			u.store.contentErr = errDown
		}, status: 503, code: "dependency_unavailable"},
		{name: "replayed 202, person not found", headers: key, setup: func(u *unit) {
			replay(idempotency.Response{Status: 202, Body: sentBody})(u)
			u.finder.err = errDown
		}, status: 503, code: "dependency_unavailable"},
		{name: "replayed 202, body corrupt", headers: key, setup: replay(idempotency.Response{Status: 202, Body: []byte("{")}),
			status: 503, code: "dependency_unavailable"},
	})
}

// replayID is the message id of a replayed 202.
const replayID = "msg_AAAAAAAAAAAAAAAAAAAAAAAA"

// replayed checks a replayed 202.
func replayed(providerID string) func(t *testing.T, u *unit) {
	return func(t *testing.T, u *unit) {
		if u.prov.sends != 0 || len(u.outbox.intents) != 0 {
			t.Errorf("a replay sent or recorded a message")
		}
		if got, _ := u.lastOut["provider_message_id"].(string); got != providerID || u.lastHeaders["Idempotent-Replayed"] != "true" || u.lastOut["id"] != replayID {
			t.Errorf("replayed %v %v, want the stored id with provider id %q, Idempotent-Replayed", u.lastOut, u.lastHeaders, providerID)
		}
	}
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

// TestReplayedAnswer: a replayed 202 restores the provider id and says it
// is replayed; the stored record never holds the provider id.
func TestReplayedAnswer(t *testing.T) {
	u := newUnit(t)
	granted(u)
	ctx := context.Background()
	resp, out := u.call(ctx, t, routeMessages, tmplMsg("marketing"), "idempotency-key", "order-7")
	if resp.StatusCode != 202 || out["provider_message_id"] != "wamid.fake" {
		t.Fatalf("first send = %d %s, want 202 with the provider id", resp.StatusCode, resp.Body)
	}
	// The 202 as storable keeps the ids only.
	stored := storable(resp)
	if strings.Contains(string(stored.Body), "wamid") {
		t.Errorf("stored answer %s holds the provider message id", stored.Body)
	}
	u.claims.prior, u.claims.lease = &stored, nil
	u.store.contents[out["id"].(string)] = store.Content{ProviderID: "wamid.fake"}
	again, out2 := u.call(ctx, t, routeMessages, tmplMsg("marketing"), "idempotency-key", "order-7")
	if again.StatusCode != 202 || again.Headers["Idempotent-Replayed"] != "true" || out2["id"] != out["id"] || out2["provider_message_id"] != "wamid.fake" {
		t.Errorf("replay = %d %v %s, want the first 202, replayed", again.StatusCode, again.Headers, again.Body)
	}
	if u.prov.sends != 1 {
		t.Errorf("provider calls = %d, want 1", u.prov.sends)
	}
}

// TestConfirmationRepaired: a message the provider accepted while
// DynamoDB failed still answers 202; its confirmation is retried at the
// start of the instance's next invocations until it commits.
func TestConfirmationRepaired(t *testing.T) {
	u := newUnit(t)
	granted(u)
	ctx := context.Background()
	u.outbox.confirmErrs = []error{errDown, errDown}
	if resp, _ := u.call(ctx, t, routeMessages, tmplMsg("marketing")); resp.StatusCode != 202 {
		t.Fatalf("send with DynamoDB failing after the provider = %d %s, want 202", resp.StatusCode, resp.Body)
	}
	if len(u.outbox.confirms) != 0 {
		t.Fatalf("confirmed %d, want 0", len(u.outbox.confirms))
	}
	u.call(ctx, t, "POST /v1/consents/query", map[string]string{"phone": unitTo}) // repair still failing
	if len(u.outbox.confirms) != 0 {
		t.Fatalf("confirmed %d while DynamoDB fails, want 0", len(u.outbox.confirms))
	}
	u.call(ctx, t, "POST /v1/consents/query", map[string]string{"phone": unitTo})
	if len(u.outbox.confirms) != 1 {
		t.Fatalf("confirmed %d after DynamoDB recovered, want 1", len(u.outbox.confirms))
	}
}

// TestConfirmationSettledElsewhere: a confirmation that finds the message
// no longer sending (erased, or confirmed by Meta's status) completes the
// key with the 202 on its own.
func TestConfirmationSettledElsewhere(t *testing.T) {
	u := newUnit(t)
	granted(u)
	u.outbox.confirmErrs = []error{store.ErrNotFound}
	resp, _ := u.call(context.Background(), t, routeMessages, tmplMsg("marketing"), "idempotency-key", "order-9")
	if resp.StatusCode != 202 {
		t.Fatalf("send = %d %s, want 202", resp.StatusCode, resp.Body)
	}
	if l := u.claims.lease; l.completed == nil || l.completed.Status != 202 {
		t.Errorf("lease completed %+v, want the 202", l.completed)
	}
	u.claims.lease, u.outbox.confirmErrs = &fakeLease{completeErr: errDown}, []error{store.ErrNotFound}
	if resp, _ := u.call(context.Background(), t, routeMessages, tmplMsg("marketing"), "idempotency-key", "order-10"); resp.StatusCode != 202 {
		t.Errorf("send with the key already settled = %d, want 202", resp.StatusCode)
	}
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
