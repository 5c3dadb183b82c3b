// Package number defines the phone number value that shared/phone's
// parsers return and shared/phone/e164 names for packages that only hold
// one. It is internal to shared/phone so that [New] stays the parsers'
// alone: every other package sees the type only through its aliases,
// phone.Number and e164.Number, and can obtain a Number only from
// phone.Parse or phone.ParseWAID.
//
// It does not import libphonenumber: a binary that indexes, addresses or
// redacts numbers without parsing them does not link its metadata.
package number

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Number is a valid phone number in E.164 form. The zero Number is not a
// number; see [Number.IsZero]. Numbers are comparable with ==, and two
// Numbers are equal exactly when their E.164 forms are.
type Number struct {
	e164 string // "+" followed by the country code and national number
	cc   uint16 // country calling code, 1 to 999
}

// New returns the Number whose E.164 form is e164 and whose country
// calling code is cc. Only shared/phone's parsers call it, after they
// validated both.
func New(e164 string, cc uint16) Number { return Number{e164: e164, cc: cc} }

// E164 returns the number in E.164 form, such as "+442079460123", or "" for
// the zero Number. The result is personal data: encrypt it, index it or send
// it, never log it.
func (n Number) E164() string { return n.e164 }

// Digits returns the number without its '+', such as "442079460123": the
// WhatsApp wa_id form and the "to" of a Cloud API send. It returns "" for
// the zero Number. The result is personal data, like [Number.E164].
func (n Number) Digits() string {
	if n.e164 == "" {
		return ""
	}
	return n.e164[1:]
}

// CountryCode returns the country calling code, such as 44, or 0 for the
// zero Number.
func (n Number) CountryCode() int { return int(n.cc) }

// IsZero reports whether n is the zero Number, which holds no number.
func (n Number) IsZero() bool { return n.e164 == "" }

// String returns the redacted form: the country code, an ellipsis and the
// last two digits, such as "+44…23"; "<none>" for the zero Number.
func (n Number) String() string {
	if n.e164 == "" {
		return "<none>"
	}
	return "+" + strconv.Itoa(int(n.cc)) + "…" + n.e164[len(n.e164)-2:]
}

// Format implements fmt.Formatter so that every verb, including %d, %x and
// %#v, prints the redacted form of [Number.String].
func (n Number) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, n.String())
}

// LogValue implements slog.LogValuer: a Number logs as [Number.String].
func (n Number) LogValue() slog.Value { return slog.StringValue(n.String()) }
