// Package ids makes waguard's own identifiers: a prefix naming the kind
// ("msg_", "er_", "cev_") and 24 characters of unpadded base32 from 15
// random bytes (120 bits), so an id is unguessable and reveals nothing.
package ids

import (
	"crypto/rand"
	"encoding/base32"
)

// encoding is base32 without padding (24 characters for 15 bytes).
var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// New returns prefix followed by 24 random base32 characters.
func New(prefix string) string {
	b := make([]byte, 15)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go 1.24)
	return prefix + encoding.EncodeToString(b)
}
