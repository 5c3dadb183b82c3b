package store

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/envelope"
)

// idEncoding writes message ids in the alphabet of waguard's other ids.
var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// InboundMessageID is waguard's id of the inbound message whose item key
// holds lookup (the keyed hash of its provider message id): "msg_" and 24
// base32 characters of SHA-256("waguard/v1/message-id\x00" ‖ lookup). A
// redelivery of the message has the same lookup, so the same id; the id
// reveals neither the lookup nor the provider message id. Outbound ids
// (random, same form) and inbound ids share one namespace.
func InboundMessageID(lookup string) string {
	h := sha256.Sum256([]byte("waguard/v1/message-id\x00" + lookup))
	return "msg_" + idEncoding.EncodeToString(h[:])[:24]
}

// messageID is the id of a message item: its `mid`, or for an item
// written before messages carried one, the id its key implies.
func messageID(item map[string]types.AttributeValue) string {
	if id := str(item, "mid"); id != "" {
		return id
	}
	sk := str(item, "sk")
	if lookup, ok := strings.CutPrefix(sk, "msg#in#"); ok {
		return InboundMessageID(lookup)
	}
	return strings.TrimPrefix(sk, "msg#out#")
}

// MessageRef is a live message without its content opened: enough to
// order a subject's messages and choose a page; [Store.OpenMessage] opens
// it. It holds ciphertext and keyed hashes only.
type MessageRef struct {
	// ID is the message id (msg_…); Direction "in" or "out"; At the
	// message's own time (received or sent).
	ID, Direction string
	At            time.Time
	partition     string
	item          map[string]types.AttributeValue
}

// erasureOf reads partition's erasure suppression ([consent.Erasure]).
func (s *Store) erasureOf(ctx context.Context, partition string) (consent.Erasure, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(ErasedPK(partition), "erased"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return consent.Erasure{}, fmt.Errorf("get erasure suppression: %w", err)
	}
	if len(out.Item) == 0 {
		return consent.Erasure{}, nil
	}
	e := consent.Erasure{Suppressed: true, Lifted: out.Item["lifted_at"] != nil}
	if at := numAttr(out.Item, "at"); at > 0 {
		e.At = time.Unix(at, 0)
	}
	return e, nil
}

// ref turns a live message item of partition into a MessageRef.
func ref(partition string, item map[string]types.AttributeValue) MessageRef {
	at := numAttr(item, "received_at")
	if at == 0 {
		at = numAttr(item, "sent_at")
	}
	return MessageRef{ID: messageID(item), Direction: str(item, "direction"), At: time.Unix(at, 0).UTC(), partition: partition, item: item}
}

// MessageRefs returns every live message of partition that no erasure
// hides, in key order (not time order). It reads the whole partition's
// messages: a subject's messages are bounded by their retention.
func (s *Store) MessageRefs(ctx context.Context, partition string) ([]MessageRef, error) {
	e, err := s.erasureOf(ctx, partition)
	if err != nil {
		return nil, err
	}
	items, err := s.queryRange(ctx, SubjectPK(partition), "msg#", "msg$")
	if err != nil {
		return nil, fmt.Errorf("message refs: %w", err)
	}
	now := s.now()
	var out []MessageRef
	for _, it := range items {
		if live(it, now) && !e.Withholds(time.Unix(numAttr(it, "written_at"), 0)) {
			out = append(out, ref(partition, it))
		}
	}
	return out, nil
}

// MessageByID returns the live message with id id (msg_…), through the
// by-id index. It returns [ErrNotFound] for an id no message has, a
// message expired or erased (or being erased), and a message written
// before messages carried their id (`mid`): those are read through
// [Store.MessageRefs].
func (s *Store) MessageByID(ctx context.Context, id string) (MessageRef, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.name, IndexName: aws.String("by-id"),
		KeyConditionExpression:    aws.String("mid = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": sAttr(id)}, Limit: aws.Int32(1)})
	if err != nil {
		return MessageRef{}, fmt.Errorf("query message id: %w", err)
	}
	if len(out.Items) == 0 {
		return MessageRef{}, ErrNotFound
	}
	pk, sk := str(out.Items[0], "pk"), str(out.Items[0], "sk")
	partition, ok := strings.CutPrefix(pk, "sub#")
	if !ok || !strings.HasPrefix(sk, "msg#") {
		return MessageRef{}, ErrNotFound
	}
	got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return MessageRef{}, fmt.Errorf("get message: %w", err)
	}
	if len(got.Item) == 0 || !live(got.Item, s.now()) {
		return MessageRef{}, ErrNotFound
	}
	e, err := s.erasureOf(ctx, partition)
	if err != nil {
		return MessageRef{}, err
	}
	if e.Withholds(time.Unix(numAttr(got.Item, "written_at"), 0)) {
		return MessageRef{}, ErrNotFound
	}
	return ref(partition, got.Item), nil
}

