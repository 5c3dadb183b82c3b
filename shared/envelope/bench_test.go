package envelope_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// BenchmarkEncryptDecrypt1KB measures Encrypt+Decrypt of a 1 KB field
// with warm caches (no KMS or DynamoDB calls).
func BenchmarkEncryptDecrypt1KB(b *testing.B) {
	f := newFixture(b, nil)
	pt := bytes.Repeat([]byte{'x'}, 1024)
	ctx := b.Context()
	if _, err := f.env.Encrypt(ctx, "bench", pt, testAD); err != nil {
		b.Fatalf("Encrypt() err = %v, want nil", err)
	}
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		ct, err := f.env.Encrypt(ctx, "bench", pt, testAD)
		if err != nil {
			b.Fatalf("Encrypt() err = %v, want nil", err)
		}
		if _, err := f.env.Decrypt(ctx, "bench", ct, testAD); err != nil {
			b.Fatalf("Decrypt(ct, ad) err = %v, want nil", err)
		}
	}
}

// BenchmarkRawAESGCMPlusHKDF1KB is the baseline: one HKDF-SHA256 key
// derivation, then AES-256-GCM seal and open of the same bytes.
func BenchmarkRawAESGCMPlusHKDF1KB(b *testing.B) {
	pt := bytes.Repeat([]byte{'x'}, 1024)
	key, salt, nonce := make([]byte, 32), make([]byte, 32), make([]byte, 12)
	rand.Read(key)
	rand.Read(salt)
	ad := []byte(testAD.Table + testAD.PK + testAD.SK + testAD.Attribute)
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		rand.Read(nonce)
		fk, err := hkdf.Key(sha256.New, key, salt, "bench", 32)
		if err != nil {
			b.Fatalf("hkdf.Key() err = %v, want nil", err)
		}
		block, _ := aes.NewCipher(fk)
		aead, _ := cipher.NewGCM(block)
		ct := aead.Seal(nil, nonce, pt, ad)
		if _, err := aead.Open(nil, nonce, ct, ad); err != nil {
			b.Fatalf("Open() err = %v, want nil", err)
		}
	}
}

// BenchmarkRawPerOperationHKDF1KB is what any per-value-key scheme pays:
// an HKDF and a GCM key setup for the seal and again for the open.
func BenchmarkRawPerOperationHKDF1KB(b *testing.B) {
	pt := bytes.Repeat([]byte{'x'}, 1024)
	key, salt, nonce := make([]byte, 32), make([]byte, 32), make([]byte, 12)
	rand.Read(key)
	rand.Read(salt)
	ad := []byte(testAD.Table + testAD.PK + testAD.SK + testAD.Attribute)
	aead := func() cipher.AEAD {
		fk, err := hkdf.Key(sha256.New, key, salt, "bench", 32)
		if err != nil {
			b.Fatalf("hkdf.Key() err = %v, want nil", err)
		}
		block, _ := aes.NewCipher(fk)
		a, _ := cipher.NewGCM(block)
		return a
	}
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		rand.Read(nonce)
		ct := aead().Seal(nil, nonce, pt, ad)
		if _, err := aead().Open(nil, nonce, ct, ad); err != nil {
			b.Fatalf("Open() err = %v, want nil", err)
		}
	}
}
