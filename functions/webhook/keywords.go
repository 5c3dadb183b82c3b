package main

import (
	"strings"

	"github.com/waguard/waguard/shared/consent"
)

// Keyword is what a whole inbound message means, if anything.
type Keyword int

// The keyword meanings. The zero value is no keyword.
const (
	KeywordNone Keyword = iota
	KeywordStop
	KeywordStart
	KeywordErase
	KeywordHelp
	// KeywordStopPromotions is a tap on a marketing template's "Stop
	// promotions" quick-reply button (a button message, not text).
	KeywordStopPromotions
	// KeywordConfirm is a tap on a double opt-in confirmation template's
	// button: its payload names a pending grant (shared/consent).
	KeywordConfirm
)

// Keywords lists the words of each meaning.
type Keywords struct {
	Stop, Start, Help []string
	// ErasurePhrase is matched as a whole message too.
	ErasurePhrase string
	// StopPromotions are the labels of Meta's "Stop promotions" button,
	// one per template language the business uses: Meta sends the label as
	// the button's payload and text, translated ("Parar promoções").
	StopPromotions []string
}

// DefaultKeywords are the carrier and Twilio lists, without YES: a reply
// "yes" answers whatever was asked and is no unambiguous opt-in (GDPR
// Art. 4(11)).
func DefaultKeywords(erasurePhrase string) Keywords {
	if erasurePhrase == "" {
		erasurePhrase = "DELETE MY DATA"
	}
	return Keywords{
		Stop:           []string{"STOP", "UNSUBSCRIBE", "STOPALL", "CANCEL", "END", "QUIT", "OPTOUT"},
		Start:          []string{"START", "UNSTOP", "SUBSCRIBE", "OPTIN"},
		Help:           []string{"HELP", "INFO"},
		ErasurePhrase:  erasurePhrase,
		StopPromotions: []string{"Stop promotions"},
	}
}

// MatchButton classifies a quick-reply button message by its payload and
// text: [KeywordConfirm] when the payload is a confirmation's
// (consent.ParseConfirmPayload), [KeywordStopPromotions] when either
// equals a listed label, trimmed and ignoring case. An opt-out is
// honoured however it is labelled: a false match only suppresses
// marketing, which a grant lifts.
func (k Keywords) MatchButton(payload, text string) Keyword {
	if _, ok := consent.ParseConfirmPayload(payload); ok {
		return KeywordConfirm
	}
	for _, label := range k.StopPromotions {
		for _, v := range []string{payload, text} {
			if t := strings.TrimSpace(v); t != "" && strings.EqualFold(t, label) {
				return KeywordStopPromotions
			}
		}
	}
	return KeywordNone
}

// Signal is the consent signal a keyword gives, if any.
func (kw Keyword) Signal() (consent.Signal, bool) {
	switch kw {
	case KeywordStop:
		return consent.KeywordStop, true
	case KeywordStart:
		return consent.KeywordStart, true
	case KeywordStopPromotions:
		return consent.StopPromotions, true
	}
	return 0, false
}

// Match classifies text. A message is a keyword only when, trimmed of
// surrounding whitespace, it equals a listed word or the erasure phrase,
// ignoring case. Nothing else is removed or folded: "stop the order",
// "Stop!" and "Delete my data?" are ordinary messages, because a consent
// change or an erasure must be unambiguous.
func (k Keywords) Match(text string) Keyword {
	t := strings.TrimSpace(text)
	if t == "" {
		return KeywordNone
	}
	if strings.EqualFold(t, k.ErasurePhrase) {
		return KeywordErase
	}
	for _, set := range []struct {
		words []string
		kw    Keyword
	}{{k.Stop, KeywordStop}, {k.Start, KeywordStart}, {k.Help, KeywordHelp}} {
		for _, w := range set.words {
			if strings.EqualFold(t, w) {
				return set.kw
			}
		}
	}
	return KeywordNone
}
