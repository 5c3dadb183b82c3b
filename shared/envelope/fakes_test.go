package envelope_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

const (
	testKeyAlias = "alias/waguard-test-data"
	testKeyARN   = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000001"
	testTable    = "waguard-test-keys"
)

// fakeKMS wraps data keys with real AES-256-GCM under a fixed master key,
// binding the key ARN and the encryption context, like KMS does. It
// honours ctx cancellation and counts calls.
type fakeKMS struct {
	aead cipher.AEAD

	mu       sync.Mutex
	generate int
	decrypt  int
	err      error               // when set, every call fails with it
	contexts []map[string]string // every encryption context seen
	keyIDs   []string            // every KeyId passed to Decrypt
}

func newFakeKMS() *fakeKMS {
	block, _ := aes.NewCipher(make([]byte, 32)) // fixed all-zero master key: cannot fail
	aead, _ := cipher.NewGCM(block)
	return &fakeKMS{aead: aead}
}

func (f *fakeKMS) begin(ctx context.Context, keyID *string, ec map[string]string, decrypt bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if decrypt {
		f.decrypt++
		f.keyIDs = append(f.keyIDs, aws.ToString(keyID))
	} else {
		f.generate++
	}
	f.contexts = append(f.contexts, maps.Clone(ec))
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.err != nil {
		return f.err
	}
	if id := aws.ToString(keyID); id != testKeyAlias && id != testKeyARN {
		return &kmstypes.NotFoundException{Message: aws.String("key not found")}
	}
	return nil
}

func (f *fakeKMS) calls() (generate, decrypt int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.generate, f.decrypt
}

func (f *fakeKMS) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// contextAAD encodes the key ARN and the encryption context, sorted.
func contextAAD(ec map[string]string) []byte {
	b := []byte(testKeyARN)
	for _, k := range slices.Sorted(maps.Keys(ec)) {
		for _, s := range []string{k, ec[k]} {
			b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

func (f *fakeKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, _ ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	if err := f.begin(ctx, in.KeyId, in.EncryptionContext, false); err != nil {
		return nil, err
	}
	if in.KeySpec != kmstypes.DataKeySpecAes256 {
		return nil, &kmstypes.InvalidKeyUsageException{Message: aws.String("want AES_256")}
	}
	pt := make([]byte, 32)
	nonce := make([]byte, 12)
	rand.Read(pt)
	rand.Read(nonce)
	blob := f.aead.Seal(nonce, nonce, pt, contextAAD(in.EncryptionContext))
	return &kms.GenerateDataKeyOutput{CiphertextBlob: blob, Plaintext: pt, KeyId: aws.String(testKeyARN)}, nil
}

func (f *fakeKMS) Decrypt(ctx context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	if err := f.begin(ctx, in.KeyId, in.EncryptionContext, true); err != nil {
		return nil, err
	}
	invalid := &kmstypes.InvalidCiphertextException{Message: aws.String("invalid ciphertext")}
	if len(in.CiphertextBlob) < 12+16 {
		return nil, invalid
	}
	pt, err := f.aead.Open(nil, in.CiphertextBlob[:12], in.CiphertextBlob[12:], contextAAD(in.EncryptionContext))
	if err != nil {
		return nil, invalid
	}
	return &kms.DecryptOutput{Plaintext: pt, KeyId: aws.String(testKeyARN)}, nil
}

// fakeTable is an in-memory keys table. It honours the two condition
// expressions the package uses and rejects any other, honours ctx
// cancellation and counts calls.
type fakeTable struct {
	mu     sync.Mutex
	items  map[[2]string]map[string]types.AttributeValue
	gets   int
	puts   int
	err    error                        // when set, every call fails with it
	onPut  func(*dynamodb.PutItemInput) // runs before a put, unlocked
	putted []string                     // pk/sk of successful puts
}

func newFakeTable() *fakeTable {
	return &fakeTable{items: make(map[[2]string]map[string]types.AttributeValue)}
}

func (f *fakeTable) check(ctx context.Context, table *string, key map[string]types.AttributeValue) ([2]string, error) {
	if err := ctx.Err(); err != nil {
		return [2]string{}, err
	}
	if f.err != nil {
		return [2]string{}, f.err
	}
	if aws.ToString(table) != testTable {
		return [2]string{}, &types.ResourceNotFoundException{Message: aws.String("no such table")}
	}
	pk, ok1 := key["pk"].(*types.AttributeValueMemberS)
	sk, ok2 := key["sk"].(*types.AttributeValueMemberS)
	if !ok1 || !ok2 || pk.Value == "" || sk.Value == "" {
		return [2]string{}, errors.New("fake table: pk and sk must be non-empty strings")
	}
	return [2]string{pk.Value, sk.Value}, nil
}

func (f *fakeTable) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	k, err := f.check(ctx, in.TableName, in.Key)
	if err != nil {
		return nil, err
	}
	if !aws.ToBool(in.ConsistentRead) {
		return nil, errors.New("fake table: keys must be read with ConsistentRead")
	}
	return &dynamodb.GetItemOutput{Item: maps.Clone(f.items[k])}, nil
}

func (f *fakeTable) PutItem(ctx context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if f.onPut != nil {
		f.onPut(in)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	k, err := f.check(ctx, in.TableName, in.Item)
	if err != nil {
		return nil, err
	}
	if err := f.condition(in, f.items[k]); err != nil {
		return nil, err
	}
	f.items[k] = maps.Clone(in.Item)
	f.putted = append(f.putted, k[0]+"/"+k[1])
	return &dynamodb.PutItemOutput{}, nil
}

// condition evaluates the expressions the package uses against old.
func (f *fakeTable) condition(in *dynamodb.PutItemInput, old map[string]types.AttributeValue) error {
	failed := &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	switch expr := aws.ToString(in.ConditionExpression); expr {
	case "":
		return nil
	case "attribute_not_exists(pk)":
		if old != nil {
			return failed
		}
		return nil
	case "#v = :v":
		name := in.ExpressionAttributeNames["#v"]
		want, ok := in.ExpressionAttributeValues[":v"].(*types.AttributeValueMemberN)
		got, ok2 := old[name].(*types.AttributeValueMemberN)
		if !ok {
			return errors.New("fake table: :v must be a number")
		}
		if !ok2 || got.Value != want.Value {
			return failed
		}
		return nil
	default:
		return fmt.Errorf("fake table: unsupported condition %q", expr)
	}
}

func (f *fakeTable) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, err := f.check(ctx, in.TableName, in.Key)
	if err != nil {
		return nil, err
	}
	if in.ConditionExpression != nil {
		return nil, errors.New("fake table: unexpected delete condition")
	}
	delete(f.items, k)
	return &dynamodb.DeleteItemOutput{}, nil
}

func (f *fakeTable) item(pk, sk string) map[string]types.AttributeValue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.items[[2]string{pk, sk}])
}

func (f *fakeTable) setItem(pk, sk string, item map[string]types.AttributeValue) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[[2]string{pk, sk}] = item
}

func (f *fakeTable) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeTable) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.items)
}

func (f *fakeTable) counts() (gets, puts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets, f.puts
}
