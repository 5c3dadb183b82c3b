package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Counts are the items erased for a subject, by kind.
type Counts struct {
	Messages, Statuses, ConsentEvents, Other int
}

// Add returns the sum of two counts.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.Messages + o.Messages, c.Statuses + o.Statuses, c.ConsentEvents + o.ConsentEvents, c.Other + o.Other}
}

// MarkErased writes the subject's erasure suppression (idempotent): from
// then on nothing new is stored for them and nothing is sent to them
// until a fresh consent is recorded. It holds only the keyed hash, the
// request id and the time.
func (s *Store) MarkErased(ctx context.Context, subject, requestID string, at time.Time) error {
	item := key(ErasedPK(subject), "erased")
	item["request"], item["at"] = sAttr(requestID), num(at.Unix())
	return s.transact(ctx, []types.TransactWriteItem{put(s.name, item, "")}, -1, -1)
}

// ErasePage deletes up to 25 items of the subject's partition (live or
// expired) for erasure request id, adding their counts to the request in
// the same transaction, so counts are exact across crashes. It reports
// what it deleted and whether items may remain; each call is safe to
// repeat.
func (s *Store) ErasePage(ctx context.Context, id, subject string) (Counts, bool, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.name, ConsistentRead: aws.Bool(true), Limit: aws.Int32(erasePage),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ProjectionExpression:      aws.String("pk, sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sAttr(SubjectPK(subject))}})
	if err != nil {
		return Counts{}, false, fmt.Errorf("erase: query subject: %w", err)
	}
	if len(out.Items) == 0 {
		return Counts{}, false, nil
	}
	var c Counts
	items := make([]types.TransactWriteItem, 0, len(out.Items)+1)
	for _, it := range out.Items {
		c = c.Add(kindOf(str(it, "sk")))
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.name, Key: key(str(it, "pk"), str(it, "sk"))}})
	}
	if err := s.transact(ctx, append(items, s.countUpdate(id, c)), -1, -1); err != nil {
		return Counts{}, false, fmt.Errorf("erase: delete page: %w", err)
	}
	return c, len(out.Items) == erasePage, nil
}

// erasePage is how many items one erase transaction deletes (DynamoDB
// allows 100 actions per transaction; 25 keeps each call short).
const erasePage = 25

func kindOf(sk string) Counts {
	switch {
	case strings.HasPrefix(sk, "msg#"):
		return Counts{Messages: 1}
	case strings.HasPrefix(sk, "status#"):
		return Counts{Statuses: 1}
	case strings.HasPrefix(sk, "consent#"):
		return Counts{ConsentEvents: 1}
	}
	return Counts{Other: 1}
}
