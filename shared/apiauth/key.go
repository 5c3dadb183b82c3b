package apiauth

import (
	"strings"

	"github.com/waguard/waguard/shared/secrets"
)

// MaxKeyLen is the longest <key> part of a presented key; longer headers
// are refused before any secret is read.
const MaxKeyLen = 256

const (
	scheme        = "Bearer "
	keyPrefix     = "wg_"
	maxClientID   = 64
	maxHeaderLen  = len(scheme) + len(keyPrefix) + maxClientID + 1 + MaxKeyLen
	clientIDBytes = "abcdefghijklmnopqrstuvwxyz0123456789-"
)

// PresentedKey returns the key a client presents, wg_<clientID>_<key>,
// where key is the "key" field of its secret. It returns the zero Value
// when clientID is not a valid client ID or key is not a valid key part,
// since such a key could never authenticate. Tooling only: the result is
// secret and must not be logged.
func PresentedKey(clientID string, key secrets.Value) secrets.Value {
	k := key.Reveal()
	if !validClientID(clientID) || !validKey(k) {
		return secrets.Value{}
	}
	b := make([]byte, 0, len(keyPrefix)+len(clientID)+1+len(k))
	b = append(b, keyPrefix...)
	b = append(b, clientID...)
	b = append(b, '_')
	b = append(b, k...)
	return secrets.NewValue(b)
}

// parseAuthorization splits "Bearer wg_<client-id>_<key>" into the client
// ID and the key part. The scheme is case-insensitive; exactly one space
// follows it and nothing else may surround the credentials.
func parseAuthorization(h string) (clientID string, key []byte, ok bool) {
	if len(h) > maxHeaderLen || len(h) < len(scheme) || !asciiEqualFold(h[:len(scheme)], scheme) {
		return "", nil, false
	}
	rest, ok := strings.CutPrefix(h[len(scheme):], keyPrefix)
	if !ok {
		return "", nil, false
	}
	clientID, k, ok := strings.Cut(rest, "_") // client IDs hold no "_"
	if !ok || !validClientID(clientID) || !validKey([]byte(k)) {
		return "", nil, false
	}
	return clientID, []byte(k), true
}

// asciiEqualFold reports whether a and b are equal under ASCII case
// folding only (strings.EqualFold would also fold some non-ASCII runes).
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// validClientID reports whether id matches [a-z0-9-]{1,64}.
func validClientID(id string) bool {
	if len(id) == 0 || len(id) > maxClientID {
		return false
	}
	for i := range len(id) {
		if strings.IndexByte(clientIDBytes, id[i]) < 0 {
			return false
		}
	}
	return true
}

// validKey reports whether k is 1 to MaxKeyLen characters of an RFC 6750
// b64token: [A-Za-z0-9._~+/-]+ then "=" padding.
func validKey(k []byte) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	i := 0
	for i < len(k) && isTokenByte(k[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(k); i++ {
		if k[i] != '=' {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}
