package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/waguard/waguard/shared/blindindex"
	"github.com/waguard/waguard/shared/envelope"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/signature"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
)

// Benchmark-only values.
const (
	benchSecret   = "bench-app-secret-0001"
	benchFrom     = "12015550123" // 201-555-0123 is reserved for fiction
	benchKeyID    = "alias/waguard-bench-data"
	benchKeysName = "waguard-bench-keys"
	benchDataName = "waguard-bench-data"
)

// benchPayload returns testdata/meta/text.json filled in, with the text
// padded so that the whole body is about 1 KB.
func benchPayload(b *testing.B, at time.Time) []byte {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "meta", "text.json"))
	if err != nil {
		b.Fatalf("ReadFile(text.json) err = %v, want nil", err)
	}
	r := strings.NewReplacer("{{FROM}}", benchFrom, "{{WAMID}}", "wamid.HBgLMTIwMTU1NTAxMjMVAgASGBQzQUJFTkNIMDAwMDAwMDAwMDAxAA==",
		"{{TS}}", strconv.FormatInt(at.Unix(), 10))
	body := []byte(r.Replace(string(raw)))
	const marker = "Where is my order?"
	pad := strings.Repeat("x", max(0, 1024-len(body)))
	return bytes.Replace(body, []byte(marker), []byte(marker+" "+pad), 1)
}

// BenchmarkHotPath1KB is the webhook's work for one ~1 KB Meta text
// delivery without network: signature check, parse, events, encryption of
// the four personal fields with warm key caches (no KMS or keys-table call
// in the loop) and building the store's transaction. The data table
// discards the writes; every iteration has a fresh lookup.
func BenchmarkHotPath1KB(b *testing.B) {
	ctx := b.Context()
	now := time.Now()
	body := benchPayload(b, now)
	key := []byte(benchSecret)
	header := signature.SignMeta(key, body)
	keys, st, ekms := newBenchStore(b, now)
	subject := warmSubject(b, ctx, keys, st, now)
	kmsCalls := ekms.calls()

	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		if err := signature.VerifyMeta(body, header, key); err != nil {
			b.Fatalf("VerifyMeta() err = %v, want nil", err)
		}
		env, err := whatsapp.Parse(body)
		if err != nil {
			b.Fatalf("Parse() err = %v, want nil", err)
		}
		evs := whatsapp.Events(env)
		if len(evs) != 1 || evs[0].Kind != whatsapp.KindMessage {
			b.Fatalf("Events() = %v, want one message", evs)
		}
		m := evs[0].Message
		err = st.PutInbound(ctx, store.Inbound{Subject: subject, Lookup: keys.Lookup(blindindex.KindWAMID, m.ID+strconv.Itoa(i)),
			Phone: "+" + m.From, ProviderID: m.ID, ProfileName: m.ProfileName, Type: m.Type, Body: []byte(m.Text),
			At: m.Time, Class: retention.ClassSupport}, store.Unit{})
		if err != nil {
			b.Fatalf("PutInbound() err = %v, want nil", err)
		}
	}
	b.StopTimer()
	if got := ekms.calls(); got != kmsCalls {
		b.Fatalf("KMS calls in the loop = %d, want 0", got-kmsCalls)
	}
}

// BenchmarkCryptoFloor1KB is the least any verified, encrypted store of
// the same body costs: HMAC-SHA256 over it and one AES-256-GCM seal, with
// a key setup per operation like the hot path's per-value key.
func BenchmarkCryptoFloor1KB(b *testing.B) {
	body := benchPayload(b, time.Now())
	mac, aesKey, nonce := []byte(benchSecret), make([]byte, 32), make([]byte, 12)
	rand.Read(aesKey)
	want := hmac.New(sha256.New, mac)
	want.Write(body)
	sum := want.Sum(nil)

	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h := hmac.New(sha256.New, mac)
		h.Write(body)
		if !hmac.Equal(h.Sum(nil), sum) {
			b.Fatal("HMAC mismatch")
		}
		block, err := aes.NewCipher(aesKey)
		if err != nil {
			b.Fatalf("aes.NewCipher() err = %v, want nil", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			b.Fatalf("cipher.NewGCM() err = %v, want nil", err)
		}
		rand.Read(nonce)
		_ = aead.Seal(nil, nonce, body, nil)
	}
}

// newBenchStore returns blind-index keys and a store encrypting with an
// envelope over the in-memory KMS and keys table, writing to a table that
// discards everything.
func newBenchStore(b *testing.B, now time.Time) (*blindindex.Keys, *store.Store, *benchKMS) {
	b.Helper()
	keys, err := blindindex.NewKeys(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		b.Fatalf("NewKeys() err = %v, want nil", err)
	}
	k := newBenchKMS()
	env, err := envelope.New(k, &benchKeysTable{items: map[string]map[string]types.AttributeValue{}},
		envelope.Config{KeyID: benchKeyID, KeysTable: benchKeysName, BranchTTL: time.Hour, SubjectTTL: time.Hour})
	if err != nil {
		b.Fatalf("envelope.New() err = %v, want nil", err)
	}
	st := store.New(discardTable{}, env, store.Config{Table: benchDataName, Policy: retention.DefaultPolicy(),
		Now: func() time.Time { return now }})
	return keys, st, k
}

