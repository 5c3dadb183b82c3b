package number

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestNumber checks the accessors and the redacted forms of a number and
// of the zero Number (shared/phone's tests check them on parsed numbers).
func TestNumber(t *testing.T) {
	tests := []struct {
		name                 string
		n                    Number
		e164, digits, redact string
		cc                   int
		zero                 bool
	}{
		{"number", New("+442079460123", 44), "+442079460123", "442079460123", "+44…23", 44, false},
		{"zero", Number{}, "", "", "<none>", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.n.E164(); got != tc.e164 {
				t.Errorf("E164() = %q, want %q", got, tc.e164)
			}
			if got := tc.n.Digits(); got != tc.digits {
				t.Errorf("Digits() = %q, want %q", got, tc.digits)
			}
			if got := tc.n.CountryCode(); got != tc.cc {
				t.Errorf("CountryCode() = %d, want %d", got, tc.cc)
			}
			if got := tc.n.IsZero(); got != tc.zero {
				t.Errorf("IsZero() = %v, want %v", got, tc.zero)
			}
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d"} {
				if got := fmt.Sprintf(verb, tc.n); got != tc.redact {
					t.Errorf("Sprintf(%q) = %q, want %q", verb, got, tc.redact)
				}
			}
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("sent", "to", tc.n)
			if !strings.Contains(buf.String(), "to="+tc.redact) {
				t.Errorf("slog output = %q, want to=%s", buf.String(), tc.redact)
			}
		})
	}
}
