package main

import "strings"

// Keyword is what a whole inbound message means, if anything.
type Keyword int

// The keyword meanings. The zero value is no keyword.
const (
	KeywordNone Keyword = iota
	KeywordStop
	KeywordStart
	KeywordErase
	KeywordHelp
)

// Keywords lists the words of each meaning.
type Keywords struct {
	Stop, Start, Help []string
	// ErasurePhrase is matched as a whole message too.
	ErasurePhrase string
}

// DefaultKeywords are the carrier and Twilio lists, without YES: a reply
// "yes" answers whatever was asked and is no unambiguous opt-in (GDPR
// Art. 4(11)).
func DefaultKeywords(erasurePhrase string) Keywords {
	if erasurePhrase == "" {
		erasurePhrase = "DELETE MY DATA"
	}
	return Keywords{
		Stop:          []string{"STOP", "UNSUBSCRIBE", "STOPALL", "CANCEL", "END", "QUIT", "OPTOUT"},
		Start:         []string{"START", "UNSTOP", "SUBSCRIBE", "OPTIN"},
		Help:          []string{"HELP", "INFO"},
		ErasurePhrase: erasurePhrase,
	}
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
