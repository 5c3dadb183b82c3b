// Package store keeps everything waguard holds about data subjects in the
// data table (docs/data-model.md): one partition per subject, keyed by the
// subject's keyed blind index, holding their messages, statuses, consent
// ledger, suppressions and service window.
//
// # Security properties
//
// Phone numbers, message bodies, provider message ids and profile names are
// stored only as ciphertext from [sealer] (shared/envelope), each bound by
// associated data to its table, item key and attribute. Keys, index keys
// and plain attributes hold only keyed hashes and non-personal values.
// Writes that belong together (a message and its audit event, a consent
// event and its suppression change) are one TransactWriteItems call, and an
// inbound message is refused atomically once the subject was erased.
//
// Every read filters out items whose `expires_at` has passed, because
// DynamoDB's TTL deletes late.
//
// # Non-goals
//
// It decides no messaging policy (whether a send is allowed, rate
// limits): callers do. It applies the few rules that keep its own records
// consistent, as pure functions of their own packages where they are
// rules: the order of the consent ledger ([Profile.Consented] reads the
// latest entry per purpose), what an erasure suppression withholds
// (shared/consent's Erasure, which the store's conditions also state), the
// service window that only moves forward (shared/window), which
// identifiers an event attaches and whether that links a person
// (shared/identity), and expiry, re-expiry under a shortened period and
// the write time an expiry implies (shared/retention).
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/envelope"
	"github.com/waguard/waguard/shared/retention"
)

// Sentinel errors callers act on.
var (
	// ErrDuplicate: the item (message, status, consent event) already exists.
	ErrDuplicate = errors.New("store: duplicate")
	// ErrErased: the subject was erased; nothing new is stored for them.
	ErrErased = errors.New("store: subject erased")
	// ErrNotFound: no live item matched.
	ErrNotFound = errors.New("store: not found")
)

// table holds the DynamoDB calls the store makes.
type table interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// sealer encrypts field values under a subject's key; *envelope.Envelope
// satisfies it.
type sealer interface {
	Encrypt(ctx context.Context, subject string, plaintext []byte, ad envelope.AD) ([]byte, error)
	Decrypt(ctx context.Context, subject string, ciphertext []byte, ad envelope.AD) ([]byte, error)
	Ready(ctx context.Context, subject string) error
}

// Ready checks the subject's data can be encrypted now (key available,
// KMS reachable when the key was not cached), so the send path can refuse
// before calling the provider instead of sending a message it then cannot
// store.
func (s *Store) Ready(ctx context.Context, subject string) error {
	if err := s.seal.Ready(ctx, subject); err != nil {
		return fmt.Errorf("subject key: %w", err)
	}
	return nil
}

// Store is the data table. It is safe for concurrent use.
type Store struct {
	db     table
	name   string
	seal   sealer
	policy retention.Policy
	now    func() time.Time
	audit  Preparer
}

// Config configures a Store.
type Config struct {
	// Table is the data table name.
	Table string
	// Policy sets expiries per retention class.
	Policy retention.Policy
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Audit writes the audit events of every change ([Unit]); a store
	// without one refuses a change that has audit events.
	Audit Preparer
}

// New returns a store over db that encrypts with seal.
func New(db table, seal sealer, c Config) *Store {
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Store{db: db, name: c.Table, seal: seal, policy: c.Policy, now: c.Now, audit: c.Audit}
}

// SubjectPK is the partition key of a subject's data.
func SubjectPK(subject string) string { return "sub#" + subject }

// ErasedPK is the partition key of a subject's erasure suppression, which
// outlives the erasure of their partition.
func ErasedPK(subject string) string { return "erased#" + subject }

// field is one attribute to encrypt.
type field struct {
	name  string
	value []byte
}

// sealFields encrypts fields into item under the subject's key.
func (s *Store) sealFields(ctx context.Context, subject, pk, sk string, item map[string]types.AttributeValue, fields ...field) error {
	for _, f := range fields {
		if f.value == nil {
			continue
		}
		ct, err := s.seal.Encrypt(ctx, subject, f.value, envelope.AD{Table: s.name, PK: pk, SK: sk, Attribute: f.name})
		if err != nil {
			return fmt.Errorf("encrypt %s: %w", f.name, err)
		}
		item[f.name] = &types.AttributeValueMemberB{Value: ct}
	}
	return nil
}

