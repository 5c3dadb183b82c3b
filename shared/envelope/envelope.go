package envelope

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/waguard/waguard/shared/deadline"
)

// ErrDecrypt is the one error Decrypt returns for a ciphertext that is
// malformed, tampered with, bound to other associated data or encrypted
// under another key. It carries no detail on purpose.
var ErrDecrypt = errors.New("envelope: decryption failed")

// ErrSubjectKeyNotFound is returned (wrapped) by Decrypt when the subject
// has no key: it was never created, or it was deleted (crypto-shredded).
// Callers treat the data as erased.
var ErrSubjectKeyNotFound = errors.New("envelope: subject key not found")

// kmsAPI holds the KMS calls the package makes; *kms.Client satisfies it.
type kmsAPI interface {
	GenerateDataKey(ctx context.Context, params *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, params *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// keysTable holds the DynamoDB calls the package makes on the keys table;
// *dynamodb.Client satisfies it.
type keysTable interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Config configures an [Envelope]. KeyID and KeysTable are required.
type Config struct {
	// KeyID is the KMS key (alias, ID or ARN) that wraps branch keys. It
	// is also passed on every Decrypt, so a branch key wrapped under any
	// other KMS key is refused.
	KeyID string
	// KeysTable is the keys table name.
	KeysTable string
	// BranchTTL bounds how long an unwrapped branch key and the active
	// version pointer are cached (default 10 minutes).
	BranchTTL time.Duration
	// SubjectCacheSize bounds the number of cached subject keys (default
	// 10,000).
	SubjectCacheSize int
	// SubjectTTL bounds how long a subject key is cached (default 5
	// minutes).
	SubjectTTL time.Duration
	// CallTimeout bounds each KMS and DynamoDB call (default 3 seconds).
	CallTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand is the source of keys, salts and nonces (default crypto/rand).
	// Only tests set it.
	Rand io.Reader
}

// Envelope encrypts and decrypts fields under per-subject keys. It is safe
// for concurrent use; build one per cold start and share it.
type Envelope struct {
	kms      kmsAPI
	db       keysTable
	cfg      Config
	branches *branchCache
	subjects *lru[*aesKey]
	deletes  atomic.Uint64 // DeleteSubjectKey calls begun and ended
	stats    counters
}

// New returns an Envelope using kmsClient for branch keys and db for the
// keys table.
func New(kmsClient kmsAPI, db keysTable, cfg Config) (*Envelope, error) {
	switch {
	case kmsClient == nil || db == nil:
		return nil, errors.New("envelope: nil KMS or DynamoDB client")
	case cfg.KeyID == "":
		return nil, errors.New("envelope: KeyID is required")
	case cfg.KeysTable == "":
		return nil, errors.New("envelope: KeysTable is required")
	}
	cfg = withDefaults(cfg)
	return &Envelope{
		kms:      kmsClient,
		db:       db,
		cfg:      cfg,
		branches: newBranchCache(cfg.BranchTTL),
		subjects: newLRU[*aesKey](cfg.SubjectCacheSize, cfg.SubjectTTL),
	}, nil
}

func withDefaults(c Config) Config {
	if c.BranchTTL <= 0 {
		c.BranchTTL = 10 * time.Minute
	}
	if c.SubjectCacheSize <= 0 {
		c.SubjectCacheSize = 10_000
	}
	if c.SubjectTTL <= 0 {
		c.SubjectTTL = 5 * time.Minute
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 3 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	return c
}

// Encrypt encrypts plaintext for subject (an opaque id, such as the blind
// index) bound to ad, creating the subject's key on first use. It returns
// an error, and writes nothing, when KMS or the keys table fails.
func (e *Envelope) Encrypt(ctx context.Context, subject string, plaintext []byte, ad AD) ([]byte, error) {
	if err := checkArgs(subject, ad); err != nil {
		return nil, err
	}
	if len(plaintext) > MaxPlaintext {
		return nil, fmt.Errorf("envelope: plaintext over %d bytes", MaxPlaintext)
	}
	k, err := e.subjectKey(ctx, subject, true)
	if err != nil {
		return nil, err
	}
	var rnd [saltSize + nonceSize]byte
	if _, err := io.ReadFull(e.cfg.Rand, rnd[:]); err != nil {
		return nil, fmt.Errorf("read salt and nonce: %w", err)
	}
	return seal(k, rnd[:saltSize], rnd[saltSize:], plaintext, ad)
}

// Ready makes sure subject's key is available (creating it if need be),
// so that a caller can fail before an irreversible step, such as a
// provider call, rather than after it: a later Encrypt for subject then
// needs no KMS or DynamoDB call while the caches hold.
func (e *Envelope) Ready(ctx context.Context, subject string) error {
	if subject == "" {
		return errors.New("envelope: empty subject")
	}
	_, err := e.subjectKey(ctx, subject, true)
	return err
}

// Decrypt decrypts a ciphertext Encrypt returned for the same subject and
// ad. It returns [ErrDecrypt] for any malformed or inauthentic ciphertext,
// an error wrapping [ErrSubjectKeyNotFound] when the subject's key does
// not exist (erased), and other errors when KMS or the keys table fails.
func (e *Envelope) Decrypt(ctx context.Context, subject string, ciphertext []byte, ad AD) ([]byte, error) {
	if err := checkArgs(subject, ad); err != nil {
		return nil, err
	}
	h, ok := parse(ciphertext)
	if !ok {
		return nil, ErrDecrypt
	}
	k, err := e.subjectKey(ctx, subject, false)
	if err != nil {
		return nil, err
	}
	return open(k, h, ciphertext, ad)
}

// DeleteSubjectKey deletes the subject's key from the keys table and from
// this process's cache, making every ciphertext of that subject
// undecryptable (crypto-shredding). Deleting a missing key is not an
// error. Other processes may keep a cached copy for [Config.SubjectTTL].
func (e *Envelope) DeleteSubjectKey(ctx context.Context, subject string) error {
	if err := checkSubject(subject); err != nil {
		return err
	}
	// Bumping deletes before and after stops a concurrent read that
	// started before the delete from caching the deleted key.
	e.deletes.Add(1)
	e.subjects.remove(subject)
	cctx, cancel := deadline.Within(ctx, deadline.DynamoDB, e.cfg.CallTimeout)
	defer cancel()
	_, err := e.db.DeleteItem(cctx, &dynamodb.DeleteItemInput{
		TableName: &e.cfg.KeysTable,
		Key:       itemKey(subjectPK(subject), subjectSK),
	})
	e.deletes.Add(1)
	e.subjects.remove(subject)
	if err != nil {
		return fmt.Errorf("delete subject key: %w", err)
	}
	return nil
}

// String describes the envelope without revealing key material.
func (e *Envelope) String() string { return "envelope.Envelope{[keys redacted]}" }

// GoString describes the envelope without revealing key material, also
// for %#v.
func (e *Envelope) GoString() string { return e.String() }

// LogValue implements slog.LogValuer, so an Envelope never logs keys.
func (e *Envelope) LogValue() slog.Value { return slog.StringValue(e.String()) }

// maxSubjectLen keeps "subject#<id>" within DynamoDB's 2 KB partition key.
const maxSubjectLen = 1024

func checkSubject(subject string) error {
	if subject == "" || len(subject) > maxSubjectLen {
		return fmt.Errorf("envelope: subject id must be 1 to %d bytes", maxSubjectLen)
	}
	return nil
}

func checkArgs(subject string, ad AD) error {
	if err := checkSubject(subject); err != nil {
		return err
	}
	if !ad.valid() {
		return errors.New("envelope: AD must name table, pk, sk and attribute")
	}
	return nil
}

// Stats counts KMS requests and cache use since New; metrics read it.
type Stats struct {
	// KMSGenerateDataKey and KMSDecrypt count KMS requests, failed ones
	// included.
	KMSGenerateDataKey, KMSDecrypt uint64
	// BranchCacheHits and BranchCacheMisses count branch key lookups.
	BranchCacheHits, BranchCacheMisses uint64
	// SubjectCacheHits and SubjectCacheMisses count subject key lookups.
	SubjectCacheHits, SubjectCacheMisses uint64
	// SubjectKeysCreated counts subject keys this process wrote.
	SubjectKeysCreated uint64
}

// KMSRequests is the total number of KMS requests.
func (s Stats) KMSRequests() uint64 { return s.KMSGenerateDataKey + s.KMSDecrypt }

type counters struct {
	kmsGenerate, kmsDecrypt  atomic.Uint64
	branchHits, branchMisses atomic.Uint64
	subjectHits, subjectMiss atomic.Uint64
	subjectsCreated          atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (e *Envelope) Stats() Stats {
	c := &e.stats
	return Stats{
		KMSGenerateDataKey: c.kmsGenerate.Load(),
		KMSDecrypt:         c.kmsDecrypt.Load(),
		BranchCacheHits:    c.branchHits.Load(),
		BranchCacheMisses:  c.branchMisses.Load(),
		SubjectCacheHits:   c.subjectHits.Load(),
		SubjectCacheMisses: c.subjectMiss.Load(),
		SubjectKeysCreated: c.subjectsCreated.Load(),
	}
}
