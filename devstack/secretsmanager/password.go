package secretsmanager

import (
	"crypto/rand"
	"math/big"
	"strings"
)

// Character classes of GetRandomPassword. punctuation is the set the API
// reference lists.
const (
	lowercase   = "abcdefghijklmnopqrstuvwxyz"
	uppercase   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits      = "0123456789"
	punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

type getRandomPasswordInput struct {
	PasswordLength          *int64
	ExcludeCharacters       string
	ExcludeNumbers          bool
	ExcludePunctuation      bool
	ExcludeUppercase        bool
	ExcludeLowercase        bool
	IncludeSpace            bool
	RequireEachIncludedType *bool
}

type getRandomPasswordOutput struct {
	RandomPassword string
}

// getRandomPassword implements GetRandomPassword. PasswordLength defaults to
// 32 and RequireEachIncludedType to true, as in AWS; the space character is
// allowed by IncludeSpace but never required.
func (s *Server) getRandomPassword(in *getRandomPasswordInput) (*getRandomPasswordOutput, error) {
	length := int64(32)
	if in.PasswordLength != nil {
		length = *in.PasswordLength
	}
	if err := checkRange("passwordLength", length, 1, 4096); err != nil {
		return nil, err
	}
	if err := checkLength("excludeCharacters", in.ExcludeCharacters, 0, 4096); err != nil {
		return nil, err
	}
	classes := passwordClasses(in)
	pool := strings.Join(classes, "")
	if in.IncludeSpace && !strings.Contains(in.ExcludeCharacters, " ") {
		pool += " "
	}
	if in.RequireEachIncludedType != nil && !*in.RequireEachIncludedType {
		classes = nil
	}
	pw, err := generatePassword(int(length), classes, pool)
	if err != nil {
		return nil, err
	}
	return &getRandomPasswordOutput{RandomPassword: pw}, nil
}

// passwordClasses returns the character classes that in allows, without the
// excluded characters. Classes left empty by ExcludeCharacters are dropped.
func passwordClasses(in *getRandomPasswordInput) []string {
	var classes []string
	add := func(excluded bool, class string) {
		if excluded {
			return
		}
		class = strings.Map(func(r rune) rune {
			if strings.ContainsRune(in.ExcludeCharacters, r) {
				return -1
			}
			return r
		}, class)
		if class != "" {
			classes = append(classes, class)
		}
	}
	add(in.ExcludeLowercase, lowercase)
	add(in.ExcludeUppercase, uppercase)
	add(in.ExcludeNumbers, digits)
	add(in.ExcludePunctuation, punctuation)
	return classes
}

// generatePassword returns length characters drawn from pool, with at least
// one character of each class in required.
func generatePassword(length int, required []string, pool string) (string, error) {
	if pool == "" {
		return "", newError(codeInvalidParameter, "The password can't be generated because every character is excluded.")
	}
	if length < len(required) {
		return "", newError(codeInvalidParameter, "Password length is too short based on the required types.")
	}
	pw := make([]byte, length)
	for i := range pw {
		set := pool
		if i < len(required) {
			set = required[i]
		}
		pw[i] = set[randIntn(len(set))]
	}
	for i := len(pw) - 1; i > 0; i-- { // Fisher-Yates, so required characters can be anywhere
		j := randIntn(i + 1)
		pw[i], pw[j] = pw[j], pw[i]
	}
	return string(pw), nil
}

// randIntn returns a uniform random integer in [0, n) from crypto/rand.
func randIntn(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		// crypto/rand.Reader never fails on supported platforms; Go crashes
		// the program rather than return an error.
		return 0
	}
	return int(v.Int64())
}
