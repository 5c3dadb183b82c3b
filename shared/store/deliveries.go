package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Delivery states.
const (
	DeliveryPending   = "pending"   // due again at NextAt
	DeliveryDelivered = "delivered" // the destination acknowledged it
	DeliveryDead      = "dead"      // out of retries: a dead letter
	DeliveryDropped   = "dropped"   // never to be delivered: the person was erased first
)

// Delivery is the retry state of one event for one destination, kept
// only when a delivery did not succeed at once. It holds ids and an error
// summary (a status code or a network error class), nothing personal.
type Delivery struct {
	// AuditID names the event (its record, [Store.Event]).
	AuditID string
	// Destination is "bus" or an endpoint's name.
	Destination string
	State       string
	// Attempts made so far; NextAt when the next is due (pending only).
	Attempts int
	NextAt   time.Time
	// LastError says why the last attempt failed.
	LastError string
	// UpdatedAt is when the state last changed.
	UpdatedAt time.Time
}

// DeliveryPK is the partition key of the delivery states of an event.
func DeliveryPK(auditID string) string { return "dlv#" + auditID }

// dueBucket names the minute a pending delivery is due in, for the
// by-lookup index: the retry run reads the minutes that have passed.
func dueBucket(t time.Time) string { return "due#" + t.UTC().Format("200601021504") }

// deadLetterLookup files dead letters in the by-lookup index.
const deadLetterLookup = "dead-letter"

// SaveDelivery writes d's state (replacing the previous one), filed for
// the retry run when pending and in the dead letters when dead.
func (s *Store) SaveDelivery(ctx context.Context, d Delivery) error {
	item := key(DeliveryPK(d.AuditID), d.Destination)
	item["state"], item["attempts"] = sAttr(d.State), num(int64(d.Attempts))
	item["updated_at"] = num(s.now().Unix())
	item["expires_at"] = num(s.now().Add(eventTTL).Unix())
	if d.LastError != "" {
		item["last_error"] = sAttr(d.LastError)
	}
	switch d.State {
	case DeliveryPending:
		item["next_at"], item["lookup"] = num(d.NextAt.Unix()), sAttr(dueBucket(d.NextAt))
	case DeliveryDead:
		item["lookup"] = sAttr(deadLetterLookup)
	}
	if err := s.transact(ctx, []types.TransactWriteItem{put(s.name, item, "")}, -1, -1); err != nil {
		return fmt.Errorf("save delivery: %w", err)
	}
	return nil
}

// GetDelivery reads one delivery state; [ErrNotFound] when there is none.
func (s *Store) GetDelivery(ctx context.Context, auditID, destination string) (Delivery, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(DeliveryPK(auditID), destination), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Delivery{}, fmt.Errorf("get delivery: %w", err)
	}
	if len(out.Item) == 0 || !live(out.Item, s.now()) {
		return Delivery{}, ErrNotFound
	}
	return deliveryOf(out.Item), nil
}

func deliveryOf(it map[string]types.AttributeValue) Delivery {
	d := Delivery{AuditID: strings.TrimPrefix(str(it, "pk"), "dlv#"), Destination: str(it, "sk"), State: str(it, "state"),
		Attempts: int(numAttr(it, "attempts")), LastError: str(it, "last_error"), UpdatedAt: time.Unix(numAttr(it, "updated_at"), 0).UTC()}
	if n := numAttr(it, "next_at"); n > 0 {
		d.NextAt = time.Unix(n, 0).UTC()
	}
	return d
}

// DueDeliveries returns one page of the deliveries filed as due in the
// minute of t (from the by-lookup index, then read consistently: a state
// that changed since is returned as it is now), and the page after it
// ("" when the minute is done).
func (s *Store) DueDeliveries(ctx context.Context, t time.Time, page PageKey) ([]Delivery, PageKey, error) {
	return s.deliveriesFiled(ctx, dueBucket(t), page)
}

// DeadLetters returns one page of dead letters and the page after it.
func (s *Store) DeadLetters(ctx context.Context, page PageKey) ([]Delivery, PageKey, error) {
	return s.deliveriesFiled(ctx, deadLetterLookup, page)
}

func (s *Store) deliveriesFiled(ctx context.Context, lookup string, page PageKey) ([]Delivery, PageKey, error) {
	in := &dynamodb.QueryInput{TableName: &s.name, IndexName: aws.String("by-lookup"), Limit: aws.Int32(100),
		KeyConditionExpression:    aws.String("lookup = :l"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":l": sAttr(lookup)}}
	keys, next, err := s.queryPage(ctx, in, page)
	if err != nil {
		return nil, "", fmt.Errorf("deliveries: %w", err)
	}
	var out []Delivery
	for _, k := range keys {
		d, err := s.GetDelivery(ctx, strings.TrimPrefix(str(k, "pk"), "dlv#"), str(k, "sk"))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, d)
	}
	return out, next, nil
}

// RecipientPK is the partition key of the destinations that received an
// event about subject: the erasure tells each of them (GDPR Art. 19).
func RecipientPK(subject string) string { return "rcpt#" + subject }

// RecordRecipient notes that destination received an event about
// subject (idempotent). A plain put: half the write units of a one-item
// transaction (make bench: about $0.6 per million events per
// destination), and concurrent deliveries of one contact's events to one
// destination cannot conflict, as transactions on one item do.
func (s *Store) RecordRecipient(ctx context.Context, subject, destination string, at time.Time) error {
	item := key(RecipientPK(subject), destination)
	item["at"] = num(at.Unix())
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.name, Item: item}); err != nil {
		return fmt.Errorf("record recipient: %w", err)
	}
	return nil
}

// Recipients lists the destinations that received an event about
// subject, sorted.
func (s *Store) Recipients(ctx context.Context, subject string) ([]string, error) {
	items, err := s.queryRange(ctx, RecipientPK(subject), " ", "~")
	if err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	var out []string
	for _, it := range items {
		out = append(out, str(it, "sk"))
	}
	return out, nil
}

// RetryCursor returns the first minute whose due deliveries the retry run
// (progress record name) has not finished, or def when it never ran.
func (s *Store) RetryCursor(ctx context.Context, name string, def time.Time) (time.Time, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key("cursor#events", name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return time.Time{}, fmt.Errorf("read retry cursor: %w", err)
	}
	if n := numAttr(out.Item, "minute"); n > 0 {
		return time.Unix(n, 0).UTC(), nil
	}
	return def, nil
}

// SetRetryCursor records the first minute the run name has not finished.
func (s *Store) SetRetryCursor(ctx context.Context, name string, minute time.Time) error {
	item := key("cursor#events", name)
	item["minute"] = num(minute.Unix())
	if err := s.transact(ctx, []types.TransactWriteItem{put(s.name, item, "")}, -1, -1); err != nil {
		return fmt.Errorf("save retry cursor: %w", err)
	}
	return nil
}
