package redact

// class is a set of ASCII byte classes, looked up in classes. Bytes of
// 0x80 and above belong only to valueChar.
type class uint16

const (
	digit     class = 1 << iota // 0-9
	letter                      // A-Z a-z
	hex                         // 0-9 A-F a-f
	word                        // \w: letters, digits, '_'
	space                       // \s: space, \t, \n, \f, \r
	dash                        // '-'
	equals                      // '='
	keyChar                     // letters, '_', '-': a key before a secret
	urlChar                     // letters, digits, '_', '-': base64url
	labelChar                   // letters, digits, '-': a domain label
	localChar                   // letters, digits, "._%+-": e-mail local part
	runChar                     // letters, digits, "+/_-": base64 and base64url
	wamidChar                   // runChar, '=', '%': a (URL-encoded) wamid
	tokenChar                   // letters, digits, "._~+/=-": a bearer token
	phoneChar                   // digits, " ().-"
	valueChar                   // anything but \s and "\"'&,;\\": a secret value
)

// classes maps each byte to its classes.
var classes = buildClasses()

func buildClasses() (t [256]class) {
	add := func(cl class, chars string) {
		for i := 0; i < len(chars); i++ {
			t[chars[i]] |= cl
		}
	}
	const (
		digits  = "0123456789"
		letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		alnum   = digits + letters
	)
	add(digit, digits)
	add(letter, letters)
	add(hex, digits+"ABCDEFabcdef")
	add(word, alnum+"_")
	add(space, " \t\n\f\r")
	add(dash, "-")
	add(equals, "=")
	add(keyChar, letters+"_-")
	add(urlChar, alnum+"_-")
	add(labelChar, alnum+"-")
	add(localChar, alnum+"._%+-")
	add(runChar, alnum+"+/_-")
	add(wamidChar, alnum+"+/_-=%")
	add(tokenChar, alnum+"._~+/=-")
	add(phoneChar, digits+" ().-")
	for c := range t {
		if t[c]&space == 0 && !isByteIn(byte(c), "\"'&,;\\") {
			t[c] |= valueChar
		}
	}
	return t
}

func isByteIn(c byte, set string) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

// span returns how many bytes of s from i are in cl.
func span(s string, i int, cl class) int {
	j := i
	for j < len(s) && classes[s[j]]&cl != 0 {
		j++
	}
	return j - i
}

func is(c byte, cl class) bool { return classes[c]&cl != 0 }

func isDigit(c byte) bool     { return is(c, digit) }
func isLetter(c byte) bool    { return is(c, letter) }
func isHex(c byte) bool       { return is(c, hex) }
func isWord(c byte) bool      { return is(c, word) }
func isKeyChar(c byte) bool   { return is(c, keyChar) }
func isLocalChar(c byte) bool { return is(c, localChar) }
func isRunChar(c byte) bool   { return is(c, runChar) }

// byteAt advances *j past c if s[*j] is c.
func byteAt(s string, j *int, c byte) bool {
	if *j < len(s) && s[*j] == c {
		*j++
		return true
	}
	return false
}

// twoDigits reports whether s[i:] starts with two digits between lo and hi.
func twoDigits(s string, i, lo, hi int) bool {
	if i+1 >= len(s) || !isDigit(s[i]) || !isDigit(s[i+1]) {
		return false
	}
	v := int(s[i]-'0')*10 + int(s[i+1]-'0')
	return v >= lo && v <= hi
}

func hasPrefix(s string, i int, p string) bool {
	return i+len(p) <= len(s) && s[i:i+len(p)] == p
}

// hasPrefixFold is hasPrefix ignoring ASCII case; p must be lower case.
func hasPrefixFold(s string, i int, p string) bool {
	if i+len(p) > len(s) {
		return false
	}
	for k := 0; k < len(p); k++ {
		c := s[i+k]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != p[k] {
			return false
		}
	}
	return true
}
