package audit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
)

// ErrBadSignature is returned by [Digest.Verify] when a digest's hash or
// signature does not check out. It carries no detail.
var ErrBadSignature = errors.New("audit digest: bad signature")

// ParsePublicKey parses the signing key's public key, either PEM ("PUBLIC
// KEY") or the DER SubjectPublicKeyInfo that KMS GetPublicKey returns.
// Only ECDSA P-256 keys are accepted.
func ParsePublicKey(b []byte) (*ecdsa.PublicKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, errors.New("parse public key: PEM block is not a PUBLIC KEY")
		}
		b = blk.Bytes
	}
	k, err := x509.ParsePKIXPublicKey(b)
	if err != nil {
		return nil, errors.New("parse public key: not a PKIX public key")
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("parse public key: not an ECDSA P-256 key")
	}
	return pub, nil
}

// Verify checks that d's stored hash matches its contents and that its
// signature verifies under pub, offline. It returns [ErrBadSignature].
func (d *Digest) Verify(pub *ecdsa.PublicKey) error {
	if pub == nil || d.ComputeHash() != d.Hash || !ecdsa.VerifyASN1(pub, d.Hash[:], d.Signature) {
		return ErrBadSignature
	}
	return nil
}
