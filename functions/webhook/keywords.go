package main

import (
	"strings"
	"unicode"
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
)

// Keywords lists the words of each meaning, upper-case.
type Keywords struct {
	Stop, Start, Help []string
	// ErasurePhrase is matched as a whole message too (spaces normalised).
	ErasurePhrase string
}

// DefaultKeywords are the carrier and Twilio lists.
func DefaultKeywords(erasurePhrase string) Keywords {
	if erasurePhrase == "" {
		erasurePhrase = "DELETE MY DATA"
	}
	return Keywords{
		Stop:          []string{"STOP", "UNSUBSCRIBE", "STOPALL", "CANCEL", "END", "QUIT", "OPTOUT"},
		Start:         []string{"START", "UNSTOP", "SUBSCRIBE", "OPTIN", "YES"},
		Help:          []string{"HELP", "INFO"},
		ErasurePhrase: erasurePhrase,
	}
}

// Match classifies text: the whole message, trimmed and case-insensitive,
// must be the keyword, so "stop the order" is not an opt-out.
func (k Keywords) Match(text string) Keyword {
	t := normalise(text)
	if t == "" {
		return KeywordNone
	}
	if t == normalise(k.ErasurePhrase) {
		return KeywordErase
	}
	for _, set := range []struct {
		words []string
		kw    Keyword
	}{{k.Stop, KeywordStop}, {k.Start, KeywordStart}, {k.Help, KeywordHelp}} {
		for _, w := range set.words {
			if t == w {
				return set.kw
			}
		}
	}
	return KeywordNone
}

// normalise upper-cases, trims surrounding space and punctuation such as a
// trailing full stop, and folds inner runs of space to one.
func normalise(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) })
	return strings.ToUpper(strings.Join(strings.Fields(s), " "))
}
