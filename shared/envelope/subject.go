package envelope

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Wrapped subject key format, version 1:
//
//	0x01 || nonce (12) || AES-256-GCM(branch key, subject key) || tag (16)
//
// with associated data wrapLabel || len(table) || table || len(pk) || pk
// || branch version (4-byte big-endian lengths and version).
const (
	wrapV1      byte = 0x01
	wrappedSize      = 1 + nonceSize + keySize + tagSize
	wrapLabel        = "waguard/envelope v1 subject key"
)

// errUnwrap reports a wrapped subject key that failed authentication.
var errUnwrap = errors.New("wrapped subject key failed authentication")

// subjectKey returns the subject's key from the cache or the keys table,
// creating it when create is set and it does not exist.
func (e *Envelope) subjectKey(ctx context.Context, subject string, create bool) (*aesKey, error) {
	if k, ok := e.subjects.get(subject, e.cfg.Now()); ok {
		e.stats.subjectHits.Add(1)
		return k, nil
	}
	e.stats.subjectMiss.Add(1)
	gen := e.deletes.Load()
	k, err := e.readSubject(ctx, subject)
	if create && errors.Is(err, ErrSubjectKeyNotFound) {
		k, err = e.createSubject(ctx, subject)
	}
	if err != nil {
		return nil, fmt.Errorf("get subject key: %w", err)
	}
	// Cache only if no DeleteSubjectKey ran meanwhile: it may have
	// deleted the key just read.
	if e.deletes.Load() == gen {
		e.subjects.put(subject, k, e.cfg.Now())
	}
	return k, nil
}

// readSubject reads and unwraps the subject's key.
func (e *Envelope) readSubject(ctx context.Context, subject string) (*aesKey, error) {
	pk := subjectPK(subject)
	item, err := e.getItem(ctx, pk, subjectSK)
	if errors.Is(err, errNoItem) {
		return nil, ErrSubjectKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read subject key: %w", err)
	}
	wrapped, err := binaryAttr(item, attrWrapped)
	if err != nil {
		return nil, fmt.Errorf("read subject key: %w", err)
	}
	version, err := versionAttr(item, attrBranchVersion)
	if err != nil {
		return nil, fmt.Errorf("read subject key: %w", err)
	}
	bk, err := e.branchKey(ctx, version)
	if err != nil {
		return nil, err
	}
	return unwrapSubject(bk, wrapped, e.cfg.KeysTable, pk, version)
}

// createSubject generates a subject key and stores it wrapped under the
// active branch key with a create-only put; the loser of a race reads the
// winner's key. Nothing is written unless the branch key is available.
func (e *Envelope) createSubject(ctx context.Context, subject string) (*aesKey, error) {
	var rnd [keySize + nonceSize]byte
	if _, err := io.ReadFull(e.cfg.Rand, rnd[:]); err != nil {
		return nil, fmt.Errorf("generate subject key: %w", err)
	}
	k, err := newKey(rnd[:keySize])
	clear(rnd[:keySize])
	if err != nil {
		return nil, err
	}
	version, bk, err := e.activeBranch(ctx)
	if err != nil {
		return nil, err
	}
	pk := subjectPK(subject)
	wrapped, err := wrapSubject(bk, rnd[keySize:], k, e.cfg.KeysTable, pk, version)
	if err != nil {
		return nil, err
	}
	in := &dynamodb.PutItemInput{
		TableName:           &e.cfg.KeysTable,
		Item:                itemKey(pk, subjectSK),
		ConditionExpression: aws.String(condNotExists),
	}
	in.Item[attrWrapped] = &types.AttributeValueMemberB{Value: wrapped}
	in.Item[attrBranchVersion] = numAttr(int64(version))
	in.Item[attrCreatedAt] = numAttr(e.cfg.Now().Unix())
	won, err := e.putIfAbsent(ctx, in, "put subject key")
	if err != nil {
		return nil, err
	}
	if !won {
		return e.readSubject(ctx, subject)
	}
	e.stats.subjectsCreated.Add(1)
	return k, nil
}

// wrapSubject encrypts subject key k under branch key bk.
func wrapSubject(bk *aesKey, nonce []byte, k *aesKey, table, pk string, version int) ([]byte, error) {
	aead, err := newGCM(bk.b[:])
	if err != nil {
		return nil, fmt.Errorf("wrap subject key: %w", err)
	}
	out := make([]byte, 0, wrappedSize)
	out = append(out, wrapV1)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, k.b[:], wrapAAD(table, pk, version)), nil
}

// unwrapSubject decrypts a wrapped subject key, checking its length and
// version first.
func unwrapSubject(bk *aesKey, wrapped []byte, table, pk string, version int) (*aesKey, error) {
	if len(wrapped) != wrappedSize || wrapped[0] != wrapV1 {
		return nil, fmt.Errorf("unwrap subject key: %w", errUnwrap)
	}
	aead, err := newGCM(bk.b[:])
	if err != nil {
		return nil, fmt.Errorf("unwrap subject key: %w", err)
	}
	nonce := wrapped[1 : 1+nonceSize]
	var k aesKey
	if _, err := aead.Open(k.b[:0], nonce, wrapped[1+nonceSize:], wrapAAD(table, pk, version)); err != nil {
		return nil, fmt.Errorf("unwrap subject key: %w", errUnwrap)
	}
	return &k, nil
}

func wrapAAD(table, pk string, version int) []byte {
	b := make([]byte, 0, len(wrapLabel)+12+len(table)+len(pk))
	b = append(b, wrapLabel...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(table)))
	b = append(b, table...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(pk)))
	b = append(b, pk...)
	return binary.BigEndian.AppendUint32(b, uint32(version))
}
