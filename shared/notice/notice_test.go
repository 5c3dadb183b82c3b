package notice

import (
	"strings"
	"testing"
)

func TestID(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc (FIPS 180-2 test vector)", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"exact bytes: a trailing space is another notice", "abc ", ID("abc ")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ID(tc.text); got != tc.want || !ValidID(got) {
				t.Errorf("ID(%q) = %q, want %q (and a valid id)", tc.text, got, tc.want)
			}
		})
	}
	if ID("abc") == ID("abc ") {
		t.Errorf("ID(%q) = ID(%q), want different ids", "abc", "abc ")
	}
}

func TestValidText(t *testing.T) {
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"one character", "x", true},
		{"several lines and accents", "Wir senden Ihnen Angebote.\nÄnderungen: jederzeit.", true},
		{"exactly the limit", strings.Repeat("x", MaxBytes), true},
		{"the limit in multi-byte characters", strings.Repeat("é", MaxBytes/2), true},
		{"empty", "", false},
		{"one byte over", strings.Repeat("x", MaxBytes+1), false},
		{"over in bytes, not in characters", strings.Repeat("é", MaxBytes/2+1), false},
		{"invalid UTF-8", "ok \xff", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidText(tc.text); got != tc.want {
				t.Errorf("ValidText(%d bytes) = %t, want %t", len(tc.text), got, tc.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	good := ID("notice")
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"as ID writes it", good, true},
		{"empty", "", false},
		{"one digit short", good[:63], false},
		{"one digit over", good + "0", false},
		{"uppercase", strings.ToUpper(good), false},
		{"not hex", strings.Repeat("g", 64), false},
		{"a path", "../" + good[3:], false},
		{"base64url of a hash", "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidID(tc.id); got != tc.want {
				t.Errorf("ValidID(%q) = %t, want %t", tc.id, got, tc.want)
			}
		})
	}
}

// FuzzValidID checks the id parser never panics, accepts exactly 64
// lowercase hex digits, and accepts every id ID makes.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{"", ID(""), ID("x"), strings.ToUpper(ID("x")), "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok := ValidID(s)
		if ok && (len(s) != 64 || strings.Trim(s, "0123456789abcdef") != "") {
			t.Errorf("ValidID(%q) = true for a string that is not 64 lowercase hex digits", s)
		}
		if id := ID(s); !ValidID(id) {
			t.Errorf("ValidID(ID(%q)) = false, want true", s)
		}
	})
}

// FuzzValidText checks the text check never panics and accepts only
// non-empty valid UTF-8 within MaxBytes.
func FuzzValidText(f *testing.F) {
	for _, s := range []string{"", "x", "ok \xff", strings.Repeat("é", MaxBytes/2+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidText(s) && (s == "" || len(s) > MaxBytes || strings.ToValidUTF8(s, "\uFFFD") != s) {
			t.Errorf("ValidText(%d bytes) = true, want false", len(s))
		}
	})
}
