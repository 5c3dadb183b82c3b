package main

import (
	"context"
	"time"

	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/whatsapp"
	"github.com/waguard/waguard/shared/window"
)

// consentChange is one ledger entry an inbound message records, with
// its consent event id.
type consentChange struct {
	id string
	c  consent.Change
	// after, when set, is the time of the pending entry c confirms: the
	// confirmation is dated no earlier, so that the ledger shows it after
	// what it confirms even when Meta's clock is behind ours.
	after time.Time
}

// at is when ch happened, for message time t.
func (ch consentChange) at(t time.Time) time.Time {
	if t.Before(ch.after) {
		return ch.after
	}
	return t
}

// messageConsent returns the ledger entries message m records, in order:
// a keyword's or the Stop promotions button's change, and the grants that
// confirm pending ones (double opt-in). The confirmation button confirms
// the pending grant its payload names, if the sender's own ledger holds
// it and it is still confirmable (shared/consent.Confirmable); START
// confirms the latest confirmable pending grant of each purpose, its own
// marketing grant carrying the marketing one's, so one keyword never
// records two marketing grants. A confirmation's id derives from the
// pending entry: however many taps, redeliveries or keywords confirm it,
// one grant is recorded (the store's marker refuses the others). The
// bool reports a confirmation button that confirmed nothing.
func (h *Handler) messageConsent(ctx context.Context, sub person, lookup string, m whatsapp.Message, kw Keyword) ([]consentChange, bool, error) {
	at := window.Bound(m.Time, h.now())
	switch kw {
	case KeywordConfirm:
		id, _ := consent.ParseConfirmPayload(m.ReplyID)
		prof, err := h.Store.Profile(ctx, sub.index)
		if err != nil {
			return nil, false, err
		}
		p, ok := consent.Confirmable(prof.Entries(), id, at)
		if !ok {
			return nil, true, nil
		}
		return []consentChange{{h.confirmID(p.ID), consent.Confirm(p, consent.MethodConfirm), p.At}}, false, nil
	case KeywordStart:
		prof, err := h.Store.Profile(ctx, sub.index)
		if err != nil {
			return nil, false, err
		}
		out := []consentChange{{id: keywordConsentID(lookup), c: consent.Decide(consent.KeywordStart, "")}}
		for _, p := range consent.ConfirmableAll(prof.Entries(), at) {
			c := consentChange{h.confirmID(p.ID), consent.Confirm(p, consent.MethodKeyword), p.At}
			if p.Purpose == out[0].c.Purpose {
				out[0] = c
				continue
			}
			out = append(out, c)
		}
		return out, false, nil
	}
	if sig, ok := kw.Signal(); ok {
		return []consentChange{{id: keywordConsentID(lookup), c: consent.Decide(sig, "")}}, false, nil
	}
	return nil, false, nil
}

// confirmID is the consent event id of the grant that confirms pending
// entry id.
func (h *Handler) confirmID(pendingID string) string {
	return "cev_" + h.Keys.Lookup("consent-confirm", pendingID)[:20]
}

// ignoredConfirmation counts a confirmation button that confirmed
// nothing: an unknown id, another person's, expired or confirmed before.
// The message is stored as any other.
func (h *Handler) ignoredConfirmation(out *outcome) {
	out.ConfirmationsIgnored++
	h.Metrics.Add(metrics.ConfirmationsIgnored, 1)
}
