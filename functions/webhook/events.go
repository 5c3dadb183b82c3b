package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/consent"
	wgevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/idempotency"
	"github.com/waguard/waguard/shared/ids"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
	"github.com/waguard/waguard/shared/whatsapp"
	"github.com/waguard/waguard/shared/window"
)

// statusGrace is how long a status for a waguard message that cannot be
// found yet is retried (Meta redelivers on a non-200). The send function
// records its message before the provider call, but the by-lookup index
// that finds it by wamid is eventually consistent, and a keyword reply is
// stored just after the provider answered, so a first status can arrive
// before either is visible.
const statusGrace = 5 * time.Minute

// errRetryLater makes the whole delivery fail so that Meta redelivers it.
var errRetryLater = errors.New("status for a message not stored yet")

// retryUnknownStatus decides a status whose message is not found: it is
// retried (the whole delivery answered 503) only while it is younger than
// [statusGrace] and names a waguard message id in its callback data, the
// id every waguard sender gives Meta. Any other status is not about a
// message waguard stores (another tool on the same number, the erasure
// confirmation, which is deliberately not stored) and is acknowledged and
// ignored at once, so it never holds up the rest of the delivery.
func retryUnknownStatus(callbackData string, age time.Duration) bool {
	return messageID(callbackData) && age < statusGrace
}

