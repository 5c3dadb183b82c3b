package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/bsuid"
	"github.com/waguard/waguard/shared/identity"
	"github.com/waguard/waguard/shared/outbound"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
	"github.com/waguard/waguard/shared/window"
)

// Confirmation is the optional final message sent before an erasure: a
// free-form text, only inside the 24-hour service window the subject
// opened, or a template, at any time. Neither is sent by default.
type Confirmation struct {
	// Sender sends through the outbound protocol ([outbound.Sender]).
	Sender messageSender
	// Text is sent when the window is open; Template ("name:language")
	// otherwise, or always when Text is empty.
	Text, Template string
}

// due reports whether the confirmation is to be attempted for r: one is
// configured, and r has not started (a request past any step was
// confirmed or skipped before).
func (c *Confirmation) due(r store.ErasureRequest) bool {
	return c != nil && c.Sender != nil && (c.Text != "" || c.Template != "") && r.Step == ""
}

// content is what to send: the text inside the service window, else the
// template, else nothing (ok false).
func (c *Confirmation) content(inWindow bool) (text *string, tmpl *whatsapp.Template, ok bool) {
	switch {
	case c.Text != "" && inWindow:
		t := c.Text
		return &t, nil, true
	case c.Template != "":
		name, lang, _ := strings.Cut(c.Template, ":")
		return nil, &whatsapp.Template{Name: name, Language: lang}, true
	}
	return nil, nil, false
}

// confirmationMessage is the confirmation of request r to the subject at
// to (who as stored), as the outbound protocol records and audits it: a
// transactional message of the caller "erasure", with id.
func confirmationMessage(r store.ErasureRequest, to provider.Recipient, who storedID, id string, at time.Time) *outbound.Message {
	return &outbound.Message{
		Record: store.Outbound{Subject: r.Subject, ID: id, Phone: who.phone, UserID: who.user, Purpose: retention.ClassTransactional,
			ClientID: "erasure", At: at},
		To: to,
		Audit: audit.Event{Subject: r.Pseudonym, Actor: audit.Actor{Caller: "erasure"}, RequestID: r.ID,
			Details: map[string]string{"reason": "erasure_confirmation"}},
	}
}

// confirm sends the final confirmation, best effort: the erasure goes on
// whatever happens, since a failed courtesy message must never keep data.
// The recipient comes from the subject's identifiers or own stored
// messages (the request holds only the blind index); with none there is
// nobody to write to. The message goes through the outbound protocol like
// any other: recorded and audited before the provider sees it (the next
// steps delete the record with everything else). The step is then marked
// whatever the outcome, so a resume after a crash never sends it twice.
func (h *Handler) confirm(ctx context.Context, r *store.ErasureRequest) (bool, error) {
	c := h.Confirm
	if !c.due(*r) {
		return true, nil
	}
	to, who, ok := h.knownRecipient(ctx, r.Subject)
	if !ok {
		return true, nil // no identifier known (or unreadable): skip the courtesy message
	}
	prof, err := h.Store.Profile(ctx, r.Subject)
	text, tmpl, ok := c.content(err == nil && window.Open(prof.LastInbound, h.now()))
	if !ok {
		return true, nil
	}
	m := confirmationMessage(*r, to, who, outbound.NewID(), h.now())
	m.Text, m.Template = text, tmpl
	_, err = c.Sender.Send(ctx, m)
	switch {
	case errors.Is(err, outbound.ErrNoProvider):
		return true, nil // nothing to send with: skipped, as with no sender
	case errors.Is(err, outbound.ErrNotRecorded):
		return false, err // neither recorded nor sent: the resume tries again
	case err != nil:
		h.Log.WarnContext(ctx, "erasure confirmation not sent or not confirmed", "erasure_request", r.ID, "err", err)
	}
	r.Step = stepConfirmed
	return true, h.Store.SetErasureStep(ctx, r.ID, stepConfirmed, h.now())
}

// storedID is the identifier a message was addressed to, as stored.
type storedID struct{ phone, user string }

// knownRecipient finds where to write to the subject: a phone number or
// business-scoped user id attached to them, else the number or user id in
// their live stored messages, page by page (a page may hold only expired
// items, since TTL deletes late, while later ones hold one).
func (h *Handler) knownRecipient(ctx context.Context, subject string) (provider.Recipient, storedID, bool) {
	if ids, err := h.Store.Identifiers(ctx, subject); err == nil {
		if r, who, ok := recipientFromIdentifiers(ids); ok {
			return r, who, true
		}
	}
	cursor := ""
	for range recipientPages { // at most 1,000 items read for a courtesy message
		msgs, next, err := h.Store.Messages(ctx, subject, cursor, recipientPage)
		if err != nil {
			return provider.Recipient{}, storedID{}, false
		}
		if r, who, ok := recipientFromMessages(msgs); ok {
			return r, who, true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return provider.Recipient{}, storedID{}, false
}

// How far knownRecipient reads the stored messages: recipientPages pages
// of recipientPage items.
const (
	recipientPages = 40
	recipientPage  = 25
)

// recipientFromIdentifiers picks the identifier to write to among those
// attached to the subject: a phone number first, else a user id.
func recipientFromIdentifiers(ids []store.Identifier) (provider.Recipient, storedID, bool) {
	for _, kind := range []identity.Kind{identity.KindPhone, identity.KindUser} {
		for _, id := range ids {
			if id.Kind != kind {
				continue
			}
			if r, who, ok := recipientOf(kind, id.Value); ok {
				return r, who, true
			}
		}
	}
	return provider.Recipient{}, storedID{}, false
}

// recipientFromMessages picks the identifier of the first stored message
// that names a readable one: its phone number, else its user id.
func recipientFromMessages(msgs []store.Message) (provider.Recipient, storedID, bool) {
	for _, m := range msgs {
		if r, who, ok := recipientOf(identity.KindPhone, m.Content.Phone); ok {
			return r, who, true
		}
		if r, who, ok := recipientOf(identity.KindUser, m.Content.UserID); ok {
			return r, who, true
		}
	}
	return provider.Recipient{}, storedID{}, false
}

// recipientOf parses a stored identifier of kind.
func recipientOf(kind identity.Kind, v string) (provider.Recipient, storedID, bool) {
	switch kind {
	case identity.KindPhone:
		if n, err := phone.Parse(v); err == nil {
			return provider.ToPhone(n), storedID{phone: n.E164()}, true
		}
	case identity.KindUser:
		if id, err := bsuid.Parse(v); err == nil {
			return provider.ToUser(id), storedID{user: id.Reveal()}, true
		}
	}
	return provider.Recipient{}, storedID{}, false
}
