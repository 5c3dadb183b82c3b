package envelope

import (
	"fmt"
	"log/slog"
)

// keySize is the size of branch, subject and field keys: AES-256.
const keySize = 32

// aesKey is 256-bit key material. It is only ever handled by pointer, so
// that printing a containing struct shows an address, and its own
// formatting methods reveal nothing.
type aesKey struct{ b [keySize]byte }

// newKey copies b, which must be keySize bytes, into a key.
func newKey(b []byte) (*aesKey, error) {
	if len(b) != keySize {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(b), keySize)
	}
	k := new(aesKey)
	copy(k.b[:], b)
	return k, nil
}

// String returns a fixed redaction marker.
func (*aesKey) String() string { return "[key]" }

// GoString returns a fixed redaction marker, also for %#v.
func (*aesKey) GoString() string { return "[key]" }

// LogValue implements slog.LogValuer, so a key never reaches a log.
func (*aesKey) LogValue() slog.Value { return slog.StringValue("[key]") }
