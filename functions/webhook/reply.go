package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/outbound"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// reply answers a keyword with its configured confirmation, inside the
// service window the message just opened. It is best effort: the inbound
// message and its consent change are already committed, so a failed reply
// is counted and logged (without content) but does not fail the delivery,
// which would only make Meta redeliver a duplicate. The reply goes through
// the outbound protocol like any message (shared/outbound): stored
// encrypted and audited before the provider sees it, never sent twice.
func (h *Handler) reply(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub person, kw Keyword, out *outcome) {
	text, ok := h.Config.Replies[kw]
	if !ok || h.Outbound == nil || h.Outbound.Provider == nil {
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
	id := outbound.NewID()
	_, err := h.Outbound.Send(ctx, &outbound.Message{
		Record: store.Outbound{Subject: sub.index, ID: id, Phone: sub.who.Phone.E164(), UserID: sub.who.User.Reveal(),
			Purpose: retention.ClassSupport, ClientID: "webhook", At: h.now()},
		To: sub.recipient(), Text: &text,
		Audit: audit.Event{Subject: sub.pseudonym, Actor: audit.Actor{Caller: "keyword_reply"}, RequestID: req.RequestContext.RequestID,
			Details: map[string]string{"reason": "keyword_reply"}},
	})
	return err
}