// warmSubject stores one message for the benchmark's sender, so that the
// branch and subject keys are cached, and returns the subject.
func warmSubject(b *testing.B, ctx context.Context, keys *blindindex.Keys, st *store.Store, now time.Time) string {
	b.Helper()
	n, err := phone.ParseWAID(benchFrom)
	if err != nil {
		b.Fatalf("ParseWAID(%s) err = %v, want nil", benchFrom, err)
	}
	subject, err := keys.Index(n)
	if err != nil {
		b.Fatalf("Index() err = %v, want nil", err)
	}
	if err := st.PutInbound(ctx, store.Inbound{Subject: subject, Lookup: keys.Lookup(blindindex.KindWAMID, "warm"),
		Phone: n.E164(), ProviderID: "warm", Type: "text", Body: []byte("warm"), At: now, Class: retention.ClassSupport}, store.Unit{}); err != nil {
		b.Fatalf("PutInbound(warm-up) err = %v, want nil", err)
	}
	return subject
}

// discardTable is the data table of the benchmark: every call succeeds
// and nothing is kept. It is a harness, not a fake of DynamoDB.
type discardTable struct{}

func (discardTable) GetItem(ctx context.Context, _ *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, ctx.Err()
}

func (discardTable) Query(ctx context.Context, _ *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return &dynamodb.QueryOutput{}, ctx.Err()
}

func (discardTable) PutItem(ctx context.Context, _ *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, ctx.Err()
}

func (discardTable) TransactWriteItems(ctx context.Context, _ *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return &dynamodb.TransactWriteItemsOutput{}, ctx.Err()
}

// benchKMS wraps data keys with AES-256-GCM under a fixed all-zero key,
// binding the encryption context, and counts calls.
type benchKMS struct {
	aead cipher.AEAD
	mu   sync.Mutex
	n    int
}

func newBenchKMS() *benchKMS {
	block, _ := aes.NewCipher(make([]byte, 32)) // a 32-byte key cannot fail
	aead, _ := cipher.NewGCM(block)
	return &benchKMS{aead: aead}
}

func (k *benchKMS) begin(ctx context.Context) error {
	k.mu.Lock()
	k.n++
	k.mu.Unlock()
	return ctx.Err()
}

func (k *benchKMS) calls() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n
}

// contextAD is the encryption context as associated data; the envelope
// sends two fixed keys, so their order is fixed here.
func contextAD(ec map[string]string) []byte {
	return []byte("purpose=" + ec["purpose"] + "\x00version=" + ec["version"])
}

func (k *benchKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, _ ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	if err := k.begin(ctx); err != nil {
		return nil, err
	}
	pt, nonce := make([]byte, 32), make([]byte, 12)
	rand.Read(pt)
	rand.Read(nonce)
	blob := k.aead.Seal(nonce, nonce, pt, contextAD(in.EncryptionContext))
	return &kms.GenerateDataKeyOutput{CiphertextBlob: blob, Plaintext: pt, KeyId: in.KeyId}, nil
}

func (k *benchKMS) Decrypt(ctx context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	if err := k.begin(ctx); err != nil {
		return nil, err
	}
	if len(in.CiphertextBlob) < 12+16 {
		return nil, errors.New("bench kms: invalid ciphertext")
	}
	pt, err := k.aead.Open(nil, in.CiphertextBlob[:12], in.CiphertextBlob[12:], contextAD(in.EncryptionContext))
	if err != nil {
		return nil, errors.New("bench kms: invalid ciphertext")
	}
	return &kms.DecryptOutput{Plaintext: pt, KeyId: in.KeyId}, nil
}

// benchKeysTable is an in-memory keys table honouring
// attribute_not_exists(pk); it refuses any other condition.
type benchKeysTable struct {
	mu    sync.Mutex
	items map[string]map[string]types.AttributeValue
}

func benchItemKey(k map[string]types.AttributeValue) string {
	pk, _ := k["pk"].(*types.AttributeValueMemberS)
	sk, _ := k["sk"].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return ""
	}
	return pk.Value + "\x00" + sk.Value
}

func (t *benchKeysTable) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return &dynamodb.GetItemOutput{Item: t.items[benchItemKey(in.Key)]}, nil
}

func (t *benchKeysTable) PutItem(ctx context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k := benchItemKey(in.Item)
	switch cond := aws.ToString(in.ConditionExpression); cond {
	case "":
	case "attribute_not_exists(pk)":
		if _, ok := t.items[k]; ok {
			return nil, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
		}
	default:
		return nil, errors.New("bench keys table: unsupported condition " + cond)
	}
	t.items[k] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func (t *benchKeysTable) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.items, benchItemKey(in.Key))
	return &dynamodb.DeleteItemOutput{}, nil
}
