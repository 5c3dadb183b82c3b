package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waguard/waguard/internal/apispec"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/notice"
	"github.com/waguard/waguard/shared/ratelimit"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
)

// Unit tests of the consent and notice routes over fakes (fakes_test.go).

const (
	routeConsents = "POST /v1/consents"
	routeQuery    = "POST /v1/consents/query"
	routeNotice   = "GET /v1/notices/{id}"
)

// consentBody is a grant (or revoke) of marketing for unitTo, with more
// fields set or, when "", removed.
func consentBody(action string, more ...string) map[string]string {
	b := map[string]string{"phone": unitTo, "purpose": "marketing", "action": action, "method": "web_form", "policy_version": "2026-01"}
	for i := 0; i+1 < len(more); i += 2 {
		if more[i+1] == "" {
			delete(b, more[i])
		} else {
			b[more[i]] = more[i+1]
		}
	}
	return b
}

// optIn is a setup: double opt-in configured.
func optIn(u *unit) {
	u.h.Config.ConfirmTemplate = whatsapp.Template{Name: "optin_confirm", Language: "en"}
}

// erased is a setup: unitTo was erased.
func erased(u *unit) { u.store.profiles[subjectKey(unitTo)] = store.Profile{Erased: true} }

// TestPostConsent: POST /v1/consents, grants and revokes, and the double
// opt-in's pending grant.
func TestPostConsent(t *testing.T) {
	spec := apispec.Load(t, "../../docs/openapi.yaml")
	const text = "Example Ltd will send you offers on WhatsApp. Reply STOP at any time to opt out."
	tests := []struct {
		name   string
		setup  func(u *unit)
		body   any
		status int
		code   string
		check  func(t *testing.T, u *unit, out map[string]any)
	}{
		{name: "grant", body: consentBody("grant"), status: 201, check: func(t *testing.T, u *unit, out map[string]any) {
			w := onlyWrite(t, u)
			if w.ev.ID != out["id"] || w.ev.Action != store.ActionGrant || w.ev.Actor != "ops" || w.change != store.SuppressionLift ||
				!hasTable(w.unit, liftErasureTable) || len(w.unit.Audit) != 1 || w.unit.Audit[0].Type != audit.EventConsentGranted ||
				len(w.unit.Events) != 1 {
				t.Errorf("grant recorded %+v, want a grant lifting the suppression and the erasure, audited, with its record", w)
			}
		}},
		{name: "grant with a notice and evidence", body: consentBody("grant", "policy_version", "", "notice", text, "evidence", "form 7"), status: 201,
			check: func(t *testing.T, u *unit, _ map[string]any) {
				if w := onlyWrite(t, u); w.ev.Notice != text || w.ev.NoticeSHA256 != notice.ID(text) || string(w.ev.Evidence) != "form 7" {
					t.Errorf("grant recorded notice %q %q evidence %q", w.ev.Notice, w.ev.NoticeSHA256, w.ev.Evidence)
				}
			}},
		{name: "revoke", body: consentBody("revoke", "policy_version", ""), status: 201, check: func(t *testing.T, u *unit, _ map[string]any) {
			if w := onlyWrite(t, u); w.change != store.SuppressionKeep || hasTable(w.unit, liftErasureTable) || w.unit.Audit[0].Type != audit.EventConsentRevoked {
				t.Errorf("revoke recorded %+v, want the suppression kept", w)
			}
		}},
		{name: "grant by user id", body: map[string]string{"user_id": "US.12345678901234567890", "purpose": "otp", "action": "grant",
			"method": "web_form", "policy_version": "2026-01"}, status: 201},
		{name: "grant after an erasure", setup: erased, body: consentBody("grant"), status: 201},
		{name: "revoke after an erasure", setup: erased, body: consentBody("revoke"), status: 409, code: "subject_erased"},
		{name: "grant without notice or policy", body: consentBody("grant", "policy_version", ""), status: 400, code: "invalid_request"},
		{name: "unknown action", body: consentBody("pause"), status: 400, code: "invalid_request"},
		{name: "unknown field", body: consentBody("grant", "email", "x"), status: 400, code: "invalid_request"},
		{name: "malformed JSON", body: `{"phone":`, status: 400, code: "invalid_request"},
		{name: "not E.164", body: consentBody("grant", "phone", "+1 555"), status: 400, code: "invalid_phone"},
		{name: "phone and user id", body: consentBody("grant", "user_id", "US.1234"), status: 400, code: "invalid_request"},
		{name: "person not found", setup: func(u *unit) { u.finder.err = errDown }, body: consentBody("grant"), status: 503, code: "dependency_unavailable"},
		{name: "ledger down", setup: func(u *unit) { u.store.recordErr = errDown }, body: consentBody("grant"), status: 503, code: "dependency_unavailable"},
		// Double opt-in.
		{name: "confirm without a template", body: consentBody("grant", "confirm", "whatsapp"), status: 400, code: "invalid_request"},
		{name: "confirm on a revoke", setup: optIn, body: consentBody("revoke", "confirm", "whatsapp"), status: 400, code: "invalid_request"},
		{name: "pending, sent", setup: optIn, body: consentBody("grant", "confirm", "whatsapp", "notice", text), status: 202,
			check: pending("sent", 1)},
		{name: "pending, template refused", setup: func(u *unit) { optIn(u); u.prov.err = &whatsapp.APIError{Status: 400, Code: 132001} },
			body: consentBody("grant", "confirm", "whatsapp"), status: 202, check: pending("failed", 1)},
		{name: "pending, no answer", setup: func(u *unit) { optIn(u); u.prov.err = context.DeadlineExceeded },
			body: consentBody("grant", "confirm", "whatsapp"), status: 202, check: pending("unknown", 1)},
		{name: "pending, not recorded for the provider", setup: func(u *unit) { optIn(u); u.outbox.putErr = errDown },
			body: consentBody("grant", "confirm", "whatsapp"), status: 202, check: pending("failed", 0)},
		{name: "pending, sent but not confirmed", setup: func(u *unit) { optIn(u); u.outbox.confirmErrs = []error{errDown} },
			body: consentBody("grant", "confirm", "whatsapp"), status: 202, check: pending("sent", 1)},
		{name: "pending for an erased number", setup: func(u *unit) { optIn(u); erased(u) }, body: consentBody("grant", "confirm", "whatsapp"),
			status: 409, code: "subject_erased"},
		{name: "pending, confirmations rate limited", setup: func(u *unit) {
			optIn(u)
			u.limits.refuse = &ratelimit.Decision{RetryAfter: time.Minute, Refused: []ratelimit.Check{{Key: "to-consent_confirm-x"}}}
		}, body: consentBody("grant", "confirm", "whatsapp"), status: 429, code: "rate_limited"},
		{name: "pending, person not found", setup: func(u *unit) { optIn(u); u.finder.err = errDown }, body: consentBody("grant", "confirm", "whatsapp"),
			status: 503, code: "dependency_unavailable"},
		{name: "pending, ledger down", setup: func(u *unit) { optIn(u); u.store.recordErr = errDown }, body: consentBody("grant", "confirm", "whatsapp"),
			status: 503, code: "dependency_unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t)
			if tc.setup != nil {
				tc.setup(u)
			}
			resp, out := u.call(context.Background(), t, routeConsents, tc.body)
			checkAnswer(t, spec, routeConsents, resp, out, tc.status, tc.code)
			if tc.status >= 400 && tc.status != 429 && len(u.store.writes) != 0 {
				t.Errorf("a refused consent request wrote %d ledger entries", len(u.store.writes))
			}
			if tc.check != nil {
				tc.check(t, u, out)
			}
		})
	}
}

