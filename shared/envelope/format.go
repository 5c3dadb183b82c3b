package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
)

// Field ciphertext format, version 1 (all integers big-endian):
//
//	version    1 byte   0x01
//	salt       1 byte length (32) + 32 bytes   HKDF salt, random per value
//	commitment 1 byte length (32) + 32 bytes   bytes 32..63 of the HKDF output
//	nonce      1 byte length (12) + 12 bytes   GCM nonce, random
//	sealed     4 byte length (n)  + n bytes    GCM ciphertext || 16-byte tag
//
// The 84-byte header (everything up to and including the sealed length)
// is authenticated as part of the GCM associated data.
const (
	formatV1   byte = 0x01
	saltSize        = 32
	commitSize      = 32
	nonceSize       = 12
	tagSize         = 16
	headerSize      = 1 + 1 + saltSize + 1 + commitSize + 1 + nonceSize + 4
)

// infoKeyCommit is the HKDF info label. One expansion yields 64 bytes: the
// field key (bytes 0..31) and the key commitment (bytes 32..63), two
// independent blocks of the HKDF output (T(1) and T(2)), as the AWS
// Encryption SDK's committed suites derive their key and commitment from
// one data key. One expansion instead of two halves the derivation cost.
const infoKeyCommit = "waguard/envelope v1 field key and commitment"

// Overhead is how many bytes Encrypt adds to a plaintext (100).
const Overhead = headerSize + tagSize

// MaxPlaintext is the largest plaintext Encrypt accepts: a DynamoDB item
// cannot hold more.
const MaxPlaintext = 400 << 10

// AD is the associated data a ciphertext is bound to: the data table, the
// item's key and the attribute holding the ciphertext. Decrypt must be
// given exactly the AD used to encrypt; every field must be non-empty.
type AD struct {
	Table, PK, SK, Attribute string
}

// valid reports whether every field is set.
func (ad AD) valid() bool {
	return ad.Table != "" && ad.PK != "" && ad.SK != "" && ad.Attribute != ""
}

// appendAAD appends the GCM associated data: the header, then each AD
// field as a 4-byte length and its bytes, so no two ADs encode alike.
func appendAAD(dst, header []byte, ad AD) []byte {
	dst = append(dst, header...)
	for _, s := range [...]string{ad.Table, ad.PK, ad.SK, ad.Attribute} {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// header is a parsed, not yet authenticated, field ciphertext. Its slices
// alias the parsed bytes.
type header struct {
	salt, commit, nonce, sealed []byte
}

// parse splits a version 1 field ciphertext, checking every length before
// slicing. It reports false for anything but a well-formed ciphertext
// with no trailing bytes.
func parse(b []byte) (header, bool) {
	var h header
	if len(b) < headerSize+tagSize || b[0] != formatV1 {
		return h, false
	}
	r := b[1:]
	var ok bool
	if h.salt, r, ok = field(r, saltSize); !ok {
		return h, false
	}
	if h.commit, r, ok = field(r, commitSize); !ok {
		return h, false
	}
	if h.nonce, r, ok = field(r, nonceSize); !ok {
		return h, false
	}
	if len(r) < 4 {
		return h, false
	}
	n := binary.BigEndian.Uint32(r)
	r = r[4:]
	if uint64(n) != uint64(len(r)) || n < tagSize {
		return h, false
	}
	h.sealed = r
	return h, true
}

// field reads a one-byte length that must equal want, then that many bytes.
func field(r []byte, want int) (val, rest []byte, ok bool) {
	if len(r) < 1+want || int(r[0]) != want {
		return nil, r, false
	}
	return r[1 : 1+want], r[1+want:], true
}

// appendHeader appends the encoded header for a sealed part of sealedLen
// bytes.
func appendHeader(dst, salt, commit, nonce []byte, sealedLen int) []byte {
	dst = append(dst, formatV1, saltSize)
	dst = append(dst, salt...)
	dst = append(dst, commitSize)
	dst = append(dst, commit...)
	dst = append(dst, nonceSize)
	dst = append(dst, nonce...)
	return binary.BigEndian.AppendUint32(dst, uint32(sealedLen))
}

// encode re-serialises a parsed ciphertext (the inverse of parse).
func (h header) encode() []byte {
	out := make([]byte, 0, headerSize+len(h.sealed))
	out = appendHeader(out, h.salt, h.commit, h.nonce, len(h.sealed))
	return append(out, h.sealed...)
}

// derive returns the field AEAD and the key commitment for a subject key
// and salt: HKDF-SHA256 (extract with the salt, one 64-byte expansion).
func derive(k *aesKey, salt []byte) (cipher.AEAD, []byte, error) {
	okm, err := hkdf.Key(sha256.New, k.b[:], salt, infoKeyCommit, keySize+commitSize)
	if err != nil {
		return nil, nil, fmt.Errorf("hkdf: %w", err)
	}
	aead, err := newGCM(okm[:keySize])
	return aead, okm[keySize:], err
}

// newGCM returns AES-256-GCM under key.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}

// seal encrypts plaintext under k with the given salt and nonce (random
// in production, fixed in test vectors) and returns the field ciphertext.
func seal(k *aesKey, salt, nonce, plaintext []byte, ad AD) ([]byte, error) {
	aead, commit, err := derive(k, salt)
	if err != nil {
		return nil, fmt.Errorf("derive field key: %w", err)
	}
	sealedLen := len(plaintext) + tagSize
	n := headerSize + sealedLen
	// One allocation: the ciphertext, then the associated data, which the
	// returned slice's capacity excludes.
	buf := make([]byte, 0, n+aadSize(ad))
	out := appendHeader(buf, salt, commit, nonce, sealedLen)
	aad := appendAAD(buf[n:n], out, ad)
	out = aead.Seal(out, nonce, plaintext, aad)
	return out[:n:n], nil
}

// open checks the key commitment in constant time, then authenticates and
// decrypts h, the parse of raw. Every failure is [ErrDecrypt].
func open(k *aesKey, h header, raw []byte, ad AD) ([]byte, error) {
	aead, commit, err := derive(k, h.salt)
	if err != nil || subtle.ConstantTimeCompare(commit, h.commit) != 1 {
		return nil, ErrDecrypt
	}
	// One allocation: the plaintext, then the associated data, which the
	// returned slice's capacity excludes.
	ptLen := len(h.sealed) - tagSize
	buf := make([]byte, ptLen+aadSize(ad))
	aad := appendAAD(buf[ptLen:ptLen], raw[:headerSize], ad)
	pt, err := aead.Open(buf[:0:ptLen], h.nonce, h.sealed, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// aadSize is the length of the associated data for ad.
func aadSize(ad AD) int {
	return headerSize + 16 + len(ad.Table) + len(ad.PK) + len(ad.SK) + len(ad.Attribute)
}
