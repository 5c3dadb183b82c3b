package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// ErrBadSignature is returned for every failed signature check: a
// missing, malformed or wrong-length header, or a signature that matches
// no key. It carries no detail by design.
var ErrBadSignature = errors.New("signature: invalid signature")

// ErrStaleTimestamp is returned by [VerifySigned] for a correctly signed
// request whose timestamp is further from now than the tolerance, in
// either direction.
var ErrStaleTimestamp = errors.New("signature: stale timestamp")

// errInvalidKey is returned by [Key] and [ParseSecrets]; it never holds
// the configured value.
var errInvalidKey = errors.New("signature: invalid secret: empty, or bad base64 after the prefix")

// whsecPrefix marks a Standard Webhooks secret: base64 of the key bytes.
const whsecPrefix = "whsec_"

// Key returns the HMAC key for a configured secret. A value starting with
// "whsec_" is the standard (padded or unpadded) base64 of the key, as
// Standard Webhooks serialises secrets; any other value is used as its
// own UTF-8 bytes. It returns an error, which never includes the value,
// for an empty value, bad base64 or an empty decoded key.
func Key(configured string) ([]byte, error) {
	rest, ok := strings.CutPrefix(configured, whsecPrefix)
	if !ok {
		if configured == "" {
			return nil, errInvalidKey
		}
		return []byte(configured), nil
	}
	enc := base64.StdEncoding
	if !strings.HasSuffix(rest, "=") && len(rest)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	k, err := enc.Strict().DecodeString(rest)
	if err != nil || len(k) == 0 {
		return nil, errInvalidKey
	}
	return k, nil
}

// Secrets is a set of HMAC keys, typically the current and the previous
// secret during a rotation. Pass it to the verifiers as secrets...; empty
// keys in it are ignored. It prints and logs as its size only.
type Secrets [][]byte

// ParseSecrets returns the keys of the configured secrets, in order,
// through [Key]. Empty values are skipped, so an unset "previous" secret
// is harmless; it returns an error when any other value is invalid or
// when no key remains.
func ParseSecrets(configured ...string) (Secrets, error) {
	var s Secrets
	for _, c := range configured {
		if c == "" {
			continue
		}
		k, err := Key(c)
		if err != nil {
			return nil, err
		}
		s = append(s, k)
	}
	if len(s) == 0 {
		return nil, errInvalidKey
	}
	return s, nil
}

// String reports the number of keys, never their bytes.
func (s Secrets) String() string { return fmt.Sprintf("signature.Secrets[%d keys]", len(s)) }

// Format writes [Secrets.String] for every verb, so %x or %#v cannot
// print key bytes either.
func (s Secrets) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue logs the number of keys only.
func (s Secrets) LogValue() slog.Value { return slog.IntValue(len(s)) }

// macSize is the size of an HMAC-SHA256.
const macSize = sha256.Size

// mac returns HMAC-SHA256(key, a || b || c) from crypto/hmac. (A
// hand-written HMAC would save a few allocations per call; standard
// library crypto is worth more to a reviewer than those.)
func mac(key, a, b, c []byte) [macSize]byte {
	h := hmac.New(sha256.New, key)
	h.Write(a)
	h.Write(b)
	h.Write(c)
	var out [macSize]byte
	h.Sum(out[:0])
	return out
}

// anyMatch reports, in constant time for a given number of keys and
// candidates, whether any candidate equals the MAC of a||b||c under any
// non-empty key. Every key and candidate is tried: no early exit.
func anyMatch(keys [][]byte, cands [][macSize]byte, a, b, c []byte) bool {
	ok := 0
	for _, key := range keys {
		if len(key) == 0 {
			continue
		}
		want := mac(key, a, b, c)
		for i := range cands {
			ok |= subtle.ConstantTimeCompare(want[:], cands[i][:])
		}
	}
	return ok == 1
}