// onlyWrite is the one ledger write u holds.
func onlyWrite(t *testing.T, u *unit) recorded {
	t.Helper()
	if len(u.store.writes) != 1 {
		t.Fatalf("ledger writes = %d, want 1", len(u.store.writes))
	}
	return u.store.writes[0]
}

// pending checks a pending grant's answer and writes: the entry with its
// deadline, and the confirmation template with the entry's payload.
func pending(confirmation string, calls int) func(t *testing.T, u *unit, out map[string]any) {
	return func(t *testing.T, u *unit, out map[string]any) {
		w := onlyWrite(t, u)
		if w.ev.Action != consent.ActionPending || w.change != store.SuppressionKeep || !w.ev.ConfirmBy.Equal(unitNow.Add(consent.DefaultConfirmWindow)) {
			t.Errorf("pending grant recorded %+v, want pending until %v", w.ev, unitNow.Add(consent.DefaultConfirmWindow))
		}
		if out["state"] != consent.StatePending || out["confirmation"] != confirmation || out["id"] != w.ev.ID {
			t.Errorf("answer %v, want pending %s for %s", out, confirmation, w.ev.ID)
		}
		if len(u.prov.tmpls) != calls {
			t.Fatalf("templates sent = %d, want %d", len(u.prov.tmpls), calls)
		}
		if calls > 0 && (u.prov.tmpls[0].Name != "optin_confirm" || !strings.Contains(string(u.prov.tmpls[0].Components), consent.ConfirmPayload(w.ev.ID))) {
			t.Errorf("template %+v, want optin_confirm with the entry's payload", u.prov.tmpls[0])
		}
	}
}

