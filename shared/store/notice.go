package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/notice"
)

// Notice is a registered notice: the exact text shown to people when
// they gave consent, named by its id (shared/notice).
type Notice struct {
	// SHA256 is the notice's id; Text the text.
	SHA256, Text string
	// RecordedAt is when the notice was first registered.
	RecordedAt time.Time
}

// NoticePK is the partition key of the registered notice with id sha256.
// Notices live outside subject partitions: they are not personal data, an
// erasure leaves them and they never expire.
func NoticePK(sha256 string) string { return "notice#" + sha256 }

// errNotice: a consent event's notice id does not name its text, or the
// text is not a notice (shared/notice.ValidText).
var errNotice = errors.New("store: the consent event's notice is not valid")

// consentNotice returns the id of ev's notice ("" for none) and the
// writes that register it: none when the notice is already registered. A
// registered notice is never deleted or changed, so the ledger entry then
// names an item that exists without touching it, and concurrent grants
// with one notice do not conflict on its item.
func (s *Store) consentNotice(ctx context.Context, ev ConsentEvent) (string, []types.TransactWriteItem, error) {
	if ev.Notice == "" && ev.NoticeSHA256 == "" {
		return "", nil, nil
	}
	// The id alone names a notice registered with an earlier entry (the
	// pending grant a confirmation copies it from): it must be registered.
	byID := ev.Notice == ""
	id := notice.ID(ev.Notice)
	if byID {
		id = ev.NoticeSHA256
	}
	if (!byID && !notice.ValidText(ev.Notice)) || (byID && !notice.ValidID(id)) || (ev.NoticeSHA256 != "" && ev.NoticeSHA256 != id) {
		return "", nil, errNotice
	}
	// An eventually consistent read is enough for a text: a notice once
	// seen is never removed, and one not seen yet is registered
	// idempotently. An id alone must be found, maybe just registered.
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(NoticePK(id), "notice"),
		ProjectionExpression: aws.String("pk"), ConsistentRead: aws.Bool(byID)})
	if err != nil {
		return "", nil, fmt.Errorf("get notice: %w", err)
	}
	switch {
	case len(out.Item) > 0:
		return id, nil, nil
	case byID:
		return "", nil, errNotice
	}
	return id, []types.TransactWriteItem{s.noticeWrite(id, ev.Notice)}, nil
}

// noticeWrite registers text under id, in the ledger entry's own
// transaction. It never changes a registered notice (its text and first
// time stay), and never fails for one: two grants registering the same
// notice at once both commit.
func (s *Store) noticeWrite(id, text string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.name, Key: key(NoticePK(id), "notice"),
		UpdateExpression:         aws.String("SET #text = if_not_exists(#text, :text), recorded_at = if_not_exists(recorded_at, :now)"),
		ExpressionAttributeNames: map[string]string{"#text": "text"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":text": sAttr(text),
			":now": num(s.now().Unix())}}}
}

// Notice reads the registered notice with id sha256. Returns
// [ErrNotFound] when there is none.
func (s *Store) Notice(ctx context.Context, sha256 string) (Notice, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(NoticePK(sha256), "notice"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Notice{}, fmt.Errorf("get notice: %w", err)
	}
	if len(out.Item) == 0 {
		return Notice{}, ErrNotFound
	}
	return Notice{SHA256: sha256, Text: str(out.Item, "text"), RecordedAt: time.Unix(numAttr(out.Item, "recorded_at"), 0).UTC()}, nil
}