// open decrypts attribute name of item; a missing attribute is nil.
func (s *Store) open(ctx context.Context, subject string, item map[string]types.AttributeValue, name string) ([]byte, error) {
	b, ok := item[name].(*types.AttributeValueMemberB)
	if !ok {
		return nil, nil
	}
	pk, sk := str(item, "pk"), str(item, "sk")
	pt, err := s.seal.Decrypt(ctx, subject, b.Value, envelope.AD{Table: s.name, PK: pk, SK: sk, Attribute: name})
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", name, err)
	}
	return pt, nil
}

// expiring sets expires_at and exp_bucket for class c written at t.
func (s *Store) expiring(item map[string]types.AttributeValue, c retention.Class, t time.Time) error {
	exp, err := s.policy.Expiry(c, t)
	if err != nil {
		return err
	}
	item["class"] = &types.AttributeValueMemberS{Value: string(c)}
	item["written_at"] = num(t.Unix()) // lets a shortened policy reach existing items
	item["expires_at"] = num(exp.Unix())
	item["exp_bucket"] = &types.AttributeValueMemberS{Value: retention.Bucket(str(item, "pk"), exp)}
	return nil
}

// live reports whether an item has not expired at now.
func live(item map[string]types.AttributeValue, now time.Time) bool {
	n, ok := item["expires_at"].(*types.AttributeValueMemberN)
	if !ok {
		return true
	}
	exp, err := strconv.ParseInt(n.Value, 10, 64)
	return err != nil || exp > now.Unix()
}

// transact runs items as one transaction and maps the cancellation reason
// of item dupAt (if ≥ 0) to ErrDuplicate and of erasedAt to ErrErased. The
// SDK's error stays wrapped, so an audit.Pending in the same transaction
// can tell which items were refused.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem, dupAt, erasedAt int) error {
	return s.commit(ctx, items, span{erasedAt, erasedAt + 1, ErrErased}, span{dupAt, dupAt + 1, ErrDuplicate})
}

// span gives the items from..to-1 of a transaction a meaning: when one of
// their conditions cancels it, the error wraps err.
type span struct {
	from, to int
	err      error
}

// commit runs items as one transaction. When a condition cancels it, the
// error wraps the err of the first span (in item order) holding a failed
// item, and the SDK's error too, so an audit.Pending in the same
// transaction can tell which items were refused.
func (s *Store) commit(ctx context.Context, items []types.TransactWriteItem, spans ...span) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for i, r := range tc.CancellationReasons {
			if aws.ToString(r.Code) != "ConditionalCheckFailed" {
				continue
			}
			for _, sp := range spans {
				if i >= sp.from && i < sp.to && sp.from >= 0 {
					return fmt.Errorf("%w: %w", sp.err, err)
				}
			}
		}
	}
	if err != nil {
		return fmt.Errorf("transact write: %w", err)
	}
	return nil
}

// notErased is the condition check that refuses a write for an erased
// subject in the same transaction: the erasure suppression exists and was
// not lifted by a fresh consent ([consent.Erasure.InForce], as a
// condition).
func (s *Store) notErased(subject string) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:           &s.name,
		Key:                 key(ErasedPK(subject), "erased"),
		ConditionExpression: aws.String("attribute_not_exists(pk) OR attribute_exists(lifted_at)"),
	}}
}

// notErasedSince is [Store.notErased] for an event the subject wrote at
// at: also refused when the subject was erased at or after that time,
// even if a fresh consent lifted the suppression since. A redelivery (Meta
// retries for 7 days) or a replay of an event from before the erasure so
// never brings erased data back ([consent.Erasure.Withholds], as a
// condition).
func (s *Store) notErasedSince(subject string, at time.Time) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 &s.name,
		Key:                       key(ErasedPK(subject), "erased"),
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR (attribute_exists(lifted_at) AND (attribute_not_exists(#at) OR #at < :t))"),
		ExpressionAttributeNames:  map[string]string{"#at": "at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": num(at.Unix())},
	}}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}
}

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func num(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func numAttr(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func sAttr(v string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: v} }

func put(table string, item map[string]types.AttributeValue, cond string) types.TransactWriteItem {
	p := &types.Put{TableName: aws.String(table), Item: item}
	if cond != "" {
		p.ConditionExpression = aws.String(cond)
	}
	return types.TransactWriteItem{Put: p}
}
