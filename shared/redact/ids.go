package redact

import "bytes"

// The rules for identifiers logged under an id key, which survive whole.

// idKeys are the keys, normalised by normKey, whose values are identifiers;
// so is any key that ends in "requestid" ("aws_request_id", "X-Request-Id").
var idKeys = map[string]bool{
	"id": true, "erasurerequest": true, "messageid": true, "eventid": true,
	"auditid": true, "traceid": true,
}

// isIDKey reports whether the value of key is an identifier that must stay
// whole for operators to find the line by it.
func isIDKey(key string) bool {
	var buf [64]byte
	k := normKey(buf[:0], key)
	return idKeys[string(k)] || bytes.HasSuffix(k, []byte("requestid"))
}

// isID reports whether s has the shape of an identifier AWS or waguard
// generates: a UUID (Lambda and REST API request ids), an X-Ray trace id,
// an HTTP API request id, or one of waguard's prefixed ids. No shape admits
// a space, '+', '(', '.', '@' or a run of 32 characters, so within an id the
// only rule of the scan that could have matched is the digit run.
func isID(s string) bool {
	if s == "" {
		return false
	}
	sc := scanner{s: s}
	return uuidAt(s, 0) == len(s) || sc.traceAt(0) == len(s) || isHTTPAPIID(s) || isWaguardID(s)
}

// isHTTPAPIID matches an API Gateway HTTP API request id, such as
// "JKJaXmPLvHcESHA=": 12 to 22 letters and digits, at least one a letter,
// and one or two '=' of base64 padding.
func isHTTPAPIID(s string) bool {
	n := span(s, 0, letter|digit)
	pad := span(s, n, equals)
	return n >= 12 && n <= 22 && pad >= 1 && pad <= 2 && n+pad == len(s) && countDigits(s) < n
}

// waguardIDPrefixes are the prefixes of the ids waguard generates: messages,
// erasure requests, consent events and audit events.
var waguardIDPrefixes = [...]string{"msg_", "er_", "cev_", "ev_"}

// isWaguardID matches a waguard id: a prefix and 16 to 26 characters of
// base32 (A-Z, 2-7, in either case). Base32 has no 0, 1, 8 or 9.
func isWaguardID(s string) bool {
	for _, p := range waguardIDPrefixes {
		if !hasPrefix(s, 0, p) {
			continue
		}
		body := s[len(p):]
		if len(body) < 16 || len(body) > 26 {
			return false
		}
		for i := 0; i < len(body); i++ {
			c := body[i]
			if !isLetter(c) && (c < '2' || c > '7') {
				return false
			}
		}
		return true
	}
	return false
}
