package storetest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KeyID is the KMS key id [KMS] knows.
const KeyID = "alias/waguard-test-data"

// KMS is an in-memory KMS key: GenerateDataKey and Decrypt of 256-bit
// data keys, which is what shared/envelope calls. It is safe for
// concurrent use and honours context cancellation.
type KMS struct {
	aead cipher.AEAD
}

// NewKMS returns a KMS key with a fresh random master key.
func NewKMS() *KMS {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	block, _ := aes.NewCipher(k)
	aead, _ := cipher.NewGCM(block)
	return &KMS{aead: aead}
}

// contextAD binds the key id and the encryption context, sorted.
func contextAD(keyID string, ec map[string]string) []byte {
	b := []byte(keyID)
	for _, k := range slices.Sorted(maps.Keys(ec)) {
		for _, s := range []string{k, ec[k]} {
			b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

func check(ctx context.Context, keyID *string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if aws.ToString(keyID) != KeyID {
		return &kmstypes.NotFoundException{Message: aws.String("key not found")}
	}
	return nil
}

// GenerateDataKey returns a fresh AES-256 key and its wrapped form.
func (k *KMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, _ ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	if err := check(ctx, in.KeyId); err != nil {
		return nil, err
	}
	if in.KeySpec != kmstypes.DataKeySpecAes256 {
		return nil, &kmstypes.InvalidKeyUsageException{Message: aws.String("only AES_256 is modelled")}
	}
	pt, nonce := make([]byte, 32), make([]byte, 12)
	_, _ = rand.Read(pt)
	_, _ = rand.Read(nonce)
	blob := k.aead.Seal(nonce, nonce, pt, contextAD(KeyID, in.EncryptionContext))
	return &kms.GenerateDataKeyOutput{CiphertextBlob: blob, Plaintext: pt, KeyId: aws.String(KeyID)}, nil
}

// Decrypt unwraps a data key made under the same encryption context.
func (k *KMS) Decrypt(ctx context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	if err := check(ctx, in.KeyId); err != nil {
		return nil, err
	}
	invalid := &kmstypes.InvalidCiphertextException{Message: aws.String("invalid ciphertext")}
	if len(in.CiphertextBlob) < 12+16 {
		return nil, invalid
	}
	pt, err := k.aead.Open(nil, in.CiphertextBlob[:12], in.CiphertextBlob[12:], contextAD(KeyID, in.EncryptionContext))
	if err != nil {
		return nil, invalid
	}
	return &kms.DecryptOutput{Plaintext: pt, KeyId: aws.String(KeyID)}, nil
}
