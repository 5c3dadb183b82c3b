package signature

import (
	"bytes"
	"strings"
	"testing"
)

func TestVerifyMeta(t *testing.T) {
	body := readTestdata(t, "meta_text_event.json")
	good := SignMeta(testSecret, body)
	hexPart := strings.TrimPrefix(good, "sha256=")
	tests := []struct {
		name    string
		body    []byte
		header  string
		secrets [][]byte
		wantErr error
	}{
		{"valid", body, good, [][]byte{testSecret}, nil},
		{"upper-case hex", body, "sha256=" + strings.ToUpper(hexPart), [][]byte{testSecret}, nil},
		{"previous secret during rotation", body, SignMeta(testPrevSecret, body), [][]byte{testSecret, testPrevSecret}, nil},
		{"empty secret skipped", body, good, [][]byte{nil, testSecret}, nil},
		{"empty body", nil, SignMeta(testSecret, nil), [][]byte{testSecret}, nil},
		{"signed under an empty key", body, SignMeta(nil, body), [][]byte{{}}, ErrBadSignature},
		{"no secrets", body, good, nil, ErrBadSignature},
		{"wrong secret", body, good, [][]byte{testPrevSecret}, ErrBadSignature},
		{"body with one more byte", append(bytes.Clone(body), ' '), good, [][]byte{testSecret}, ErrBadSignature},
		{"missing", body, "", [][]byte{testSecret}, ErrBadSignature},
		{"prefix only", body, "sha256=", [][]byte{testSecret}, ErrBadSignature},
		{"no prefix", body, hexPart, [][]byte{testSecret}, ErrBadSignature},
		{"truncated", body, good[:len(good)-2], [][]byte{testSecret}, ErrBadSignature},
		{"too long", body, good + "00", [][]byte{testSecret}, ErrBadSignature},
		{"non-hex", body, good[:len(good)-1] + "z", [][]byte{testSecret}, ErrBadSignature},
		{"flipped digit", body, good[:len(good)-1] + flipHex(good[len(good)-1]), [][]byte{testSecret}, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := VerifyMeta(tt.body, tt.header, tt.secrets...); err != tt.wantErr {
				t.Errorf("VerifyMeta(body, header) err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// flipHex returns a different hex digit than c.
func flipHex(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func TestSignMetaFormat(t *testing.T) {
	got := SignMeta(testSecret, readTestdata(t, "meta_text_event.json"))
	const want = "sha256=811c14a3674b45d882535cd3ff211255f509be771a0e6f11dc395de19070ab28"
	if got != want {
		t.Errorf("SignMeta(test secret, meta_text_event.json) = %q, want %q", got, want)
	}
}

func TestVerifyMetaDoesNotModifyInput(t *testing.T) {
	body := readTestdata(t, "meta_text_event.json")
	orig := bytes.Clone(body)
	secret := bytes.Clone(testSecret)
	_ = VerifyMeta(body, SignMeta(testSecret, body), secret)
	if !bytes.Equal(body, orig) || !bytes.Equal(secret, testSecret) {
		t.Error("VerifyMeta modified its body or secret, want both unchanged")
	}
}
