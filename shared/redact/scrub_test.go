package redact

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// stringCase is one entry of testdata/strings.json.
type stringCase struct {
	Name string `json:"name"`
	In   string `json:"in"`
	Want string `json:"want"`
}

func loadStrings(t testing.TB) []stringCase {
	t.Helper()
	b, err := os.ReadFile("testdata/strings.json")
	if err != nil {
		t.Fatalf("ReadFile() err = %v, want nil", err)
	}
	var cases []stringCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("Unmarshal() err = %v, want nil", err)
	}
	return cases
}

func TestString(t *testing.T) {
	for _, tc := range loadStrings(t) {
		t.Run(tc.Name, func(t *testing.T) {
			if got := String(tc.In); got != tc.Want {
				t.Errorf("String(%q) = %q, want %q", tc.In, got, tc.Want)
			}
		})
	}
}

func TestIsDenied(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"phone", true}, {"to", true}, {"from", true}, {"body", true},
		{"text", true}, {"token", true}, {"msisdn", true}, {"wa_id", true},
		{"waId", true}, {"WA-ID", true}, {"name", true}, {"profile_name", true},
		{"Authorization", true}, {"secret", true}, {"key", true},
		{"access_token", true}, {"apiKey", true}, {"app_secret", true},
		{"customer_phone", true}, {"password", true}, {"email", true},
		{"user_id", true}, {"from_user_id", true}, {"recipientUserId", true}, {"parent-user-id", true},
		{"username", true}, {"profile_username", true}, {"userName", true},
		{"route", false}, {"status", false}, {"count", false},
		{"request_id", false}, {"function_name", false}, {"toggle", false},
		{"error", false}, {"duration_ms", false}, {"", false},
		{"users", false}, {"user_count", false}, {"userids_len", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if got := isDenied(tc.key); got != tc.want {
				t.Errorf("isDenied(%q) = %v, want %v", tc.key, got, tc.want)
			}
		})
	}
}

func TestIsDeniedLongKey(t *testing.T) {
	if !isDenied(strings.Repeat("x", 100) + "_token") {
		t.Errorf("isDenied(long key ending in _token) = false, want true")
	}
}

// FuzzString checks that String never panics, agrees with the reference
// regular expression, is idempotent, and masks a phone number placed
// between any two strings.
func FuzzString(f *testing.F) {
	for _, tc := range loadStrings(f) {
		f.Add(tc.In, "", uint64(0))
	}
	f.Add("call ", " now", uint64(447700900123))
	f.Fuzz(func(t *testing.T, prefix, suffix string, n uint64) {
		once := String(prefix + suffix)
		if want := referenceFixpoint(prefix + suffix); isASCII(prefix+suffix) && once != want {
			t.Fatalf("String(%q) = %q, reference gives %q", prefix+suffix, once, want)
		}
		if twice := String(once); twice != once {
			t.Fatalf("String(String(%q)) = %q, want %q", prefix+suffix, twice, once)
		}
		num := fmtNumber(n)
		in := prefix + " " + num + " " + suffix
		if got := String(in); strings.Count(got, num) > strings.Count(prefix+suffix, num) {
			t.Fatalf("String(%q) = %q, leaks %q", in, got, num)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// fmtNumber returns a synthetic 10 to 13 digit number in one of several
// formats.
func fmtNumber(n uint64) string {
	d := []byte(strings.Repeat("0", 13))
	for i, v := len(d)-1, n; i >= 0; i, v = i-1, v/10 {
		d[i] = byte('0' + v%10)
	}
	digits := string(d[n%4:]) // 10 to 13 digits
	switch (n / 4) % 4 {
	case 0:
		return "+" + digits
	case 1:
		return digits[:4] + " " + digits[4:]
	case 2:
		return "(" + digits[:3] + ") " + digits[3:6] + "-" + digits[6:]
	default:
		return digits
	}
}

func BenchmarkString(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"clean", "message sent to provider after 2 retries"},
		{"uuid", "c0a8e1f2-3b4c-4d5e-8f90-123456789012"},
		{"dirty", "send to +44 7700 900123 failed: wamid.HBgMNDQ3NzAwOTAwMTIz token=abc"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = String(bc.in)
			}
		})
	}
}

func TestReference(t *testing.T) {
	for _, tc := range loadStrings(t) {
		t.Run(tc.Name, func(t *testing.T) {
			if got := referenceString(tc.In); got != tc.Want {
				t.Errorf("referenceString(%q) = %q, want %q", tc.In, got, tc.Want)
			}
		})
	}
}
