package main

import (
	"context"
	"strings"
	"testing"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/idempotency"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
)

// Unit tests of POST /v1/messages with an Idempotency-Key, over fakes.

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
