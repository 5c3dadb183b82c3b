package signature

import (
	"encoding/hex"
	"strings"
)

// HeaderMeta is the header carrying Meta's signature, lower-cased as API
// Gateway delivers it.
const HeaderMeta = "x-hub-signature-256"

// metaPrefix starts every X-Hub-Signature-256 value.
const metaPrefix = "sha256="

// VerifyMeta checks header, the X-Hub-Signature-256 value, against the
// HMAC-SHA256 of the exact raw body under each of secrets. The hex may be
// upper or lower case. It returns nil when any non-empty secret matches,
// and [ErrBadSignature] for a missing or malformed header (no "sha256="
// prefix, not 64 hex digits) or a signature that matches no secret.
func VerifyMeta(body []byte, header string, secrets ...[]byte) error {
	sig, ok := parseMetaHeader(header)
	if !ok || !anyMatch(secrets, [][macSize]byte{sig}, body, nil, nil) {
		return ErrBadSignature
	}
	return nil
}

// SignMeta returns the X-Hub-Signature-256 value Meta would send for body
// under secret: "sha256=" and the lower-case hex HMAC-SHA256.
func SignMeta(secret, body []byte) string {
	sum := mac(secret, body, nil, nil)
	return metaPrefix + hex.EncodeToString(sum[:])
}

// parseMetaHeader decodes "sha256=<64 hex digits>"; it reports false for
// anything else.
func parseMetaHeader(header string) (sig [macSize]byte, ok bool) {
	h, found := strings.CutPrefix(header, metaPrefix)
	if !found {
		return sig, false
	}
	return decodeHex(h)
}

// decodeHex decodes exactly 2×macSize hex digits of either case.
func decodeHex(s string) (sig [macSize]byte, ok bool) {
	if len(s) != 2*macSize {
		return sig, false
	}
	for i := range sig {
		hi, ok1 := fromHexChar(s[2*i])
		lo, ok2 := fromHexChar(s[2*i+1])
		if !ok1 || !ok2 {
			return sig, false
		}
		sig[i] = hi<<4 | lo
	}
	return sig, true
}

// fromHexChar converts a hex digit of either case to its value.
func fromHexChar(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
