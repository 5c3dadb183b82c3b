package signature

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

// stdMAC is HMAC-SHA256 from crypto/hmac, the reference for mac.
func stdMAC(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func TestMACMatchesCryptoHMAC(t *testing.T) {
	for _, keyLen := range []int{0, 1, 20, 63, 64, 65, 128, 1000} {
		key := bytes.Repeat([]byte{0xA5}, keyLen)
		for _, msg := range [][]byte{nil, []byte("a"), bytes.Repeat([]byte("x"), 1000)} {
			got := mac(key, msg[:len(msg)/2], []byte("."), msg[len(msg)/2:])
			want := stdMAC(key, msg[:len(msg)/2], []byte("."), msg[len(msg)/2:])
			if !bytes.Equal(got[:], want) {
				t.Errorf("mac(key of %d bytes, %d-byte message) = %x, want %x", keyLen, len(msg), got, want)
			}
		}
	}
}

func TestMACRFC4231(t *testing.T) {
	// RFC 4231 test case 2 and test case 6 (a key longer than a block).
	tests := []struct{ key, data, want string }{
		{"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{string(bytes.Repeat([]byte{0xaa}, 131)), "Test Using Larger Than Block-Size Key - Hash Key First", "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	}
	for _, tt := range tests {
		got := mac([]byte(tt.key), []byte(tt.data), nil, nil)
		if hexOf(got[:]) != tt.want {
			t.Errorf("mac(RFC 4231 key, %q) = %x, want %s", tt.data, got, tt.want)
		}
	}
}

// hexOf is lower-case hex.
func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
