package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/retention"
)

// deleter is the extra call the retention sweep makes; *dynamodb.Client
// has it.
type deleter interface {
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// SweepBucket deletes the items of one expiry bucket (a day and shard of
// the sparse by-expiry index) whose expiry has passed at now, a page at a
// time, and returns how many it deleted per class and whether the bucket
// may hold more expired items. Each delete is conditional on the item
// still being expired, so an item whose expiry was extended meanwhile is
// kept. It never scans the table.
func (s *Store) SweepBucket(ctx context.Context, bucket string, now time.Time) (map[retention.Class]int, bool, error) {
	d, ok := s.db.(deleter)
	if !ok {
		return nil, false, errors.New("sweep: table client cannot delete")
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.name, IndexName: aws.String("by-expiry"), Limit: aws.Int32(100),
		KeyConditionExpression:    aws.String("exp_bucket = :b AND expires_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": sAttr(bucket), ":now": num(now.Unix())}})
	if err != nil {
		return nil, false, fmt.Errorf("sweep: query bucket: %w", err)
	}
	counts := map[retention.Class]int{}
	for _, it := range out.Items {
		_, err := d.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.name, Key: key(str(it, "pk"), str(it, "sk")),
			ConditionExpression:       aws.String("expires_at <= :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())}})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf):
			continue // extended or already gone
		case err != nil:
			return counts, true, fmt.Errorf("sweep: delete: %w", err)
		}
		counts[retention.Class(str(it, "class"))]++
	}
	return counts, len(out.LastEvaluatedKey) > 0, nil
}

// SweepCursor reads the first day not fully swept under name ("" when
// there is none yet).
func (s *Store) SweepCursor(ctx context.Context, name string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key("cursor#"+name, "sweep"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("sweep: read cursor: %w", err)
	}
	return str(out.Item, "day"), nil
}

// SetSweepCursor records the first day not fully swept.
func (s *Store) SetSweepCursor(ctx context.Context, name, day string) error {
	item := key("cursor#"+name, "sweep")
	item["day"] = sAttr(day)
	return s.transact(ctx, []types.TransactWriteItem{put(s.name, item, "")}, -1, -1)
}
