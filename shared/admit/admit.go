// Package admit decides whether a message may be sent: the send API's
// checks after validation and before any rate limit or provider call
// (docs/api.md, "Checks, in order", 5 to 7).
//
// # Rule
//
// [Check] applies, in order, and the first that fails decides:
//
//  1. Suppression: nothing goes to an erased person, nor for a purpose
//     that is suppressed (a STOP keyword, the "Stop promotions" button,
//     WhatsApp's marketing setting, Meta's 131050).
//  2. Consent: the purpose needs a live grant ([consent.StateGranted]; a
//     pending or revoked grant is none). A [PurposeSupport] message needs
//     none while the customer service window is open: it answers the
//     person's own message.
//  3. The template rule: free-form text only inside the 24-hour service
//     window (shared/window); outside it, an approved template.
//
// It is a pure function of plain values: the caller reads the person's
// state (shared/store) and maps the verdict to its answer.
//
// # Non-goals
//
// It knows nothing of rate limits, of the provider, or of how consent is
// derived from the ledger (shared/consent decides that).
package admit

import (
	"time"

	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/window"
)

// PurposeSupport is the purpose that needs no consent while the service
// window is open.
const PurposeSupport = "support"

// Verdict is the answer of [Check]. The zero value is [Unknown], which
// admits nothing.
type Verdict int

// The verdicts.
const (
	// Unknown is invalid; never returned by Check.
	Unknown Verdict = iota
	// Admitted: the message may go on to the rate limits.
	Admitted
	// Suppressed: the person was erased or the purpose is suppressed.
	Suppressed
	// ConsentRequired: the purpose has no live grant (and is not support
	// inside the window).
	ConsentRequired
	// TemplateRequired: free-form text outside the service window.
	TemplateRequired
)

var verdictNames = [...]string{
	Unknown:          "unknown",
	Admitted:         "admitted",
	Suppressed:       "suppressed",
	ConsentRequired:  "consent_required",
	TemplateRequired: "template_required",
}

// String names the verdict, or "unknown".
func (v Verdict) String() string {
	if v >= 0 && int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return verdictNames[Unknown]
}

// Recipient is what the rule needs to know of the person, for the
// message's purpose.
type Recipient struct {
	// Erased is set when the person was erased (and has not consented
	// afresh since).
	Erased bool
	// Suppressed is set when the message's purpose is suppressed, for any
	// reason.
	Suppressed bool
	// Consent is the purpose's consent state (shared/consent State:
	// granted, revoked, pending or none).
	Consent string
	// LastInbound is when the person last wrote (zero if never).
	LastInbound time.Time
}

// Message is what the rule needs to know of the message.
type Message struct {
	// Purpose is the message's purpose (marketing, transactional,
	// support, otp).
	Purpose string
	// FreeForm is set for free-form text, clear for a template.
	FreeForm bool
}

// Check decides whether m may be sent to r at now.
func Check(r Recipient, m Message, now time.Time) Verdict {
	if r.Erased || r.Suppressed {
		return Suppressed
	}
	open := window.Open(r.LastInbound, now)
	if r.Consent != consent.StateGranted && !(m.Purpose == PurposeSupport && open) {
		return ConsentRequired
	}
	if m.FreeForm && !open {
		return TemplateRequired
	}
	return Admitted
}
