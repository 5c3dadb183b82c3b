package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/events"
)

// EventRecord is the outbox entry of one event for the business
// (docs/events.md): written in the same transaction as the change it
// reports and as that change's audit event, whose id keys it, so a change
// can never exist without its event nor an event without its change. The
// events function finds it from the audit table's stream. It holds keyed
// hashes, waguard's ids and non-personal fields only; content is read from
// the message when a content destination receives the event.
type EventRecord struct {
	// AuditID is the id of the audit event written with the change.
	AuditID string
	Type    events.Type
	// Subject is the person's canonical partition key; "" for
	// subject.erased, whose person is gone (Fields.ContactID names them).
	Subject string
	// MessageSK locates the message in Subject's partition, for message
	// events ("" otherwise).
	MessageSK string
	// Fields are the event's ids and non-personal data.
	Fields events.Data
	// At is when the change happened.
	At time.Time
}

// eventTTL is how long an event record is kept: past the retry schedule
// (about 28 hours) and a week of dead-letter redrives.
const eventTTL = 8 * 24 * time.Hour

// eventsOf files a person's event records in the by-lookup index.
func eventsOf(subject string) string { return "evt-of#" + subject }

// EraseEventRecords deletes the event records still kept about subject
// (the outbox of events not delivered yet, or delivered less than 8 days
// ago), for its erasure: an event not delivered when its person is
// erased is never delivered afterwards, and nothing filed under their
// blind index stays. Safe to repeat.
func (s *Store) EraseEventRecords(ctx context.Context, subject string) error {
	for {
		in := &dynamodb.QueryInput{TableName: &s.name, IndexName: aws.String("by-lookup"), Limit: aws.Int32(100),
			KeyConditionExpression:    aws.String("lookup = :l"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":l": sAttr(eventsOf(subject))}}
		keys, next, err := s.queryPage(ctx, in, "")
		if err != nil {
			return fmt.Errorf("erase event records: %w", err)
		}
		for _, k := range keys {
			if err := s.transact(ctx, []types.TransactWriteItem{{Delete: &types.Delete{TableName: &s.name, Key: key(str(k, "pk"), str(k, "sk"))}}}, -1, -1); err != nil {
				return fmt.Errorf("erase event records: %w", err)
			}
		}
		if next == "" || len(keys) == 0 {
			return nil
		}
	}
}

// EventPK is the partition key of the event record of audit event id.
func EventPK(auditID string) string { return "evt#" + auditID }

// EventWrite returns the create-only put of r, for the change's own
// transaction (before its audit items).
func (s *Store) EventWrite(r EventRecord) types.TransactWriteItem {
	f := r.Fields
	item := map[string]types.AttributeValue{"pk": sAttr(EventPK(r.AuditID)), "sk": sAttr("evt"), "type": sAttr(string(r.Type)),
		"at": num(r.At.UnixNano()), "expires_at": num(s.now().Add(eventTTL).Unix())}
	if r.Subject != "" { // filed by person, so that an erasure deletes what is not delivered yet
		item["subject"], item["lookup"] = sAttr(r.Subject), sAttr(eventsOf(r.Subject))
	}
	for name, v := range map[string]string{"message_sk": r.MessageSK, "contact_id": f.ContactID, "message_id": f.MessageID, "consent_event_id": f.ConsentEventID,
		"erasure_request_id": f.ErasureRequestID, "direction": f.Direction, "message_type": f.MessageType, "purpose": f.Purpose,
		"status": f.Status, "action": f.Action, "method": f.Method, "notice_sha256": f.NoticeSHA256,
		"confirms": f.Confirms} {
		if v != "" {
			item[name] = sAttr(v)
		}
	}
	if f.ErrorCode != 0 {
		item["error_code"] = num(int64(f.ErrorCode))
	}
	return put(s.name, item, "attribute_not_exists(pk)")
}

// Event reads the event record of audit event id; [ErrNotFound] when the
// audit event recorded no event (or it expired).
func (s *Store) Event(ctx context.Context, auditID string) (EventRecord, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(EventPK(auditID), "evt"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return EventRecord{}, fmt.Errorf("get event record: %w", err)
	}
	it := out.Item
	if len(it) == 0 || !live(it, s.now()) {
		return EventRecord{}, ErrNotFound
	}
	code, _ := strconv.Atoi(numString(it, "error_code"))
	return EventRecord{AuditID: auditID, Type: events.Type(str(it, "type")), Subject: str(it, "subject"), MessageSK: str(it, "message_sk"),
		At: time.Unix(0, numAttr(it, "at")).UTC(),
		Fields: events.Data{ContactID: str(it, "contact_id"), MessageID: str(it, "message_id"), ConsentEventID: str(it, "consent_event_id"), ErasureRequestID: str(it, "erasure_request_id"),
			Direction: str(it, "direction"), MessageType: str(it, "message_type"), Purpose: str(it, "purpose"), Status: str(it, "status"),
			ErrorCode: code, Action: str(it, "action"), Method: str(it, "method"), NoticeSHA256: str(it, "notice_sha256"),
			Confirms: str(it, "confirms")}}, nil
}

func numString(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}

// ErasedSince reports whether subject was erased at or after at (so an
// event from at must not be delivered): [consent.Erasure.Withholds] of
// its erasure suppression. Erased and not lifted, nothing from before or
// after is delivered; lifted by a fresh grant, only what came before the
// erasure is withheld.
func (s *Store) ErasedSince(ctx context.Context, subject string, at time.Time) (bool, error) {
	e, err := s.erasureOf(ctx, subject)
	if err != nil {
		return false, err
	}
	return e.Withholds(at), nil
}

// ContentAt decrypts the content of the message at sk in subject's
// partition; [ErrNotFound] when it is gone (erased or expired).
func (s *Store) ContentAt(ctx context.Context, subject, sk string) (Content, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(SubjectPK(subject), sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Content{}, fmt.Errorf("get message: %w", err)
	}
	if len(out.Item) == 0 || !live(out.Item, s.now()) {
		return Content{}, ErrNotFound
	}
	return s.OpenContent(ctx, subject, out.Item)
}
