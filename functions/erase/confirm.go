package main

import (
	"context"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
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
	msgs, _, err := h.Store.Messages(ctx, r.Subject, "", 1)
	if err != nil || len(msgs) == 0 {
		return true, nil //nolint:nilerr // no number known (or unreadable): skip the courtesy message
	}
	n, err := phone.Parse(msgs[0].Content.Phone)
	if err != nil {
		return true, nil //nolint:nilerr // same
	}
	prof, err := h.Store.Profile(ctx, r.Subject)
	inWindow := err == nil && !prof.LastInbound.IsZero() && h.now().Sub(prof.LastInbound) < windowLength
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

// windowLength is WhatsApp's customer service window.
const windowLength = 24 * time.Hour
