package phone

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// testCase is one entry of testdata/numbers.json or testdata/waids.json.
type testCase struct {
	Name     string `json:"name"`
	Input    string `json:"input"`
	E164     string `json:"e164"`
	CC       int    `json:"cc"`
	Redacted string `json:"redacted"`
	Err      bool   `json:"err"`
}

func loadCases(t *testing.T, name string) []testCase {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("ReadFile(%q) err = %v, want nil", name, err)
	}
	var cases []testCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("Unmarshal(%q) err = %v, want nil", name, err)
	}
	return cases
}

func TestParse(t *testing.T) {
	runCases(t, loadCases(t, "numbers.json"), Parse)
}

func TestParseWAID(t *testing.T) {
	runCases(t, loadCases(t, "waids.json"), ParseWAID)
}

func runCases(t *testing.T, cases []testCase, parse func(string) (Number, error)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			n, err := parse(tc.Input)
			if tc.Err {
				if !errors.Is(err, ErrInvalid) || !n.IsZero() {
					t.Fatalf("parse(%q) = %v, %v; want zero, ErrInvalid", tc.Input, n, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q) err = %v, want nil", tc.Input, err)
			}
			checkNumber(t, n, tc)
		})
	}
}

func checkNumber(t *testing.T, n Number, tc testCase) {
	t.Helper()
	if got := n.E164(); got != tc.E164 {
		t.Errorf("E164() = %q, want %q", got, tc.E164)
	}
	if got, want := n.Digits(), strings.TrimPrefix(tc.E164, "+"); got != want {
		t.Errorf("Digits() = %q, want %q", got, want)
	}
	if got := n.CountryCode(); got != tc.CC {
		t.Errorf("CountryCode() = %d, want %d", got, tc.CC)
	}
	if got := n.String(); got != tc.Redacted {
		t.Errorf("String() = %q, want %q", got, tc.Redacted)
	}
}

func TestErrInvalidHidesInput(t *testing.T) {
	_, err := Parse("+447700900123")
	if err == nil || strings.Contains(err.Error(), "7700") {
		t.Fatalf("Parse() err = %v, want ErrInvalid without the input", err)
	}
}

// TestNoVerbLeaks checks that no fmt verb or slog handler prints the number.
func TestNoVerbLeaks(t *testing.T) {
	n, err := Parse("+442079460123")
	if err != nil {
		t.Fatalf("Parse() err = %v, want nil", err)
	}
	type wrapper struct{ N Number }
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%T %v"} {
		for _, arg := range []any{n, &n, wrapper{n}, []Number{n}} {
			if got := fmt.Sprintf(verb, arg); strings.Contains(got, "7946") {
				t.Errorf("Sprintf(%q, %T) = %q, leaks the number", verb, arg, got)
			}
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("sent", "to", n)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("sent", "to", n)
	if strings.Contains(buf.String(), "7946") || !strings.Contains(buf.String(), "+44…23") {
		t.Errorf("slog output = %q, want only the redacted form", buf.String())
	}
	if b, _ := json.Marshal(wrapper{n}); strings.Contains(string(b), "7946") {
		t.Errorf("json.Marshal() = %s, leaks the number", b)
	}
}

func TestZero(t *testing.T) {
	var n Number
	if !n.IsZero() || n.E164() != "" || n.Digits() != "" || n.CountryCode() != 0 {
		t.Errorf("zero Number = %q %q %d, want empty", n.E164(), n.Digits(), n.CountryCode())
	}
	if got := n.String(); got != "<none>" {
		t.Errorf("String() = %q, want %q", got, "<none>")
	}
}

func TestEqual(t *testing.T) {
	a, errA := Parse("+44 20 7946 0123")
	b, errB := ParseWAID("442079460123")
	if errA != nil || errB != nil {
		t.Fatalf("Parse() errs = %v, %v, want nil", errA, errB)
	}
	if a != b {
		t.Errorf("Parse() and ParseWAID() of one number differ")
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range loadCasesF(f, "numbers.json") {
		f.Add(tc.Input)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		checkRoundTrip(t, n)
	})
}

func FuzzParseWAID(f *testing.F) {
	for _, tc := range loadCasesF(f, "waids.json") {
		f.Add(tc.Input)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseWAID(s)
		if err != nil {
			return
		}
		checkRoundTrip(t, n)
	})
}

// checkRoundTrip checks that both parsers give back n from its own forms and
// that its redacted form holds no more than two national digits.
func checkRoundTrip(t *testing.T, n Number) {
	t.Helper()
	if n2, err := Parse(n.E164()); err != nil || n2 != n {
		t.Fatalf("Parse(E164()) = %v, %v; want identical number", n2, err)
	}
	if n2, err := ParseWAID(n.Digits()); err != nil || n2 != n {
		t.Fatalf("ParseWAID(Digits()) = %v, %v; want identical number", n2, err)
	}
	want := fmt.Sprintf("+%d…%s", n.CountryCode(), n.E164()[len(n.E164())-2:])
	if n.String() != want || !strings.HasPrefix(n.E164(), fmt.Sprintf("+%d", n.CountryCode())) {
		t.Fatalf("String() = %q, want %q", n.String(), want)
	}
}

func loadCasesF(f *testing.F, name string) []testCase {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		f.Fatalf("ReadFile(%q) err = %v, want nil", name, err)
	}
	var cases []testCase
	if err := json.Unmarshal(b, &cases); err != nil {
		f.Fatalf("Unmarshal(%q) err = %v, want nil", name, err)
	}
	return cases
}
