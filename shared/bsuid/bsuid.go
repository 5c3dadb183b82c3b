// Package bsuid holds WhatsApp business-scoped user ids (BSUIDs), the
// identifier Meta gives a WhatsApp user in every webhook since April 2026,
// with or without their phone number.
//
// A BSUID is unique to one user and one business portfolio. It is the
// user's ISO 3166 alpha-2 country code, a period, and 1 to 128 ASCII letters
// and digits, such as "US.13491208655302741918". A parent BSUID, shared by
// the portfolios of an enrolled managed business, has "ENT." after the
// period: "US.ENT.11815799212886844830". Meta regenerates a user's BSUID
// when they change their phone number; changing their username does not.
//
// # Accepted input
//
// [Parse] accepts exactly the syntax Meta documents,
// ^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$, and keeps the value as received:
// Meta refuses a BSUID whose country code, period or characters were
// changed, so nothing is folded, trimmed or normalised. Meta gives no formal
// grammar; every example it shows is digits only, but it says
// "alphanumeric", so letters are accepted too. The country code is checked
// for shape only, not against the ISO 3166 list.
//
// # Security properties
//
// A BSUID is personal data: it identifies a person to this business. An
// [ID] never prints itself: String, Format (every fmt verb) and
// [ID.LogValue] show only the country code, whether it is a parent, and the
// length, such as "US.…(20)" or "US.ENT.…(20)". It has no MarshalJSON or
// MarshalText, so callers must ask for [ID.Reveal] explicitly, and only to
// encrypt, index or send it. [ErrInvalid] never contains the input.
//
// # Non-goals
//
// It does not know whether a BSUID exists, which portfolio it belongs to,
// or which phone number it stands for; Meta reveals that pairing only in
// webhooks.
package bsuid

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// ErrInvalid is returned by [Parse] for input that is not a BSUID. It never
// includes the input.
var ErrInvalid = errors.New("invalid business-scoped user id")

const (
	// MaxIDLen is the most alphanumeric characters after the prefix.
	MaxIDLen = 128
	// MaxLen is the length of the longest BSUID, a parent one:
	// "CC.ENT." and [MaxIDLen] characters.
	MaxLen = len("CC.") + len(parentMarker) + MaxIDLen

	// parentMarker follows the country code of a parent BSUID.
	parentMarker = "ENT."
)

// ID is a syntactically valid BSUID or parent BSUID. The zero ID holds no
// id; see [ID.IsZero]. IDs are comparable with ==, and two IDs are equal
// exactly when their values are, case included.
type ID struct {
	v string
}

// Parse returns s as an [ID] if it is a BSUID or a parent BSUID, such as
// "US.13491208655302741918" or "US.ENT.11815799212886844830". It returns
// [ErrInvalid] for anything else, including surrounding space.
func Parse(s string) (ID, error) {
	if !valid(s) {
		return ID{}, ErrInvalid
	}
	return ID{v: strings.Clone(s)}, nil // not a view into a whole webhook body
}

// valid reports whether s matches ^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$.
func valid(s string) bool {
	if len(s) < 4 || len(s) > MaxLen || !isUpper(s[0]) || !isUpper(s[1]) || s[2] != '.' {
		return false
	}
	rest := strings.TrimPrefix(s[3:], parentMarker)
	if rest == "" || len(rest) > MaxIDLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if !isAlnum(rest[i]) {
			return false
		}
	}
	return true
}

// Reveal returns the BSUID as received, such as "US.13491208655302741918",
// or "" for the zero ID. The result is personal data: encrypt it, index it
// or send it to Meta, never log it.
func (id ID) Reveal() string { return id.v }

// Equal reports whether id and other hold the same BSUID, as == does; it
// lets go-cmp compare values that hold IDs.
func (id ID) Equal(other ID) bool { return id == other }

// IsZero reports whether id is the zero ID, which holds no BSUID.
func (id ID) IsZero() bool { return id.v == "" }

// IsParent reports whether id is a parent BSUID ("CC.ENT.…"), shared by the
// enrolled portfolios of a managed business.
func (id ID) IsParent() bool {
	return id.v != "" && strings.HasPrefix(id.v[3:], parentMarker)
}

// Country returns the ISO 3166 alpha-2 country code the BSUID starts with,
// such as "US", or "" for the zero ID.
func (id ID) Country() string {
	if id.v == "" {
		return ""
	}
	return id.v[:2]
}

// String returns the redacted form: the country code, "ENT." for a parent,
// an ellipsis and the number of characters after the prefix, such as
// "US.…(20)"; "<none>" for the zero ID.
func (id ID) String() string {
	if id.v == "" {
		return "<none>"
	}
	prefix := id.v[:3]
	if id.IsParent() {
		prefix += parentMarker
	}
	return prefix + "…(" + strconv.Itoa(len(id.v)-len(prefix)) + ")"
}

// Format implements fmt.Formatter so that every verb, including %x, %q and
// %#v, prints the redacted form of [ID.String].
func (id ID) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, id.String())
}

// LogValue implements slog.LogValuer: an ID logs as [ID.String].
func (id ID) LogValue() slog.Value { return slog.StringValue(id.String()) }

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
