package main

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
	"github.com/waguard/waguard/shared/window"
)

// codeStoppedMarketing is Meta's error for a marketing message to a
// person who stopped marketing messages in WhatsApp: it arrives in a
// failed status (Meta accepts the send first).
const codeStoppedMarketing = 131050

// preferenceSignal is the consent signal of a user_preferences item:
// only marketing_messages stop and resume are documented.
func preferenceSignal(p whatsapp.Preference) (consent.Signal, bool) {
	if p.Category != whatsapp.CategoryMarketingMessages {
		return 0, false
	}
	switch p.Value {
	case whatsapp.PreferenceStop:
		return consent.PreferenceStop, true
	case whatsapp.PreferenceResume:
		return consent.PreferenceResume, true
	}
	return 0, false
}

// preference records a user's stop or resume of marketing messages in
// WhatsApp's settings: a stop revokes marketing and suppresses it; a
// resume is recorded and lifts only a suppression that setting caused
// (shared/consent). The person may be named by BSUID alone. One that
// names nobody, another category or value, or a stale item is ignored,
// never a reason to refuse the delivery.
func (h *Handler) preference(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string, p whatsapp.Preference, out *outcome) error {
	sig, ok := preferenceSignal(p)
	at := p.Time
	if at.IsZero() {
		at = h.now() // Meta documents a timestamp; a missing one is still an opt-out
	}
	who := whoOf(p.WAID, p.UserID, p.ParentUserID)
	if !ok || who.Empty() || h.now().Sub(at) > h.Config.Horizon {
		out.Ignored++
		return nil
	}
	// One id per person, value and Meta's timestamp (in seconds): a
	// redelivery records nothing new, and neither do two identical items
	// of one second, which nothing tells apart from a redelivery.
	id := "cev_" + h.Keys.Lookup("preference", who.User.Reveal()+"|"+who.Phone.E164()+"|"+p.Value+"|"+strconv.FormatInt(p.Time.Unix(), 10))[:20]
	for attempt := 0; ; attempt++ {
		sub, _, err := h.personOf(ctx, who)
		if err != nil {
			return err
		}
		u := store.Unit{Items: sub.attach.TransactItems()}
		if link, ok := sub.linkEvent(req, caller, "user_preferences"); ok {
			u.Audit = append(u.Audit, link)
		}
		err = h.recordSignal(ctx, req, caller, sub, sig, id, at, []byte("user_preferences "+p.Value), u)
		retry := errors.Is(err, store.ErrSuppressionChanged) || errors.Is(err, store.ErrConflict)
		switch {
		case retry && attempt == 0:
			continue
		case errors.Is(err, store.ErrDuplicate):
			out.Duplicates++
		case errors.Is(err, store.ErrErased):
			out.Ignored++ // nothing new is kept about an erased person
		case err != nil:
			return err
		default:
			out.Received++
		}
		return nil
	}
}

// recordSignal records a signal whose effect depends on the suppression
// held (read first; the store makes the effect conditional on it), as
// its own change with u: the consent audit event and its consent.changed
// record come first.
func (h *Handler) recordSignal(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string, sub person, sig consent.Signal, id string, at time.Time, evidence []byte, u store.Unit) error {
	c, err := h.decide(ctx, sub.index, sig)
	if err != nil {
		return err
	}
	u.Audit = append([]audit.Event{consentAudit(c, id, sub.pseudonym, audit.Actor{Caller: caller}, req.RequestContext.RequestID)}, u.Audit...)
	u.Events = append([]store.EventRecord{consentRecord(sub.index, id, c, window.Bound(at, h.now()))}, u.Events...)
	return h.Store.RecordChange(ctx, sub.index, store.ConsentEvent{ID: id, Actor: "webhook", Evidence: evidence, At: at}, c, u)
}

// decide reads the reason subject's marketing is suppressed for and
// returns what sig does.
func (h *Handler) decide(ctx context.Context, subject string, sig consent.Signal) (consent.Change, error) {
	prof, err := h.Store.Profile(ctx, subject)
	if err != nil {
		return consent.Change{}, err
	}
	return consent.Decide(sig, prof.Suppressed["marketing"]), nil
}

// stoppedMarketing adds to a failed status's unit the marketing revoke
// that Meta's 131050 means, decided on the suppression held now, with
// its audit event and consent.changed record after the status's own (the
// i-th record is keyed by the i-th audit event). Its id derives from the
// status, so a redelivery records nothing new.
func (h *Handler) stoppedMarketing(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string, subject, pseudonym, lookup string, s whatsapp.Status, u store.Unit) (store.Unit, error) {
	c, err := h.decide(ctx, subject, consent.Provider131050)
	if err != nil {
		return store.Unit{}, err
	}
	id := "cev_" + h.Keys.Lookup("status-131050", lookup)[:20]
	items, err := h.Store.ChangeWrites(ctx, subject, store.ConsentEvent{ID: id, Actor: "webhook",
		Evidence: []byte("failed status " + lookup + " error 131050"), At: s.Time}, c)
	if err != nil {
		return store.Unit{}, err
	}
	u.Audit = append(u.Audit[:1:1], append([]audit.Event{consentAudit(c, id, pseudonym, audit.Actor{Caller: caller}, req.RequestContext.RequestID)}, u.Audit[1:]...)...)
	u.Events = append(u.Events, consentRecord(subject, id, c, window.Bound(s.Time, h.now())))
	u.Items = append(u.Items, items...)
	return u, nil
}
