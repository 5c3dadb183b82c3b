// Package e164 names a valid phone number, in E.164 form, for the packages
// that hold, index, address or redact one but never parse one
// (shared/blindindex, shared/provider, shared/subject). It does not import
// libphonenumber, so neither do they: only a binary that parses numbers
// links its metadata, through shared/phone.
//
// A [Number] is the very type shared/phone's parsers return (phone.Number
// is the same type), so it still holds only a number phone.Parse or
// phone.ParseWAID validated: no package outside shared/phone can build a
// non-zero one.
package e164

import "github.com/waguard/waguard/shared/phone/internal/number"

// Number is a valid phone number in E.164 form, as phone.Number; see that
// type for its methods and its security properties.
type Number = number.Number
