// Package notice is the proof of what a person was shown when they gave
// consent: the exact text of the notice, its limits, and its id, the
// SHA-256 of the text in lowercase hex (docs/gdpr.md, "Consent").
//
// A notice is registered once and named by its id in every consent ledger
// entry that showed it, so a controller can demonstrate what was agreed
// to (GDPR Art. 7(1)) without copying the text into each entry.
//
// # Security properties
//
//   - [ID] is the only place a notice's id is computed: the same text
//     always has the same id, and an id names exactly one text.
//   - A notice is not personal data: it is the business's own wording,
//     the same for everyone it is shown to. It is stored in clear and
//     kept when a person is erased. The business must not put personal
//     data in a notice.
//
// # Non-goals
//
// The text is not normalised: two notices that differ in a space are two
// notices, because the proof is of the exact text shown.
package notice

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"
)

// MaxBytes is the most a notice's text may hold, in bytes of UTF-8.
const MaxBytes = 4096

// ID returns the id of the notice with this text: the SHA-256 of its
// UTF-8 bytes, in 64 lowercase hex digits.
func ID(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// ValidText reports whether text can be a notice: 1 to [MaxBytes] bytes
// of valid UTF-8.
func ValidText(text string) bool {
	return text != "" && len(text) <= MaxBytes && utf8.ValidString(text)
}

// ValidID reports whether s is a notice id as [ID] writes it: exactly 64
// lowercase hex digits.
func ValidID(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
