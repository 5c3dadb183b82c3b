package redact

// This file specifies String a second way, each rule as an anchored regular
// expression, for the fuzz test to hold the hand-written scanner to.

import (
	"regexp"
	"strings"
)

// refRule is one rule of the reference: re, anchored at the start of
// s[i:], with the conditions on the text before i that re cannot see.
type refRule struct {
	re       *regexp.Regexp
	boundary bool           // a word boundary (\b) must precede i
	run      *regexp.Regexp // if set, i must start a run of this class
	replace  func(match string, m []int) (string, bool)
	extend   func(s string, end int) int // if set, the match grows to extend(s, end)
}

func keepMatch(match string, _ []int) (string, bool) { return match, true }

func mask(m string) func(string, []int) (string, bool) {
	return func(string, []int) (string, bool) { return m, true }
}

func keepGroup1(m string) func(string, []int) (string, bool) {
	return func(match string, g []int) (string, bool) { return match[g[2]:g[3]] + m, true }
}

// refRules are the rules in priority order.
var refRules = []refRule{
	{re: regexp.MustCompile(`\A(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), replace: keepMatch},
	{re: regexp.MustCompile(`\A(?i)1-[0-9a-f]{8}-[0-9a-f]{24}\b`), boundary: true, replace: keepMatch},
	{re: regexp.MustCompile(`\A(?i)(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])` +
		`(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:\d\d)?)?`), boundary: true, replace: keepMatch},
	{re: regexp.MustCompile(`\A(?i)arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:\d{12}:`), boundary: true, replace: keepMatch},
	{re: regexp.MustCompile(`\A(?i)wamid\.[a-z0-9+/=_%-]+`), replace: mask(maskWAMID)},
	{re: regexp.MustCompile(`\A(?i)(bearer\s+)[a-z0-9._~+/=-]+`), replace: keepGroup1(maskToken)},
	{
		re: regexp.MustCompile(`\A(?i)([a-z_-]*(?:token|secret|passw(?:or)?d|api[_-]?key|authorization|signature)` +
			`(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?)(?:(?:bearer|basic)\s+)?[^\s"'&,;\\]+`),
		run: regexp.MustCompile(`[A-Za-z_-]`), replace: keepGroup1(maskSecret),
	},
	{re: regexp.MustCompile(`\A(?i)eyJ[a-z0-9_-]+\.eyJ[a-z0-9_-]+\.[a-z0-9_-]*`), replace: mask(maskToken)},
	{
		re:  regexp.MustCompile(`\A(?i)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}`),
		run: regexp.MustCompile(`[A-Za-z0-9._%+-]`), replace: mask(maskEmail),
	},
	{
		re:  regexp.MustCompile(`\A[A-Z]{2}\.(?:ENT\.)?([A-Za-z0-9]+)`),
		run: regexp.MustCompile(`[A-Za-z0-9]`),
		replace: func(match string, g []int) (string, bool) {
			return maskBSUID, countDigits(match[g[2]:g[3]]) > 0
		},
	},
	{re: regexp.MustCompile(`\A\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`), boundary: true, replace: mask(maskIP)},
	{
		re:  regexp.MustCompile(`\A[A-Za-z0-9+/_-]{32,}={0,2}`),
		run: regexp.MustCompile(`[A-Za-z0-9+/_-]`),
		replace: func(match string, _ []int) (string, bool) {
			return maskSecret, isSecret(strings.TrimRight(match, "="))
		},
		extend: func(s string, end int) int { // a trailing digit swallows a phone tail
			if m := refTail.FindStringIndex(s[end:]); m != nil {
				return end + m[1]
			}
			return end
		},
	},
	{
		re: regexp.MustCompile(`\A\+?\(?\d[\d ().-]{5,}\d`),
		replace: func(match string, _ []int) (string, bool) {
			if countDigits(match) >= 7 {
				return maskPhone, true
			}
			return match, true
		},
	},
}

var (
	refWord = regexp.MustCompile(`\w`)
	refTail = regexp.MustCompile(`\A[\d ().-]*\d`)
)

// referenceString is String written with refRules: at each position the
// first rule that matches wins, and the scan resumes after its match.
func referenceString(s string) string {
	var b strings.Builder
	last, after := 0, 0
	for i := 0; i < len(s); {
		n, repl, ok := refMatch(s, i, after)
		if !ok {
			i++
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(repl)
		i += n
		last, after = i, i
	}
	b.WriteString(s[last:])
	return b.String()
}

// referenceFixpoint applies referenceString until nothing changes, as
// String does (a mask can expose a match its neighbour hid).
func referenceFixpoint(s string) string {
	for i := 0; i < 4; i++ {
		next := referenceString(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

func refMatch(s string, i, after int) (int, string, bool) {
	for _, r := range refRules {
		if r.boundary && refWord.MatchString(prev(s, i)) == refWord.MatchString(s[i:i+1]) {
			continue
		}
		if r.run != nil && i != after && r.run.MatchString(prev(s, i)) {
			continue
		}
		m := r.re.FindStringSubmatchIndex(s[i:])
		if m == nil {
			continue
		}
		repl, ok := r.replace(s[i:i+m[1]], m)
		if !ok {
			continue
		}
		end := i + m[1]
		if r.extend != nil && isDigit(s[end-1]) {
			end = r.extend(s, end)
		}
		return end - i, repl, true
	}
	return 0, "", false
}

// prev returns the byte before i as a string, or "" at the start.
func prev(s string, i int) string {
	if i == 0 {
		return ""
	}
	return s[i-1 : i]
}
