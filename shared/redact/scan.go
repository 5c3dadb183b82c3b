package redact

// The scanner finds what String masks in one left-to-right pass without
// regular expressions, which cost microseconds per byte here. At each
// position it tries the rules in order and takes the first that matches;
// text it passes over is copied unchanged. reference_test.go specifies each
// rule again as an anchored regular expression, and FuzzString checks that
// the two agree.

// scanner holds the state of one String call.
type scanner struct {
	s     string
	after int // end of the previous match: a run may start here
	noKV  int // kv cannot match before this position
	noJWT int // jwt cannot match before this position
	noAt  int // email cannot match before this position
}

// scan returns s with every match replaced.
func scan(s string) string {
	sc := scanner{s: s}
	var out []byte
	last := 0 // s[:last] is in out
	for i := 0; i < len(s); {
		n, repl, ok := sc.match(i)
		if !ok {
			i++
			continue
		}
		if repl != s[i:i+n] {
			if out == nil {
				out = make([]byte, 0, len(s)+16)
			}
			out = append(append(out, s[last:i]...), repl...)
			last = i + n
		}
		i += n
		sc.after = i
	}
	if out == nil {
		return s
	}
	return string(append(out, s[last:]...))
}

// match tries the rules at i in priority order, identifiers that must
// survive first. Each rule returns the match length and the replacement,
// which is s[i:i+n] for text that must survive. The guards on c skip rules
// that cannot start with it.
func (sc *scanner) match(i int) (n int, repl string, ok bool) {
	c := sc.s[i]
	lower := c | 0x20 // ASCII lower case for letters
	if isHex(c) || lower == 'a' {
		if n, repl, ok = sc.keep(i); ok {
			return
		}
	}
	if lower == 'w' {
		if n, repl, ok = sc.wamid(i); ok {
			return
		}
	}
	if lower == 'b' {
		if n, repl, ok = sc.bearer(i); ok {
			return
		}
	}
	if isKeyChar(c) && i >= sc.noKV {
		if n, repl, ok = sc.kv(i); ok {
			return
		}
	}
	if lower == 'e' && i >= sc.noJWT {
		if n, repl, ok = sc.jwt(i); ok {
			return
		}
	}
	return sc.rest(i, c)
}

// rest tries the rules after jwt.
func (sc *scanner) rest(i int, c byte) (n int, repl string, ok bool) {
	if isLocalChar(c) && i >= sc.noAt {
		if n, repl, ok = sc.email(i); ok {
			return
		}
	}
	if isUpper(c) {
		if n, repl, ok = sc.bsuid(i); ok {
			return
		}
	}
	if isDigit(c) {
		if n, repl, ok = sc.ipv4(i); ok {
			return
		}
	}
	if isRunChar(c) {
		if n, repl, ok = sc.long(i); ok {
			return
		}
	}
	if isDigit(c) || c == '+' || c == '(' {
		return sc.phone(i)
	}
	return 0, "", false
}

// wamid matches "wamid." and the provider id that follows.
func (sc *scanner) wamid(i int) (int, string, bool) {
	if !hasPrefixFold(sc.s, i, "wamid.") {
		return 0, "", false
	}
	n := span(sc.s, i+6, wamidChar)
	return 6 + n, maskWAMID, n > 0
}

// bearer matches "Bearer" and white space, kept, and the token, masked.
func (sc *scanner) bearer(i int) (int, string, bool) {
	if !hasPrefixFold(sc.s, i, "bearer") {
		return 0, "", false
	}
	j := i + 6
	ws := span(sc.s, j, space)
	n := span(sc.s, j+ws, tokenChar)
	if ws == 0 || n == 0 {
		return 0, "", false
	}
	return j + ws + n - i, sc.s[i:j+ws] + maskToken, true
}

// secretKeys are the key suffixes after which kv masks the value.
var secretKeys = []string{"token", "secret", "password", "passwd", "apikey", "api_key", "api-key", "authorization", "signature"}

// kv matches a key ending in one of secretKeys, a ':' or '=' with optional
// quotes and spaces, kept, and the value, masked.
func (sc *scanner) kv(i int) (int, string, bool) {
	s := sc.s
	if i < sc.noKV || !isKeyChar(s[i]) || !sc.runStart(i, keyChar) {
		return 0, "", false
	}
	j := i + span(s, i, keyChar)
	sc.noKV = j // a later start in this run has the same suffix
	if !hasSecretSuffix(s[i:j]) {
		return 0, "", false
	}
	v, ok := kvValue(s, j)
	if !ok {
		return 0, "", false
	}
	end := v + span(s, v, valueChar)
	for _, scheme := range [...]string{"bearer", "basic"} {
		if !hasPrefixFold(s, v, scheme) {
			continue
		}
		w := v + len(scheme)
		w += span(s, w, space)
		if w > v+len(scheme) && span(s, w, valueChar) > 0 {
			end = w + span(s, w, valueChar)
		}
	}
	return end - i, s[i:v] + maskSecret, end > v
}

// kvValue returns where the value starts after the key ending at j:
// an optional (escaped) quote, spaces, ':' or '=', spaces and an optional
// (escaped) quote.
func kvValue(s string, j int) (int, bool) {
	j = quote(s, j)
	j += span(s, j, space)
	if j >= len(s) || (s[j] != ':' && s[j] != '=') {
		return 0, false
	}
	j++
	j += span(s, j, space)
	return quote(s, j), true
}

