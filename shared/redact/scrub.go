package redact

// Masks that replace what [String] finds.
const (
	maskPhone  = "[phone]"
	maskWAMID  = "[wamid]"
	maskToken  = "[token]"
	maskSecret = "[secret]"
	maskIP     = "[ip]"
	maskEmail  = "[email]"
)

// The BSUID mask, maskBSUID, is in bsuid.go with its rule.

// String returns s with phone numbers, WhatsApp business-scoped user ids,
// provider message ids, credentials, secret-looking runs, e-mail and IPv4
// addresses masked. See the package
// documentation for what it recognises.
func String(s string) string {
	// A mask can expose a match its neighbour hid (an address glued to an
	// e-mail's domain is one once the e-mail is "[email]"), so scan until
	// nothing changes; each pass only shortens or keeps the text.
	for i := 0; i < 4 && suspicious(s); i++ {
		next := scan(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

// suspicious is a fast pre-check: it reports whether s could contain
// anything scan masks. A match needs 4 digits (an IPv4 address), an '@', a
// run of 32 base64 characters, a BSUID's "CC." prefix, or a keyword.
func suspicious(s string) bool {
	if len(s) < len("US.1") { // the shortest match, a BSUID
		return false
	}
	digits, run := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isDigit(c) {
			if digits++; digits >= 4 {
				return true
			}
		}
		if c == '@' || mayStartBSUID(s, i) {
			return true
		}
		if run++; !isRunChar(c) {
			run = 0
		} else if run >= 32 {
			return true
		}
	}
	return hasKeyword(s)
}

// hasKeyword reports whether s contains, ignoring ASCII case, a word that
// starts a match of scan needing neither digits nor a long run: bearer,
// token, secret, signature, passw(or)d, key, authorization, wamid, eyJ.
func hasKeyword(s string) bool {
	for i := 0; i < len(s); i++ {
		var found bool
		switch s[i] | 0x20 {
		case 'b':
			found = hasPrefixFold(s, i, "bearer")
		case 't':
			found = hasPrefixFold(s, i, "token")
		case 's':
			found = hasPrefixFold(s, i, "secret") || hasPrefixFold(s, i, "signature")
		case 'p':
			found = hasPrefixFold(s, i, "passw")
		case 'k':
			found = hasPrefixFold(s, i, "key")
		case 'a':
			found = hasPrefixFold(s, i, "authorization")
		case 'w':
			found = hasPrefixFold(s, i, "wamid")
		case 'e':
			found = hasPrefixFold(s, i, "eyj")
		}
		if found {
			return true
		}
	}
	return false
}

// isSecret reports whether a long run of base64 characters looks like key
// material rather than an identifier made of words: it holds a letter and a
// digit and a stretch of 16 characters without '-' or '_'.
func isSecret(run string) bool {
	var letter, digit bool
	stretch, longest := 0, 0
	for i := 0; i < len(run); i++ {
		c := run[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
		}
		if c == '-' || c == '_' {
			stretch = 0
			continue
		}
		stretch++
		longest = max(longest, stretch)
	}
	return letter && digit && longest >= 16
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}
