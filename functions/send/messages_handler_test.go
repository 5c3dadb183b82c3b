package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waguard/waguard/internal/apispec"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/ratelimit"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
)

// Unit tests of POST /v1/messages over fakes (fakes_test.go).

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
