package redact

// The rules for identifiers that must survive the scan.

// keep matches the identifiers that survive: UUIDs, X-Ray trace ids, ISO
// 8601 dates and times, and ARNs up to their account field.
func (sc *scanner) keep(i int) (int, string, bool) {
	s := sc.s
	n := uuidAt(s, i)
	if n == 0 && sc.boundary(i) {
		n = max(sc.traceAt(i), dateAt(s, i), arnAt(s, i))
	}
	return n, s[i : i+n], n > 0
}

func uuidAt(s string, i int) int {
	j := i
	for g, size := range [5]int{8, 4, 4, 4, 12} {
		if g > 0 && !byteAt(s, &j, '-') {
			return 0
		}
		if !hexAt(s, j, size) {
			return 0
		}
		j += size
	}
	return j - i
}

// hexAt reports whether s[i:] starts with n hex digits.
func hexAt(s string, i, n int) bool {
	if i+n > len(s) {
		return false
	}
	for k := i; k < i+n; k++ {
		if !isHex(s[k]) {
			return false
		}
	}
	return true
}

// traceAt matches "1-" 8 hex "-" 24 hex, ending at a word boundary.
func (sc *scanner) traceAt(i int) int {
	s, j := sc.s, i
	if !byteAt(s, &j, '1') || !byteAt(s, &j, '-') || !hexAt(s, j, 8) {
		return 0
	}
	j += 8
	if !byteAt(s, &j, '-') || !hexAt(s, j, 24) {
		return 0
	}
	j += 24
	if !sc.boundary(j) {
		return 0
	}
	return j - i
}

// dateAt matches YYYY-MM-DD (years 1900-2099), optionally followed by
// [T ]hh:mm[:ss[.fraction]][Z|±hh:mm].
func dateAt(s string, i int) int {
	j := i
	if !(hasPrefix(s, j, "19") || hasPrefix(s, j, "20")) || !twoDigits(s, j+2, 0, 99) {
		return 0
	}
	j += 4
	if !byteAt(s, &j, '-') || !twoDigits(s, j, 1, 12) {
		return 0
	}
	j += 2
	if !byteAt(s, &j, '-') || !twoDigits(s, j, 1, 31) {
		return 0
	}
	j += 2
	return j - i + timeAt(s, j)
}

// timeAt matches the optional time of dateAt at i, returning its length.
func timeAt(s string, i int) int {
	if i >= len(s) || (s[i]|0x20 != 't' && s[i] != ' ') || !clock(s, i+1, 23) {
		return 0
	}
	j := i + 6 // separator, hh:mm
	if j < len(s) && s[j] == ':' && twoDigits(s, j+1, 0, 59) {
		j += 3
		if j < len(s) && s[j] == '.' && span(s, j+1, digit) > 0 {
			j += 1 + min(span(s, j+1, digit), 9)
		}
	}
	switch {
	case j < len(s) && s[j]|0x20 == 'z':
		j++
	case j < len(s) && (s[j] == '+' || s[j] == '-') && span(s, j+1, digit) >= 2 &&
		j+3 < len(s) && s[j+3] == ':' && span(s, j+4, digit) >= 2:
		j += 6
	}
	return j - i
}

// clock reports whether s[i:] starts with hh:mm, hh at most maxHour.
func clock(s string, i, maxHour int) bool {
	return twoDigits(s, i, 0, maxHour) && i+2 < len(s) && s[i+2] == ':' && twoDigits(s, i+3, 0, 59)
}

// arnAt matches "arn:aws[partition]:service:region:" and a 12-digit
// account followed by ':'.
func arnAt(s string, i int) int {
	if !hasPrefixFold(s, i, "arn:aws") {
		return 0
	}
	j := i + len("arn:aws")
	j += span(s, j, letter|dash)
	for range 2 { // service, region
		if !byteAt(s, &j, ':') {
			return 0
		}
		j += span(s, j, labelChar)
	}
	if !byteAt(s, &j, ':') || span(s, j, digit) != 12 {
		return 0
	}
	j += 12
	if !byteAt(s, &j, ':') {
		return 0
	}
	return j - i
}
