package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
)

// reply answers a keyword with its configured confirmation, inside the
// service window the message just opened. It is best effort: the inbound
// message and its consent change are already committed, so a failed reply
// is counted and logged (without content) but does not fail the delivery,
// which would only make Meta redeliver a duplicate. A sent reply is
// stored encrypted and audited like any outbound message.
func (h *Handler) reply(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub person, kw Keyword, out *outcome) {
	text, ok := h.Config.Replies[kw]
	if !ok || h.Provider == nil {
		return
	}
	if err := h.sendReply(ctx, req, sub, text); err != nil {
		out.ReplyFailures++
		h.Metrics.Add(metrics.SendRefused, 1)
		h.Log.WarnContext(ctx, "keyword reply failed", "request_id", req.RequestContext.RequestID, "err", err)
		return
	}
	out.Replies++
	h.Metrics.Add(metrics.MessagesSent, 1)
}

func (h *Handler) sendReply(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub person, text string) error {
	id, err := newID("msg_")
	if err != nil {
		return err
	}
	// The id goes to Meta as callback data, so a status that arrives
	// before the reply is stored is retried rather than ignored.
	res, err := h.Provider.SendText(ctx, sub.recipient(), text, whatsapp.WithCallbackData(id))
	if err != nil {
		return err
	}
	actor := audit.Actor{Caller: "keyword_reply"}
	evs := []audit.Event{{Type: audit.EventMessageSent, Subject: sub.pseudonym, Actor: actor, RequestID: req.RequestContext.RequestID,
		Details: map[string]string{"message": id, "purpose": string(retention.ClassSupport), "reason": "keyword_reply"}}}
	if res.UsedFallback {
		evs = append(evs, audit.Event{Type: audit.EventAPIKeyFallbackUsed, Actor: actor, RequestID: req.RequestContext.RequestID,
			Details: map[string]string{"secret": "provider-credentials"}})
	}
	pending, err := h.Audit.Prepare(ctx, evs[0], evs[1:]...)
	if err != nil {
		return err
	}
	err = h.Store.PutOutbound(ctx, store.Outbound{Subject: sub.index, ID: id, Lookup: h.Keys.Lookup("wamid", res.ProviderID),
		Phone: sub.who.Phone.E164(), UserID: sub.who.User.Reveal(), ProviderID: res.ProviderID, Body: []byte(text), Type: store.OutboundText, Purpose: retention.ClassSupport,
		Status: "accepted", ClientID: "webhook", At: h.now()}, pending.TransactItems()...)
	pending.Commit(err)
	return err
}