// TestQueryConsents: POST /v1/consents/query answers every purpose and the
// ledger, audited before it is answered.
func TestQueryConsents(t *testing.T) {
	spec := apispec.Load(t, "../../docs/openapi.yaml")
	at := unitNow.Add(-time.Hour)
	profile := store.Profile{Suppressed: map[string]string{"support": "stop_keyword"}, Ledger: []store.ConsentEvent{
		{ID: "cev_AAAAAAAAAAAAAAAAAAAAAAAA", Purpose: "marketing", Action: store.ActionGrant, Method: "web_form", PolicyVersion: "2026-01", Actor: "ops", At: at},
		{ID: "cev_BBBBBBBBBBBBBBBBBBBBBBBB", Purpose: "otp", Action: consent.ActionPending, Method: "web_form", NoticeSHA256: notice.ID("n"),
			Actor: "ops", At: at, ConfirmBy: unitNow.Add(time.Hour)},
		{ID: "cev_CCCCCCCCCCCCCCCCCCCCCCCC", Purpose: "transactional", Action: store.ActionRevoke, Method: "whatsapp_keyword", Actor: "webhook", At: at},
	}}
	tests := []struct {
		name   string
		setup  func(u *unit)
		body   any
		status int
		code   string
		want   map[string]string // purpose: state, suppressed
	}{
		{name: "unknown number", body: map[string]string{"phone": unitTo}, status: 200,
			want: map[string]string{"marketing": "none false", "otp": "none false", "support": "none false", "transactional": "none false"}},
		{name: "ledger", setup: func(u *unit) { u.store.profiles[subjectKey(unitTo)] = profile }, body: map[string]string{"phone": unitTo}, status: 200,
			want: map[string]string{"marketing": "granted false", "otp": "pending false", "support": "none true", "transactional": "revoked false"}},
		{name: "erased", setup: erased, body: map[string]string{"phone": unitTo}, status: 200,
			want: map[string]string{"marketing": "none true", "otp": "none true", "support": "none true", "transactional": "none true"}},
		{name: "by user id", body: map[string]string{"user_id": "US.12345678901234567890"}, status: 200,
			want: map[string]string{"marketing": "none false", "otp": "none false", "support": "none false", "transactional": "none false"}},
		{name: "unknown field", body: map[string]string{"phone": unitTo, "purpose": "otp"}, status: 400, code: "invalid_request"},
		{name: "not E.164", body: map[string]string{"phone": "12"}, status: 400, code: "invalid_phone"},
		{name: "no one", body: map[string]string{}, status: 400, code: "invalid_request"},
		{name: "person not found", setup: func(u *unit) { u.finder.err = errDown }, body: map[string]string{"phone": unitTo}, status: 503, code: "dependency_unavailable"},
		{name: "profile unreadable", setup: func(u *unit) { u.store.profileErr = errDown }, body: map[string]string{"phone": unitTo}, status: 503, code: "dependency_unavailable"},
		{name: "access not audited", setup: func(u *unit) { u.audit.err = errDown }, body: map[string]string{"phone": unitTo}, status: 503, code: "dependency_unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t)
			if tc.setup != nil {
				tc.setup(u)
			}
			resp, out := u.call(context.Background(), t, routeQuery, tc.body)
			checkAnswer(t, spec, routeQuery, resp, out, tc.status, tc.code)
			if tc.status != 200 {
				return
			}
			purposes, _ := out["purposes"].(map[string]any)
			got := map[string]string{}
			for p, v := range purposes {
				s := v.(map[string]any)
				got[p] = s["state"].(string) + " " + map[bool]string{true: "true", false: "false"}[s["suppressed"].(bool)]
			}
			if len(got) != len(tc.want) {
				t.Errorf("purposes %v, want %v", got, tc.want)
			}
			for p, w := range tc.want {
				if got[p] != w {
					t.Errorf("purpose %s = %q, want %q", p, got[p], w)
				}
			}
			ledger, _ := out["ledger"].([]any)
			if ev := u.audit.events; len(ev) != 1 || ev[0].Type != audit.EventDataAccess || ev[0].Details["count"] != strconv.Itoa(len(ledger)) {
				t.Errorf("audited %+v, want one data_access counting %d entries", ev, len(ledger))
			}
		})
	}
}

