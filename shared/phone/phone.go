// Package phone parses and normalises phone numbers to E.164, the one
// canonical form waguard stores, indexes and messages.
//
// A [Number] is produced only by [Parse] (E.164 text from API clients) or
// [ParseWAID] (the digit-only wa_id WhatsApp reports), and always holds a
// number that github.com/nyaruka/phonenumbers (a port of Google's
// libphonenumber) considers valid, not merely parseable.
//
// # Accepted input
//
// [Parse] requires a leading '+' and a country calling code: waguard serves
// many countries and never guesses a default region. After the '+' only ASCII
// digits and the separators space, '-', '.', '(' and ')' are allowed, so
// "+44 (0)20 7946 0123" parses but vanity letters ("+1-800-FLOWERS"),
// extensions ("ext. 12"), tel: URIs and non-ASCII digits are rejected.
// [ParseWAID] accepts ASCII digits only, without the '+'.
//
// Numbers must pass phonenumbers.IsValidNumber, not just parse: an invalid
// number cannot be reached on WhatsApp, and accepting one would create a
// data subject keyed by a number nobody owns. They must also have at most
// 15 digits, the E.164 limit (libphonenumber accepts a few longer German
// numbers). The cost is that a range allocated after the
// phonenumbers metadata was built is refused until the dependency is updated.
// Note that libphonenumber treats some ranges reserved for fiction as
// invalid (the UK's 07700 900xxx); tests use ranges it accepts, such as
// +44 20 7946 0xxx, +1 NXX 555 01xx and +33 1 99 00 xx xx.
//
// # Legacy forms
//
// WhatsApp still reports some numbers in a historical form that
// libphonenumber rejects. So that a person has exactly one blind index
// whichever form arrives, both parsers rewrite them, and only when the
// original is invalid and the rewrite is valid:
//
//   - Mexico: the mobile prefix "1" after +52, dropped in 2019
//     (+52 1 55 1234 5678 becomes +52 55 1234 5678);
//   - Brazil: a mobile number without the ninth digit, added nationally by
//     2016 (+55 11 6123 4567 becomes +55 11 9 6123 4567).
//
// # Security properties
//
// A [Number] never prints itself: String, Format (every fmt verb) and
// [Number.LogValue] show only the country code and the last two digits,
// such as "+44…23". It has no MarshalJSON or MarshalText, so callers must
// ask for [Number.E164] or [Number.Digits] explicitly, and only to encrypt,
// index or send it. [ErrInvalid] never contains the input.
//
// # Non-goals
//
// It does not decide whether a number is on WhatsApp, its line type, or its
// carrier, and it formats numbers for machines only, never for display.
package phone

import (
	"errors"
	"strconv"

	"github.com/nyaruka/phonenumbers"

	"github.com/waguard/waguard/shared/phone/internal/number"
)

// ErrInvalid is returned by [Parse] and [ParseWAID] for input that is not a
// valid phone number in the accepted form. It never includes the input.
var ErrInvalid = errors.New("invalid phone number")

const (
	// maxInput bounds the work done on untrusted input; the longest
	// sensible formatted E.164 number is well under it.
	maxInput = 40
	// maxDigits is the E.164 limit, plus two for a "(0)" trunk prefix.
	maxDigits = 17
)

// Number is a valid phone number in E.164 form. The zero Number is not a
// number; see [Number.IsZero]. Numbers are comparable with ==, and two
// Numbers are equal exactly when their E.164 forms are.
//
// The type and its methods (E164, Digits, CountryCode, IsZero and the
// redacting String, Format and LogValue) live in shared/phone/internal/number,
// without libphonenumber, so that packages which only hold a Number name it
// as shared/phone/e164.Number and do not link the parser; it is the same type.
type Number = number.Number

// Parse parses s, an E.164 number with optional separators such as
// "+44 20 7946 0123", and returns it normalised. It returns [ErrInvalid] if
// s is not in the accepted form or is not a valid number.
func Parse(s string) (Number, error) {
	if !wellFormed(s) {
		return Number{}, ErrInvalid
	}
	return normalise(s)
}

// ParseWAID parses a WhatsApp wa_id, the E.164 number without its '+' (for
// example "442079460123"), as it appears in webhook contacts and message
// senders. It returns [ErrInvalid] if s is not 1 to 15 ASCII digits or is
// not a valid number.
func ParseWAID(s string) (Number, error) {
	if len(s) == 0 || len(s) > 15 || countDigits(s) != len(s) {
		return Number{}, ErrInvalid
	}
	return normalise("+" + s)
}

// wellFormed reports whether s is '+' followed only by digits and
// separators, with a plausible number of digits.
func wellFormed(s string) bool {
	if len(s) < 2 || len(s) > maxInput || s[0] != '+' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isDigit(s[i]) && !isSeparator(s[i]) {
			return false
		}
	}
	n := countDigits(s)
	return n >= 2 && n <= maxDigits
}

// normalise parses s with phonenumbers and accepts only valid numbers,
// rewriting the legacy forms described in the package documentation.
func normalise(s string) (Number, error) {
	pn, err := phonenumbers.Parse(s, "")
	if err != nil || pn.GetExtension() != "" {
		return Number{}, ErrInvalid
	}
	if !phonenumbers.IsValidNumber(pn) {
		if pn = legacy(pn); pn == nil {
			return Number{}, ErrInvalid
		}
	}
	e164 := phonenumbers.Format(pn, phonenumbers.E164)
	if len(e164) > 1+15 { // valid in some national plans, but not E.164
		return Number{}, ErrInvalid
	}
	return number.New(e164, uint16(pn.GetCountryCode())), nil
}

// legacy returns the current form of a number in one of the legacy forms
// WhatsApp reports, or nil if pn is not one or its rewrite is invalid.
func legacy(pn *phonenumbers.PhoneNumber) *phonenumbers.PhoneNumber {
	nsn := phonenumbers.GetNationalSignificantNumber(pn)
	var fixed string
	switch pn.GetCountryCode() {
	case 52: // Mexico: drop the old mobile "1".
		if len(nsn) == 11 && nsn[0] == '1' {
			fixed = nsn[1:]
		}
	case 55: // Brazil: add the ninth digit to an 8-digit mobile number.
		if len(nsn) == 10 && nsn[2] >= '6' {
			fixed = nsn[:2] + "9" + nsn[2:]
		}
	}
	if fixed == "" {
		return nil
	}
	alt, err := phonenumbers.Parse("+"+strconv.Itoa(int(pn.GetCountryCode()))+fixed, "")
	if err != nil || !phonenumbers.IsValidNumber(alt) {
		return nil
	}
	return alt
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSeparator(c byte) bool {
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')'
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}
