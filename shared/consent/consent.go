// Package consent decides what each consent signal does to a person's
// consent ledger and suppressions: the API's grants and revokes, the
// STOP and START keywords, WhatsApp's own marketing setting
// (user_preferences stop and resume), the "Stop promotions" button of a
// marketing template, and Meta's error 131050 on a send.
//
// # Model
//
// A ledger entry records what happened (a grant, a revoke, or a resume of
// WhatsApp's marketing setting) and never changes. A suppression is the
// send path's hard stop for a purpose, held for one reason. Reasons differ
// in who may lift them:
//
//   - The person's own opt-out to this business (a STOP keyword, the Stop
//     promotions button) is lifted only by a fresh grant (START, or an API
//     grant with its notice).
//   - WhatsApp's marketing setting (a user_preferences stop, or Meta
//     refusing a send with 131050, which reports the same setting) is
//     lifted by that setting's resume as well, because it says nothing
//     about this business once the person turned it back on.
//
// A resume is not consent: Meta's setting is not the business's consent,
// so [State] ignores it and a purpose revoked before stays revoked until
// the person grants again.
//
// [Decide] is the rule, a pure function of the signal and the reason the
// purpose is suppressed for now; shared/store executes it.
package consent

import (
	"slices"

	"github.com/waguard/waguard/shared/audit"
)

// Actions of ledger entries.
const (
	// ActionGrant: the person consented to the purpose.
	ActionGrant = "grant"
	// ActionRevoke: the person withdrew consent.
	ActionRevoke = "revoke"
	// ActionResume: the person resumed marketing messages in WhatsApp's
	// own settings. Recorded, and lifts a suppression that setting
	// caused, but grants nothing.
	ActionResume = "resume"
)

// Methods of ledger entries written by a signal (the API writes its own).
const (
	MethodKeyword     = "whatsapp_keyword"
	MethodPreferences = "whatsapp_preferences"
	MethodButton      = "whatsapp_button"
	MethodProvider    = "provider_131050"
)

// Suppression reasons a signal records.
const (
	ReasonStopKeyword = "stop_keyword"
	ReasonStopButton  = "stop_button"
	ReasonPreferences = "whatsapp_preferences"
	ReasonMeta131050  = "meta_131050"
)

// settingReasons are the reasons that only reflect WhatsApp's marketing
// setting: its resume lifts them, and a signal of that setting may replace
// one of them but not the person's own opt-out.
var settingReasons = []string{ReasonPreferences, ReasonMeta131050}

// Signal is a consent signal that arrives from WhatsApp or the provider.
type Signal int

// The signals.
const (
	// KeywordStop is a STOP keyword (marketing).
	KeywordStop Signal = iota + 1
	// KeywordStart is a START keyword: a fresh marketing grant.
	KeywordStart
	// PreferenceStop is a user_preferences "stop" of marketing messages.
	PreferenceStop
	// PreferenceResume is a user_preferences "resume".
	PreferenceResume
	// StopPromotions is a tap on a marketing template's "Stop promotions"
	// quick-reply button.
	StopPromotions
	// Provider131050 is Meta refusing a marketing send because the user
	// stopped marketing messages (on the send, or in a failed status).
	Provider131050
)

// Effect is what a change does to the purpose's suppression.
type Effect int

// The effects.
const (
	// Keep leaves the suppression as it is.
	Keep Effect = iota
	// Suppress sets the suppression with the change's Reason.
	Suppress
	// Lift removes the suppression, in every partition of the subject.
	Lift
)

// Change is one ledger entry and its effect on the suppression.
type Change struct {
	// Purpose, Action and Method are the ledger entry's.
	Purpose, Action, Method string
	// PolicyVersion is what the entry records as the policy shown: the
	// signal's name, since no policy text was shown, or, on a grant that
	// confirms a pending one, the pending entry's; NoticeSHA256 likewise.
	PolicyVersion, NoticeSHA256 string
	// Confirms is the id of the pending entry a grant confirms ([Confirm]).
	Confirms string
	// Effect and Reason say what happens to the purpose's suppression.
	Effect Effect
	Reason string
	// Over, when not nil, limits the effect to a purpose that is not
	// suppressed or is suppressed for one of these reasons: the store
	// makes it a condition, so a concurrent stronger opt-out wins.
	Over []string
}

// Decide returns what signal s records and does, given the reason the
// marketing suppression is held for now ("" when it is not suppressed).
// Every signal concerns marketing: WhatsApp's setting, the button and
// 131050 are about marketing messages only, and the keywords are
// documented as such (docs/gdpr.md).
func Decide(s Signal, held string) Change {
	c := Change{Purpose: "marketing"}
	weak := held == "" || isSetting(held)
	switch s {
	case KeywordStop:
		c.Action, c.Method, c.Effect, c.Reason = ActionRevoke, MethodKeyword, Suppress, ReasonStopKeyword
	case KeywordStart:
		c.Action, c.Method, c.Effect = ActionGrant, MethodKeyword, Lift
	case StopPromotions:
		c.Action, c.Method, c.Effect, c.Reason = ActionRevoke, MethodButton, Suppress, ReasonStopButton
	case PreferenceStop:
		c.Action, c.Method, c.Reason = ActionRevoke, MethodPreferences, ReasonPreferences
		c.Effect, c.Over = guarded(weak, Suppress)
	case Provider131050:
		c.Action, c.Method, c.Reason = ActionRevoke, MethodProvider, ReasonMeta131050
		c.Effect, c.Over = guarded(weak, Suppress)
	case PreferenceResume:
		c.Action, c.Method = ActionResume, MethodPreferences
		c.Effect, c.Over = guarded(held != "" && isSetting(held), Lift)
	default:
		return Change{}
	}
	c.PolicyVersion = c.Method
	if s == Provider131050 {
		c.PolicyVersion = "provider"
	}
	return c
}

// guarded is e limited to the setting's reasons when applicable, else Keep.
func guarded(applicable bool, e Effect) (Effect, []string) {
	if !applicable {
		return Keep, nil
	}
	return e, settingReasons
}

// isSetting reports whether reason only reflects WhatsApp's setting.
func isSetting(reason string) bool { return slices.Contains(settingReasons, reason) }

// AuditType is the audit event type of a ledger entry with action.
func AuditType(action string) audit.EventType {
	switch action {
	case ActionGrant:
		return audit.EventConsentGranted
	case ActionRevoke:
		return audit.EventConsentRevoked
	case ActionResume:
		return audit.EventConsentResumed
	case ActionPending:
		return audit.EventConsentRequested
	}
	return audit.EventUnknown
}