// TestGetNoticeUnit: GET /v1/notices/{id} over fakes.
func TestGetNoticeUnit(t *testing.T) {
	spec := apispec.Load(t, "../../docs/openapi.yaml")
	const text = "Offers from Example Ltd by WhatsApp."
	id := notice.ID(text)
	tests := []struct {
		name   string
		setup  func(u *unit)
		id     string
		status int
		code   string
	}{
		{name: "registered", id: id, status: 200},
		{name: "unknown", id: notice.ID("other"), status: 404, code: "not_found"},
		{name: "malformed", id: "not-a-hash", status: 400, code: "invalid_request"},
		{name: "uppercase", id: "A" + id[1:], status: 400, code: "invalid_request"},
		{name: "store down", setup: func(u *unit) { u.store.noticeErr = errDown }, id: id, status: 503, code: "dependency_unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t)
			u.store.notices[id] = store.Notice{SHA256: id, Text: text, RecordedAt: unitNow}
			if tc.setup != nil {
				tc.setup(u)
			}
			resp, out := u.callPath(context.Background(), t, routeNotice, map[string]string{"id": tc.id})
			checkAnswer(t, spec, routeNotice, resp, out, tc.status, tc.code)
			if tc.status == 200 && (out["text"] != text || out["sha256"] != id) {
				t.Errorf("notice = %v, want its text and id", out)
			}
			if len(u.audit.events) != 0 {
				t.Errorf("reading a notice audited %v, want nothing (not personal data)", u.audit.types())
			}
		})
	}
}

// TestSummaryLine: each invocation logs one summary line with the route,
// status and client (an ERROR line when a dependency failed), and no
// personal data.
func TestSummaryLine(t *testing.T) {
	u := newUnit(t)
	var logs bytes.Buffer
	u.h.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	u.grant(unitTo, "marketing")
	u.call(context.Background(), t, routeMessages, tmplMsg("marketing"))
	u.store.profileErr = errDown
	u.call(context.Background(), t, routeQuery, map[string]string{"phone": unitTo})
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(line, unitTo[2:]) {
			t.Errorf("log line holds the number: %s", line)
		}
		var l struct {
			Level, Route, Client string
			Status               int
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		got = append(got, fmt.Sprintf("%s %s %d %s", l.Level, l.Route, l.Status, l.Client))
	}
	want := []string{"INFO " + routeMessages + " 202 ops", "ERROR " + routeQuery + " 503 ops"}
	if !slices.Equal(got, want) {
		t.Errorf("log lines %q, want %q", got, want)
	}
}
