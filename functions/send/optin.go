package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/ids"
	"github.com/waguard/waguard/shared/notice"
	"github.com/waguard/waguard/shared/outbound"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
	"github.com/waguard/waguard/shared/whatsapp"
)

// confirmWhatsApp is the one way of confirming a grant: the person
// answers a template on WhatsApp.
const confirmWhatsApp = "whatsapp"

// confirmLimitKey is the rate-limit purpose of confirmation templates: a
// caller cannot flood a person with requests for consent. The erasure
// deletes its record with the others (functions/erase rateRecords).
const confirmLimitKey = "consent_confirm"

var errOptInOff = &httpapi.Problem{Status: 400, Code: "invalid_request", Message: "double opt-in is not configured"}

// pendingAnswer is the 202 body of a grant that waits for its
// confirmation. Confirmation is what became of the template: sent,
// failed (nothing was sent: the pending grant expires unanswered), or
// unknown (the provider's answer was lost; it may have been sent).
type pendingAnswer struct {
	ID           string    `json:"id"`
	State        string    `json:"state"`
	ExpiresAt    time.Time `json:"expires_at"`
	Confirmation string    `json:"confirmation"`
	MessageID    string    `json:"message_id"`
}

// requestConsent records a pending grant (double opt-in) and sends the
// confirmation template to the person, with the quick-reply payload that
// names the pending entry (shared/consent.ConfirmPayload). The entry, its
// consent_requested audit event and its consent.changed record commit in
// one transaction before the template is sent through the outbound
// protocol. A pending grant never allows a send; the webhook turns the
// person's answer into the grant.
func (h *Handler) requestConsent(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, r consentRequest, who subject.Who) (httpapi.Response, error) {
	tmpl := h.Config.ConfirmTemplate
	if tmpl.Name == "" {
		return httpapi.Response{}, errOptInOff
	}
	sub, err := h.Subjects.Find(ctx, who)
	if err != nil {
		return httpapi.Response{}, err
	}
	actor := audit.Actor{Caller: p.ClientID}
	if err := h.limit(ctx, audit.Event{Subject: sub.Pseudonym, Actor: actor, RequestID: req.RequestContext.RequestID}, sub.Key, confirmLimitKey); err != nil {
		return httpapi.Response{}, err
	}
	now := h.now()
	id := ids.New("cev_")
	ev := store.ConsentEvent{ID: id, Purpose: r.Purpose, Action: consent.ActionPending, Method: r.Method, PolicyVersion: r.PolicyVersion,
		Actor: p.ClientID, At: now, ConfirmBy: now.Add(h.Config.ConfirmWindow).UTC().Truncate(time.Second)}
	if r.Notice != "" {
		ev.Notice, ev.NoticeSHA256 = r.Notice, notice.ID(r.Notice)
	}
	if r.Evidence != "" {
		ev.Evidence = []byte(r.Evidence)
	}
	u := store.Unit{
		Audit:  []audit.Event{store.ConsentAudit(ev, sub.Pseudonym, actor, req.RequestContext.RequestID)},
		Events: []store.EventRecord{store.ConsentRecord(sub.Key, ev, now)},
	}
	err = h.Store.RecordConsent(ctx, sub.Key, ev, store.SuppressionKeep, "", u)
	if errors.Is(err, store.ErrErased) {
		return httpapi.Response{}, errSubjectErased
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	m := &outbound.Message{Record: store.Outbound{Subject: sub.Key, ID: outbound.NewID(), Phone: who.Phone.E164(), UserID: who.User.Reveal(),
		Purpose: retention.ClassTransactional, ClientID: p.ClientID, At: now},
		To: recipientOf(who), Template: confirmTemplate(tmpl, id),
		Audit: audit.Event{Subject: sub.Pseudonym, Actor: actor, RequestID: req.RequestContext.RequestID,
			Details: map[string]string{"reason": "consent_confirmation", "consent_event": id}}}
	_, err = h.Outbound.Send(ctx, m)
	out := pendingAnswer{ID: id, State: consent.StatePending, ExpiresAt: ev.ConfirmBy, Confirmation: confirmationOutcome(err), MessageID: m.Record.ID}
	if err != nil && out.Confirmation != "sent" {
		h.Log.WarnContext(ctx, "consent confirmation not sent", "consent_event", id, "outcome", out.Confirmation, "err", err)
	}
	return httpapi.JSON(http.StatusAccepted, out), nil
}

// confirmTemplate is t with the quick-reply payload of pending entry id
// on its first button (Meta's documented form of a quick-reply
// parameter).
func confirmTemplate(t whatsapp.Template, id string) *whatsapp.Template {
	c, _ := json.Marshal([]any{map[string]any{"type": "button", "sub_type": "quick_reply", "index": "0",
		"parameters": []any{map[string]string{"type": "payload", "payload": consent.ConfirmPayload(id)}}}})
	t.Components = c
	return &t
}

// confirmationOutcome sorts what the outbound protocol answered: sent
// (also when only its confirmation failed to record), failed (the
// provider's answer or the protocol proves nothing went out) or unknown.
func confirmationOutcome(err error) string {
	switch {
	case err == nil || errors.Is(err, outbound.ErrNotConfirmed):
		return "sent"
	case errors.Is(err, outbound.ErrNotRecorded), errors.Is(err, outbound.ErrNoProvider), errors.Is(err, provider.ErrCredentials),
		whatsapp.Classify(err).NotSent():
		return "failed"
	}
	return "unknown"
}

// recipientOf is where a message to who goes: their number, else their
// business-scoped user id.
func recipientOf(who subject.Who) provider.Recipient {
	if !who.Phone.IsZero() {
		return provider.ToPhone(who.Phone)
	}
	return provider.ToUser(who.User)
}
