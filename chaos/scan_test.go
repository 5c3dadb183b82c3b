package chaos

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestScanFindsEveryEncoding(t *testing.T) {
	const number = "+12015550123"
	phone := NewNeedle("phone", number, "12015550123")
	body := NewNeedle("body", "chaos order ABCDEF")
	tests := []struct {
		name, content string
		want          []string
	}{
		{"E.164", `{"to":"+12015550123"}`, []string{"phone"}},
		{"wa_id digits", `{"wa_id":"12015550123"}`, []string{"phone"}},
		{"hex", "x" + hex.EncodeToString([]byte("+12015550123")) + "y", []string{"phone"}},
		{"base64, aligned", base64.StdEncoding.EncodeToString([]byte(`+12015550123`)), []string{"phone"}},
		{"base64, offset 1", base64.StdEncoding.EncodeToString([]byte(`"12015550123"`)), []string{"phone"}},
		{"base64, offset 2", base64.StdEncoding.EncodeToString([]byte(`{"to":"+12015550123","body":"chaos order ABCDEF"}`)), []string{"body", "phone"}},
		{"url-safe base64", base64.URLEncoding.EncodeToString([]byte(`>>>chaos order ABCDEF???`)), []string{"body"}},
		{"body in clear", "the chaos order ABCDEF shipped", []string{"body"}},
		{"other numbers only", `{"to":"+12015550124","wa_id":"12015550125"}`, nil},
		{"ciphertext only", base64.StdEncoding.EncodeToString([]byte{0x9c, 0x01, 0xfe, 0x77, 0x10, 0x42, 0x5a, 0xa5, 0x00, 0x13}), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "data.db"), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			hits, err := Scan([]Needle{phone, body}, dir, filepath.Join(dir, "missing"))
			if err != nil {
				t.Fatalf("Scan() err = %v", err)
			}
			var got []string
			for _, h := range hits {
				got = append(got, h.Label)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Scan() labels = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestScanDoesNotFollowSymlinks(t *testing.T) {
	outside, dir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "x"), []byte("+12015550123"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "tools")); err != nil {
		t.Fatal(err)
	}
	hits, err := Scan([]Needle{NewNeedle("phone", "+12015550123")}, dir)
	if err != nil || len(hits) != 0 {
		t.Errorf("Scan() = %v, %v; want no hits through a symlink", hits, err)
	}
}

// FuzzNeedleBase64 checks a value is found however it is embedded in a
// base64-encoded (standard or URL-safe) document.
func FuzzNeedleBase64(f *testing.F) {
	f.Add([]byte(`{"to":"`), []byte(`"}`))
	f.Add([]byte{}, []byte{0})
	f.Add([]byte{1, 2}, []byte{})
	n := NewNeedle("phone", "+12015550123")
	f.Fuzz(func(t *testing.T, prefix, suffix []byte) {
		doc := append(append(append([]byte{}, prefix...), "+12015550123"...), suffix...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
			s := enc.EncodeToString(doc)
			found := false
			for _, form := range n.forms {
				if strings.Contains(s, string(form)) {
					found = true
				}
			}
			if !found {
				t.Fatalf("value not found in %q", s)
			}
		}
	})
}