// process applies every event of a verified delivery. Each event is
// idempotent on its provider id, so a failed delivery can be redelivered
// whole: what was stored is counted as duplicate the second time.
func (h *Handler) process(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string, evs []whatsapp.Event, out *outcome) error {
	for _, ev := range evs {
		if ev.PhoneNumberID != h.Config.PhoneNumberID {
			out.Ignored++
			continue
		}
		var err error
		switch ev.Kind {
		case whatsapp.KindMessage:
			err = h.inbound(ctx, req, caller, ev.Message, out)
		case whatsapp.KindStatus:
			err = h.status(ctx, req, caller, ev.Status, out)
		case whatsapp.KindSystem:
			err = h.system(ctx, req, caller, ev.System, out)
		case whatsapp.KindPreference:
			err = h.preference(ctx, req, caller, ev.Preference, out)
		default:
			out.Ignored++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// inbound stores one inbound message encrypted, with its audit event and
// any keyword's consent change in the same transaction.
func (h *Handler) inbound(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string, m whatsapp.Message, out *outcome) error {
	who := whoOf(m.From, m.FromUserID, m.FromParentUserID)
	if who.Empty() { // neither a number nor a BSUID: nobody to attribute it to
		out.Ignored++
		return nil
	}
	var sub person
	var err error
	for attempt := 0; attempt < 2; attempt++ { // once more after a concurrent identity change
		if sub, err = h.storeInbound(ctx, req, caller, who, m, out); !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	dup := errors.Is(err, store.ErrDuplicate)
	if dup {
		err = nil
	}
	if err != nil || sub.index == "" {
		return err
	}
	kw := h.keywordOf(m)
	if kw == KeywordErase { // idempotent per subject, so also re-run on a redelivery
		if err := h.openErasure(ctx, req, caller, sub); err != nil {
			return err
		}
	}
	if kw != KeywordNone && !dup {
		h.reply(ctx, req, sub, kw, out)
	}
	return nil
}

// storeInbound stores m under the subject its sender's identifiers lead
// to, with its audit events, any keyword's consent change and the
// identity change the message brings, in one transaction. It counts the
// outcome; an erased sender's or a stale message stores nothing (an empty
// person is returned and no error), a redelivery returns the person and
// [store.ErrDuplicate]. [store.ErrConflict] means a concurrent event
// changed the sender's identifiers: find them again.
func (h *Handler) storeInbound(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string, who subject.Who, m whatsapp.Message, out *outcome) (person, error) {
	sub, _, err := h.personOf(ctx, who)
	if err != nil {
		return person{}, err
	}
	actor := audit.Actor{Caller: caller}
	if h.now().Sub(m.Time) > h.Config.Horizon {
		out.Ignored++
		_, err := h.Audit.Append(ctx, audit.Event{Type: audit.EventMessageReceived, Subject: sub.pseudonym, Actor: actor,
			RequestID: req.RequestContext.RequestID, Details: map[string]string{"outcome": "dropped_stale", "type": m.Type}})
		return person{}, err
	}
	lookup := h.Keys.Lookup("wamid", m.ID)
	received := audit.Event{Type: audit.EventMessageReceived, Subject: sub.pseudonym, Actor: actor,
		RequestID: req.RequestContext.RequestID, Details: map[string]string{"type": m.Type, "class": string(h.Config.InboundClass)}}
	kw := h.keywordOf(m)
	changes, ignored, err := h.messageConsent(ctx, sub, lookup, m, kw)
	if err != nil {
		return person{}, err
	}
	extra, auditEvents, err := h.keywordWrites(ctx, sub, lookup, m, changes, received)
	if err != nil {
		return person{}, err
	}
	if link, ok := sub.linkEvent(req, caller, "message"); ok {
		auditEvents = append(auditEvents, link)
	}
	err = h.Store.PutInbound(ctx, store.Inbound{Subject: sub.index, Lookup: lookup, Phone: who.Phone.E164(), UserID: who.User.Reveal(),
		Username: m.Username, ProviderID: m.ID, ProfileName: m.ProfileName, Type: m.Type, Body: messageBody(m), At: m.Time,
		Class: h.Config.InboundClass, Also: sub.keys, Attach: sub.attach},
		store.Unit{Audit: auditEvents, Events: h.inboundEvents(sub, lookup, m, changes), Items: extra})
	switch {
	case errors.Is(err, store.ErrItemCondition) && len(changes) > 0:
		// Another message confirmed the same pending grant meanwhile (its
		// marker exists): read the ledger again.
		return person{}, store.ErrConflict
	case errors.Is(err, store.ErrErased):
		out.Ignored++
		return person{}, nil
	case errors.Is(err, store.ErrDuplicate):
		out.Duplicates++
		sub.attach = store.Attachment{} // a redelivery: the reply and erasure below know it
		return sub, store.ErrDuplicate
	case err != nil:
		return person{}, err
	}
	out.Received++
	h.Metrics.Add(metrics.MessagesReceived, 1)
	if ignored {
		h.ignoredConfirmation(out)
	}
	return sub, nil
}

// keywordOf is what a whole message means: a text keyword, or a
// quick-reply button's stop of promotions.
func (h *Handler) keywordOf(m whatsapp.Message) Keyword {
	switch m.Type {
	case "text":
		return h.Config.Keywords.Match(m.Text)
	case "button":
		return h.Config.Keywords.MatchButton(m.ReplyID, m.ReplyTitle)
	}
	return KeywordNone
}

// inboundEvents are the outbox records of an inbound message and of its
// consent changes, in the order of their audit events (received, then
// one per ledger entry).
func (h *Handler) inboundEvents(sub person, lookup string, m whatsapp.Message, changes []consentChange) []store.EventRecord {
	at := window.Bound(m.Time, h.now())
	out := []store.EventRecord{{Type: wgevents.TypeMessageReceived, Subject: sub.index, MessageSK: "msg#in#" + lookup, At: at,
		Fields: wgevents.Data{Direction: "in", MessageType: m.Type, Purpose: string(h.Config.InboundClass)}}}
	for _, ch := range changes {
		out = append(out, consentRecord(sub.index, ch.id, ch.c, ch.at(at)))
	}
	return out
}

// consentRecord is the consent.changed outbox record of change c.
func consentRecord(subject, id string, c consent.Change, at time.Time) store.EventRecord {
	return store.ConsentRecord(subject, store.Entry(id, c), at)
}

// keywordConsentID is the id of the consent event a message's keyword
// records: derived from the message, so a redelivery can never record a
// second change.
func keywordConsentID(lookup string) string { return "cev_" + lookup[:20] }

// keywordWrites returns the writes and audit events of a message's
// consent changes ([Handler.messageConsent]), for the message's own
// transaction: received first, then one audit event per ledger entry. The
// effect of a keyword or the stop-promotions button does not depend on
// what suppression is held (shared/consent), so nothing is read for them.
func (h *Handler) keywordWrites(ctx context.Context, sub person, lookup string, m whatsapp.Message, changes []consentChange, received audit.Event) ([]types.TransactWriteItem, []audit.Event, error) {
	evs := []audit.Event{received}
	var items []types.TransactWriteItem
	for _, ch := range changes {
		w, err := h.Store.ChangeWrites(ctx, sub.index, store.ConsentEvent{ID: ch.id, Actor: "webhook",
			Evidence: []byte("inbound message " + lookup), At: ch.at(m.Time)}, ch.c)
		if err != nil {
			return nil, nil, err
		}
		items = append(items, w...)
		evs = append(evs, consentAudit(ch.c, ch.id, sub.pseudonym, received.Actor, received.RequestID))
	}
	return items, evs, nil
}

// consentAudit is the audit event of change c recorded as id.
func consentAudit(c consent.Change, id, pseudonym string, actor audit.Actor, requestID string) audit.Event {
	return store.ConsentAudit(store.Entry(id, c), pseudonym, actor, requestID)
}

// openErasure opens (or finds) the subject's erasure request: the signed
// webhook from their own number is the proof of identity.
func (h *Handler) openErasure(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string, sub person) error {
	id := ids.New("er_")
	_, err := h.Store.OpenErasure(ctx, store.ErasureRequest{ID: id, Subject: sub.index, Pseudonym: sub.pseudonym, Reason: "whatsapp_keyword",
		RequestedAt: h.now()}, store.Unit{Audit: []audit.Event{{Type: audit.EventErasureRequested, Subject: sub.pseudonym,
		Actor: audit.Actor{Caller: caller}, RequestID: req.RequestContext.RequestID,
		Details: map[string]string{"erasure_request": id, "reason": "whatsapp_keyword"}}}})
	if errors.Is(err, store.ErrDuplicate) {
		return nil
	}
	return err
}

// status records one provider status for an outbound message.
func (h *Handler) status(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string, s whatsapp.Status, out *outcome) error {
	if h.now().Sub(s.Time) > h.Config.Horizon {
		out.Ignored++
		return nil
	}
	// The recipient's identifiers: a status of a message sent by number
	// also shows the person's BSUID, which links the two.
	p, known, err := h.personOf(ctx, whoOf(s.RecipientID, s.RecipientUserID, s.RecipientParentUserID))
	if err != nil {
		return err
	}
	lookup := h.Keys.Lookup("wamid", s.ID)
	subjectIndex, sk, err := h.Store.FindOutbound(ctx, lookup)
	if errors.Is(err, store.ErrNotFound) && known {
		subjectIndex, sk, err = h.confirmLost(ctx, p, s)
	}
	switch {
	case errors.Is(err, store.ErrNotFound) && retryUnknownStatus(s.CallbackData, h.now().Sub(s.Time)):
		return errRetryLater
	case errors.Is(err, store.ErrNotFound):
		out.Ignored++
		return nil
	case err != nil:
		return err
	}
	details := map[string]string{"status": s.Status}
	if s.ErrorCode != 0 {
		details["error_code"] = strconv.Itoa(s.ErrorCode)
	}
	ev := audit.Event{Type: audit.EventMessageStatus, Subject: p.pseudonym, Actor: audit.Actor{Caller: caller},
		RequestID: req.RequestContext.RequestID, Details: details}
	evs := []audit.Event{ev}
	if link, ok := p.linkEvent(req, caller, "status"); ok {
		evs = append(evs, link)
	}
	status := store.EventRecord{Type: wgevents.TypeMessageStatus, Subject: subjectIndex, MessageSK: sk, At: window.Bound(s.Time, h.now()),
		Fields: wgevents.Data{Direction: "out", Status: s.Status, ErrorCode: s.ErrorCode, MessageID: strings.TrimPrefix(sk, "msg#out#")}}
	for attempt := 0; ; attempt++ {
		u := store.Unit{Audit: evs, Events: []store.EventRecord{status}, Items: p.attach.TransactItems()}
		stopped := s.Status == "failed" && s.ErrorCode == codeStoppedMarketing
		if stopped {
			// Meta refused a marketing message because the person stopped
			// marketing in WhatsApp: the ledger says so, with the status.
			if u, err = h.stoppedMarketing(ctx, req, caller, subjectIndex, p.pseudonym, lookup, s, u); err != nil {
				return err
			}
		}
		err = h.Store.ApplyStatus(ctx, subjectIndex, sk, store.Status{Lookup: lookup, Status: s.Status, ErrorCode: s.ErrorCode, At: s.Time}, u)
		if stopped && errors.Is(err, store.ErrItemCondition) && attempt == 0 {
			continue // the suppression changed since it was read
		}
		break
	}
	switch {
	case errors.Is(err, store.ErrDuplicate):
		out.Duplicates++
	case errors.Is(err, store.ErrErased):
		out.Ignored++ // the subject is being erased: nothing new is kept
	case err != nil:
		return err
	default:
		out.Received++
	}
	return nil
}

// confirmLost handles a status about a message the index does not know:
// if the status carries the send's callback data (its waguard message id)
// and that message is still recorded as sending, the send never recorded
// Meta's answer (DynamoDB failed after Meta accepted it), and the status
// now completes it, with the send's idempotency key when it had one (so a
// retry with the key replays the 202). It returns the message's key, or
// store.ErrNotFound.
func (h *Handler) confirmLost(ctx context.Context, sub person, s whatsapp.Status) (string, string, error) {
	if !messageID(s.CallbackData) {
		return "", "", store.ErrNotFound
	}
	err := h.Outbound.ConfirmLost(ctx, sub.index, s.CallbackData, s.ID, func(m store.Outbound) []types.TransactWriteItem {
		if m.IdempotencyRef == "" || h.Idempotency == nil {
			return nil
		}
		body, _ := json.Marshal(map[string]string{"id": m.ID, "status": "sent"}) // the send's 202, without the wamid
		w, err := h.Idempotency.CompleteLost(m.IdempotencyRef, idempotency.Response{Status: http.StatusAccepted, Body: body})
		if err != nil {
			return nil // not a reference of this table: the message is confirmed alone
		}
		return []types.TransactWriteItem{w}
	})
	if err != nil {
		return "", "", err
	}
	return sub.index, "msg#out#" + s.CallbackData, nil
}

// messageID reports whether v has the shape of a waguard message id:
// "msg_" and 24 characters of base32 ([ids.Valid]).
func messageID(v string) bool { return ids.Valid(v, "msg_") }

// messageBody is what is kept of a message's content: the text, or the
// chosen reply; nothing for media and other types (never downloaded).
func messageBody(m whatsapp.Message) []byte {
	switch {
	case m.Text != "":
		return []byte(m.Text)
	case m.ReplyID != "" || m.ReplyTitle != "":
		return []byte(`{"reply_id":` + strconv.Quote(m.ReplyID) + `,"reply_title":` + strconv.Quote(m.ReplyTitle) + `}`)
	}
	return nil
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
