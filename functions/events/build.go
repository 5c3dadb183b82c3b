package main

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/identity"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/store"
)

// Metric names of the events function.
const (
	metricDelivered   = metrics.EventDeliveries
	metricDropped     = metrics.EventDeliveriesDropped
	metricDeadLetters = metrics.EventDeadLetters
)

// build turns an event record into its event, without content.
func (h *Handler) build(rec store.EventRecord) (events.Event, error) {
	id, err := events.IDFromAudit(rec.AuditID)
	if err != nil || !rec.Type.Valid() {
		return events.Event{}, events.ErrBadAuditID
	}
	data := rec.Fields
	if rec.Subject != "" {
		data.ContactID = events.ContactID(h.ContactKey, rec.Subject)
	}
	if data.MessageID == "" {
		data.MessageID = messageIDOf(rec.MessageSK)
	}
	return events.Event{ID: id, Type: rec.Type, Time: rec.At.UTC().Truncate(time.Millisecond), Data: data}, nil
}

// messageIDOf is the public id of the message at sk, the one
// GET /v1/messages/{id} reads: an outbound message's own id, an inbound
// message's derived from its lookup (store.InboundMessageID); "" for any
// other key.
func messageIDOf(sk string) string {
	if id, ok := strings.CutPrefix(sk, "msg#out#"); ok {
		return id
	}
	if lookup, ok := strings.CutPrefix(sk, "msg#in#"); ok {
		return store.InboundMessageID(lookup)
	}
	return ""
}

// content reads the personal part of an event, now, from the encrypted
// store: the message's content for message events, the person's
// identifiers otherwise. [store.ErrNotFound] when it is gone.
func (h *Handler) content(ctx context.Context, rec store.EventRecord) (*events.Content, error) {
	if rec.MessageSK != "" {
		c, err := h.Store.ContentAt(ctx, rec.Subject, rec.MessageSK)
		if err != nil {
			return nil, err
		}
		out := &events.Content{Phone: c.Phone, UserID: c.UserID, Username: c.Username, ProfileName: c.ProfileName}
		bodyContent(out, rec.Fields.Direction, c.Body)
		return out, nil
	}
	ids, err := h.Store.Identifiers(ctx, rec.Subject)
	if err != nil {
		return nil, err
	}
	out := &events.Content{}
	for _, id := range ids {
		switch {
		case id.Kind == identity.KindPhone && out.Phone == "":
			out.Phone = id.Value
		case id.Kind == identity.KindUser && out.UserID == "":
			out.UserID = id.Value
		}
	}
	return out, nil
}

// bodyContent files a stored body as the event's text, template or reply:
// an inbound reply is stored as {"reply_id","reply_title"}, an outbound
// template as its request object.
func bodyContent(c *events.Content, direction string, body []byte) {
	var obj map[string]json.RawMessage
	if len(body) == 0 {
		return
	}
	if json.Unmarshal(body, &obj) == nil {
		_, isReply := obj["reply_id"]
		_, isTemplate := obj["name"]
		switch {
		case direction == "in" && isReply:
			var r struct {
				ID    string `json:"reply_id"`
				Title string `json:"reply_title"`
			}
			_ = json.Unmarshal(body, &r)
			c.Reply = &events.ReplyContent{ID: r.ID, Title: r.Title}
			return
		case direction == "out" && isTemplate:
			c.Template = json.RawMessage(body)
			return
		}
	}
	c.Text = string(body)
}
