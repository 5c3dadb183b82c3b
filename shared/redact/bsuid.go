package redact

// The rule for WhatsApp business-scoped user ids (BSUIDs), which identify a
// person like a phone number does but need not hold seven digits.

// maskBSUID replaces what [scanner.bsuid] finds.
const maskBSUID = "[bsuid]"

// bsuid matches a BSUID or parent BSUID at the start of a run of letters
// and digits: two upper-case letters (the country), '.', an optional
// "ENT." and letters and digits that include a digit, such as
// "US.13491208655302741918" or "US.ENT.11815799212886844830". The digit
// spares dotted names such as "OK.Done"; an all-letter BSUID is not found.
func (sc *scanner) bsuid(i int) (int, string, bool) {
	s := sc.s
	if i+3 >= len(s) || !isUpper(s[i]) || !isUpper(s[i+1]) || s[i+2] != '.' || !sc.runStart(i, letter|digit) {
		return 0, "", false
	}
	j := i + 3
	if hasPrefix(s, j, "ENT.") && span(s, j+4, letter|digit) > 0 {
		j += 4
	}
	n := span(s, j, letter|digit)
	if n == 0 || countDigits(s[j:j+n]) == 0 {
		return 0, "", false
	}
	return j + n - i, maskBSUID, true
}

// mayStartBSUID reports whether s[i] is the period of a BSUID's prefix:
// after two upper-case letters and before a letter or digit.
func mayStartBSUID(s string, i int) bool {
	return s[i] == '.' && i >= 2 && isUpper(s[i-1]) && isUpper(s[i-2]) && i+1 < len(s) && is(s[i+1], letter|digit)
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