// quote returns the position after an optional quote or escaped quote.
func quote(s string, j int) int {
	switch {
	case j < len(s) && (s[j] == '"' || s[j] == '\''):
		return j + 1
	case j+1 < len(s) && s[j] == '\\' && (s[j+1] == '"' || s[j+1] == '\''):
		return j + 2
	}
	return j
}

func hasSecretSuffix(key string) bool {
	for _, k := range secretKeys {
		if len(key) >= len(k) && hasPrefixFold(key, len(key)-len(k), k) {
			return true
		}
	}
	return false
}

// jwt matches a JSON Web Token: "eyJ" header "." "eyJ" payload "." signature.
func (sc *scanner) jwt(i int) (int, string, bool) {
	s := sc.s
	j := i
	for seg := range 2 {
		if !hasPrefixFold(s, j, "eyj") || span(s, j+3, urlChar) == 0 {
			return 0, "", false
		}
		j += 3 + span(s, j+3, urlChar)
		if seg == 0 {
			sc.noJWT = j // a later start in this segment ends here too
		}
		if !byteAt(s, &j, '.') {
			return 0, "", false
		}
	}
	j += span(s, j, urlChar)
	return j - i, maskToken, true
}

// email matches an e-mail address: a local part, '@', and a domain of
// dot-separated labels whose last label starts with two letters.
func (sc *scanner) email(i int) (int, string, bool) {
	s := sc.s
	if i < sc.noAt || !isLocalChar(s[i]) || !sc.runStart(i, localChar) {
		return 0, "", false
	}
	j := i + span(s, i, localChar)
	sc.noAt = j // a later start in this run meets the same '@'
	if j >= len(s) || s[j] != '@' {
		return 0, "", false
	}
	n := domainLen(s, j+1)
	return j + 1 + n - i, maskEmail, n > 0
}

// domainLen returns the length of the longest domain at s[i:], or 0.
func domainLen(s string, i int) int {
	end, j := 0, i+span(s, i, labelChar)
	if j == i {
		return 0
	}
	for j < len(s) && s[j] == '.' {
		n := span(s, j+1, labelChar)
		if n == 0 {
			break
		}
		if letters := span(s, j+1, letter); letters >= 2 {
			end = j + 1 + letters
		}
		j += 1 + n
	}
	if end == 0 {
		return 0
	}
	return end - i
}

// ipv4 matches a dotted-quad IPv4 address between word boundaries.
func (sc *scanner) ipv4(i int) (int, string, bool) {
	s := sc.s
	if !isDigit(s[i]) || !sc.boundary(i) {
		return 0, "", false
	}
	j := i
	for part := range 4 {
		if part > 0 && !byteAt(s, &j, '.') {
			return 0, "", false
		}
		n := span(s, j, digit)
		if n == 0 || n > 3 {
			return 0, "", false
		}
		j += n
	}
	return j - i, maskIP, sc.boundary(j)
}

// long matches a run of 32 or more base64 or base64url characters that
// isSecret, with up to two '=' of padding or, if it ends in a digit and has
// none, the rest of a phone-like sequence (so that "…-447700 900123" leaves no
// digits behind). Any other run is not a match: the rules apply inside it.
func (sc *scanner) long(i int) (int, string, bool) {
	s := sc.s
	if !sc.runStart(i, runChar) {
		return 0, "", false
	}
	n := span(s, i, runChar)
	if n < 32 || !isSecret(s[i:i+n]) {
		return 0, "", false
	}
	if pad := min(span(s, i+n, equals), 2); pad > 0 || !isDigit(s[i+n-1]) {
		return n + pad, maskSecret, true
	}
	return n + phoneTail(s, i+n), maskSecret, true
}

// phoneTail returns the length of the phone characters at s[i:] up to and
// including their last digit, or 0 if they hold no digit.
func phoneTail(s string, i int) int {
	n := span(s, i, phoneChar)
	for n > 0 && !isDigit(s[i+n-1]) {
		n--
	}
	return n
}

// phone matches an optional '+' and '(', a digit, five or more digits,
// spaces, '-', '.', '(' or ')', and a digit. It masks the match if it holds
// 7 or more digits; a shorter match is kept and skipped.
func (sc *scanner) phone(i int) (int, string, bool) {
	s := sc.s
	k := i
	byteAt(s, &k, '+')
	byteAt(s, &k, '(')
	if k >= len(s) || !isDigit(s[k]) {
		return 0, "", false
	}
	end := k + 1 + span(s, k+1, phoneChar)
	for end > k+1 && !isDigit(s[end-1]) {
		end--
	}
	if end-(k+1) < 6 { // five or more in the middle, then a digit
		return 0, "", false
	}
	if countDigits(s[i:end]) < 7 {
		return end - i, s[i:end], true
	}
	return end - i, maskPhone, true
}

// boundary reports whether a word boundary (\b) lies before s[i].
func (sc *scanner) boundary(i int) bool {
	before := i > 0 && isWord(sc.s[i-1])
	at := i < len(sc.s) && isWord(sc.s[i])
	return before != at
}

// runStart reports whether a run of cl may start at i: at the start of s,
// after the previous match, or after a byte not in cl.
func (sc *scanner) runStart(i int, cl class) bool {
	return i == 0 || i == sc.after || classes[sc.s[i-1]]&cl == 0
}
