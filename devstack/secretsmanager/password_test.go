package secretsmanager_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Character classes that GetRandomPassword draws from.
const (
	lowerChars = "abcdefghijklmnopqrstuvwxyz"
	upperChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digitChars = "0123456789"
	punctChars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

func TestGetRandomPassword(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name     string
		in       sm.GetRandomPasswordInput
		wantLen  int
		allowed  string   // every character must be one of these
		required []string // at least one character of each
		wantCode string
	}{
		{name: "defaults", wantLen: 32, allowed: lowerChars + upperChars + digitChars + punctChars,
			required: []string{lowerChars, upperChars, digitChars, punctChars}},
		{name: "letters only", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(8), ExcludeNumbers: aws.Bool(true), ExcludePunctuation: aws.Bool(true)},
			wantLen: 8, allowed: lowerChars + upperChars, required: []string{lowerChars, upperChars}},
		{name: "no letters", in: sm.GetRandomPasswordInput{ExcludeUppercase: aws.Bool(true), ExcludeLowercase: aws.Bool(true)},
			wantLen: 32, allowed: digitChars + punctChars, required: []string{digitChars, punctChars}},
		{name: "excluded characters", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(64), ExcludeCharacters: aws.String(`abcABC123/@"'\`)},
			wantLen: 64, allowed: strip(lowerChars+upperChars+digitChars+punctChars, `abcABC123/@"'\`)},
		{name: "space allowed", in: sm.GetRandomPasswordInput{IncludeSpace: aws.Bool(true), ExcludePunctuation: aws.Bool(true)},
			wantLen: 32, allowed: lowerChars + upperChars + digitChars + " ", required: []string{lowerChars, upperChars, digitChars}},
		{name: "each type in the minimum length", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(4), RequireEachIncludedType: aws.Bool(true)},
			wantLen: 4, allowed: lowerChars + upperChars + digitChars + punctChars, required: []string{lowerChars, upperChars, digitChars, punctChars}},
		{name: "one character without required types", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(1), RequireEachIncludedType: aws.Bool(false)},
			wantLen: 1, allowed: lowerChars + upperChars + digitChars + punctChars},
		{name: "too short for the required types", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(3)}, wantCode: "InvalidParameterException"},
		{name: "zero length", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(0)}, wantCode: "ValidationException"},
		{name: "over 4096", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(4097)}, wantCode: "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 20 {
				out, err := h.client.GetRandomPassword(t.Context(), &tt.in)
				checkErr(t, "GetRandomPassword()", err, tt.wantCode)
				if err != nil {
					return
				}
				checkPassword(t, aws.ToString(out.RandomPassword), tt.wantLen, tt.allowed, tt.required)
			}
		})
	}
}

// checkPassword checks the length and characters of pw. It reports
// character classes, not the password.
func checkPassword(t *testing.T, pw string, wantLen int, allowed string, required []string) {
	t.Helper()
	if len(pw) != wantLen {
		t.Fatalf("GetRandomPassword() length = %d, want %d", len(pw), wantLen)
	}
	if i := strings.IndexFunc(pw, func(r rune) bool { return !strings.ContainsRune(allowed, r) }); i >= 0 {
		t.Fatalf("GetRandomPassword() has a character outside %q at %d", allowed, i)
	}
	for _, class := range required {
		if !strings.ContainsAny(pw, class) {
			t.Fatalf("GetRandomPassword() has no character of %q", class)
		}
	}
}

// strip returns s without the characters in cut.
func strip(s, cut string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(cut, r) {
			return -1
		}
		return r
	}, s)
}
