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

// batchWriter is the extra call erasure makes; *dynamodb.Client has it.
type batchWriter interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

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
// expired) and reports what it deleted and whether items remain. Each call
// is safe to repeat: deleting a deleted item is a no-op.
func (s *Store) ErasePage(ctx context.Context, subject string) (Counts, bool, error) {
	bw, ok := s.db.(batchWriter)
	if !ok {
		return Counts{}, false, errors.New("erase: table client cannot batch-write")
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.name, ConsistentRead: aws.Bool(true), Limit: aws.Int32(25),
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
	reqs := make([]types.WriteRequest, 0, len(out.Items))
	for _, it := range out.Items {
		c = c.Add(kindOf(str(it, "sk")))
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(str(it, "pk"), str(it, "sk"))}})
	}
	if err := s.batchDelete(ctx, bw, reqs); err != nil {
		return Counts{}, false, err
	}
	return c, len(out.LastEvaluatedKey) > 0 || len(out.Items) == 25, nil
}

// batchDelete writes reqs, retrying unprocessed items with backoff (they
// are what DynamoDB returns under throttling) until ctx ends.
func (s *Store) batchDelete(ctx context.Context, bw batchWriter, reqs []types.WriteRequest) error {
	wait := 20 * time.Millisecond
	for len(reqs) > 0 {
		out, err := bw.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.name: reqs}})
		if err != nil {
			return fmt.Errorf("erase: batch delete: %w", err)
		}
		reqs = out.UnprocessedItems[s.name]
		if len(reqs) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("erase: batch delete: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
	return nil
}

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
