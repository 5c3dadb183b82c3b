// Package ids makes waguard's own identifiers: a prefix naming the kind
// ("msg_", "er_", "cev_") and 24 characters of unpadded base32 from 15
// random bytes (120 bits), so an id is unguessable and reveals nothing.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// encoding is base32 without padding (24 characters for 15 bytes).
var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// New returns prefix followed by 24 random base32 characters.
func New(prefix string) string {
	b := make([]byte, 15)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go 1.24)
	return prefix + encoding.EncodeToString(b)
}

// Valid reports whether s has the shape of an id [New] makes with prefix:
// prefix and 24 characters of upper-case base32.
func Valid(s, prefix string) bool { return Shaped(s, prefix, 24) }

// Shaped reports whether s is prefix followed by exactly n characters of
// upper-case base32 (A–Z, 2–7): the shape of waguard's ids, random or
// keyed (a contact id is "ct_" and 26).
func Shaped(s, prefix string, n int) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != n {
		return false
	}
	for i := range len(rest) {
		if c := rest[i]; (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}