// OpenMessage decrypts r. It returns [ErrNotFound] once the subject key
// is gone (the partition was erased meanwhile).
func (s *Store) OpenMessage(ctx context.Context, r MessageRef) (Message, error) {
	m, err := s.message(ctx, r.partition, r.item)
	if errors.Is(err, envelope.ErrSubjectKeyNotFound) {
		return Message{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return m, err
}

// message decrypts a message item of partition.
func (s *Store) message(ctx context.Context, partition string, it map[string]types.AttributeValue) (Message, error) {
	c, err := s.OpenContent(ctx, partition, it)
	if err != nil {
		return Message{}, err
	}
	r := ref(partition, it)
	return Message{ID: r.ID, Partition: partition, SK: str(it, "sk"), Direction: r.Direction, Type: str(it, "type"),
		Class: str(it, "class"), Status: str(it, "status"), ErrorCode: int(numAttr(it, "error_code")), Lookup: str(it, "lookup"),
		At: r.At, Content: c}, nil
}

// SubjectOf returns the canonical subject of partition (the subject its
// home identifier's alias names, or the partition itself when no alias
// records one: data written before identities) and the subject's audit
// pseudonym as the alias records it ("" without an alias: the caller
// derives it from the identifier).
func (s *Store) SubjectOf(ctx context.Context, partition string) (subject, pseudonym string, err error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(AliasPK(partition), "alias"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", "", fmt.Errorf("get alias: %w", err)
	}
	if sub := str(out.Item, "subject"); sub != "" {
		return sub, str(out.Item, "pseudonym"), nil
	}
	return partition, "", nil
}

// contactPrefix marks contact items in the sparse by-lookup index.
const contactPrefix = "contact#"

// RecordContact records, once, that contactID (a contact id handed to the
// business) names subject: a `contact` item in the subject's partition,
// found by the by-lookup index, so that it is erased with the subject
// and holds no blind index outside the partition. It writes nothing for
// a subject whose erasure suppression is in force (the erasure deletes
// the partition; a late write must not survive it).
func (s *Store) RecordContact(ctx context.Context, subject, contactID string) error {
	for attempt := 0; ; attempt++ {
		err := s.recordContact(ctx, subject, contactID)
		if !conflicted(err) || attempt == 2 {
			return err
		}
		// Two events of one new contact delivered at once: the other
		// recorded it, which the next read sees.
	}
}

// conflicted reports whether a transaction was cancelled by a concurrent
// one on the same item (DynamoDB's TransactionConflict).
func conflicted(err error) bool {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return false
	}
	for _, r := range tc.CancellationReasons {
		if aws.ToString(r.Code) == "TransactionConflict" {
			return true
		}
	}
	return false
}

func (s *Store) recordContact(ctx context.Context, subject, contactID string) error {
	pk := SubjectPK(subject)
	got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(pk, "contact"), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("#l"), ExpressionAttributeNames: map[string]string{"#l": "lookup"}})
	if err != nil {
		return fmt.Errorf("get contact: %w", err)
	}
	if str(got.Item, "lookup") == contactPrefix+contactID {
		return nil
	}
	item := map[string]types.AttributeValue{"pk": sAttr(pk), "sk": sAttr("contact"), "lookup": sAttr(contactPrefix + contactID),
		"at": num(s.now().Unix())}
	err = s.transact(ctx, []types.TransactWriteItem{s.notErased(subject), put(s.name, item, "")}, -1, 0)
	if errors.Is(err, ErrErased) {
		return nil
	}
	return err
}

// ContactSubject returns the partition whose contact item records
// contactID ([Store.RecordContact]); [Store.SubjectOf] gives its canonical
// subject. It returns [ErrNotFound] for a contact id never recorded or
// erased.
func (s *Store) ContactSubject(ctx context.Context, contactID string) (string, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.name, IndexName: aws.String("by-lookup"),
		KeyConditionExpression:    aws.String("lookup = :l"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":l": sAttr(contactPrefix + contactID)}, Limit: aws.Int32(1)})
	if err != nil {
		return "", fmt.Errorf("query contact: %w", err)
	}
	if len(out.Items) == 0 {
		return "", ErrNotFound
	}
	partition, ok := strings.CutPrefix(str(out.Items[0], "pk"), "sub#")
	if !ok {
		return "", ErrNotFound
	}
	return partition, nil
}
