package main

import (
	"context"
	"strings"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/bsuid"
	"github.com/waguard/waguard/shared/identity"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
	"github.com/waguard/waguard/shared/window"
)

// Confirmation is the optional final message sent before an erasure: a
// free-form text, only inside the 24-hour service window the subject
// opened, or a template, at any time. Neither is sent by default.
type Confirmation struct {
	Sender *provider.Sender
	// Text is sent when the window is open; Template ("name:language")
	// otherwise, or always when Text is empty.
	Text, Template string
}

// confirm sends the final confirmation, best effort: the erasure goes on
// whatever happens, since a failed courtesy message must never keep data.
// The number comes from the subject's own stored messages (the request
// holds only the blind index); with none there is nobody to write to.
// The message is audited, not stored: the next step would delete it.
func (h *Handler) confirm(ctx context.Context, r *store.ErasureRequest) (bool, error) {
	c := h.Confirm
	if c == nil || c.Sender == nil || (c.Text == "" && c.Template == "") || r.Step != "" {
		return true, nil
	}
	n, ok := h.knownRecipient(ctx, r.Subject)
	if !ok {
		return true, nil // no number known (or unreadable): skip the courtesy message
	}
	prof, err := h.Store.Profile(ctx, r.Subject)
	inWindow := err == nil && window.Open(prof.LastInbound, h.now())
	var res provider.Result
	switch {
	case c.Text != "" && inWindow:
		res, err = c.Sender.SendText(ctx, n, c.Text)
	case c.Template != "":
		name, lang, _ := strings.Cut(c.Template, ":")
		res, err = c.Sender.SendTemplate(ctx, n, whatsapp.Template{Name: name, Language: lang})
	default:
		return true, nil
	}
	if err != nil {
		h.Log.WarnContext(ctx, "erasure confirmation not sent", "erasure_request", r.ID, "err", err)
		return true, nil
	}
	if _, err := h.Audit.Append(ctx, audit.Event{Type: audit.EventMessageSent, Subject: r.Pseudonym, Actor: audit.Actor{Caller: "erasure"},
		RequestID: r.ID, Details: map[string]string{"purpose": "transactional", "reason": "erasure_confirmation",
			"fallback_key": map[bool]string{true: "yes", false: "no"}[res.UsedFallback]}}); err != nil {
		return false, err
	}
	// Recorded, so a resume after a crash never sends it twice.
	r.Step = "confirmed"
	return true, h.Store.SetErasureStep(ctx, r.ID, "confirmed", h.now())
}

// knownRecipient finds where to write to the subject: a phone number or
// business-scoped user id attached to them, else the number or user id in
// their live stored messages, page by page (a page may hold only expired
// items, since TTL deletes late, while later ones hold one).
func (h *Handler) knownRecipient(ctx context.Context, subject string) (provider.Recipient, bool) {
	if ids, err := h.Store.Identifiers(ctx, subject); err == nil {
		for _, kind := range []identity.Kind{identity.KindPhone, identity.KindUser} {
			for _, id := range ids {
				if r, ok := recipientOf(kind, id.Value); ok && id.Kind == kind {
					return r, true
				}
			}
		}
	}
	cursor := ""
	for range 40 { // at most 1,000 items read for a courtesy message
		msgs, next, err := h.Store.Messages(ctx, subject, cursor, 25)
		if err != nil {
			return provider.Recipient{}, false
		}
		for _, m := range msgs {
			if r, ok := recipientOf(identity.KindPhone, m.Content.Phone); ok {
				return r, true
			}
			if r, ok := recipientOf(identity.KindUser, m.Content.UserID); ok {
				return r, true
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return provider.Recipient{}, false
}

// recipientOf parses a stored identifier of kind.
func recipientOf(kind identity.Kind, v string) (provider.Recipient, bool) {
	switch kind {
	case identity.KindPhone:
		n, err := phone.Parse(v)
		return provider.ToPhone(n), err == nil
	case identity.KindUser:
		id, err := bsuid.Parse(v)
		return provider.ToUser(id), err == nil
	}
	return provider.Recipient{}, false
}
