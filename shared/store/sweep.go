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

// ReexpireBucket applies a shortened retention period to the items of one
// class in one expiry bucket: an item whose write time plus days has
// passed is deleted, any other gets its earlier expiry and bucket. Each
// change is conditional on the item's expiry being unchanged. It returns
// how many it deleted and moved, and whether the bucket may hold more.
func (s *Store) ReexpireBucket(ctx context.Context, bucket string, class retention.Class, days int, now time.Time) (int, int, bool, error) {
	d, ok := s.db.(deleter)
	if !ok {
		return 0, 0, false, errors.New("reexpire: table client cannot delete")
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.name, IndexName: aws.String("by-expiry"), Limit: aws.Int32(100),
		KeyConditionExpression: aws.String("exp_bucket = :b"), FilterExpression: aws.String("#c = :c AND written_at > :zero"),
		ExpressionAttributeNames:  map[string]string{"#c": "class"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": sAttr(bucket), ":c": sAttr(string(class)), ":zero": num(0)}})
	if err != nil {
		return 0, 0, false, fmt.Errorf("reexpire: query bucket: %w", err)
	}
	deleted, moved := 0, 0
	for _, it := range out.Items {
		newExp := time.Unix(numAttr(it, "written_at"), 0).Add(time.Duration(days) * 24 * time.Hour)
		old := it["expires_at"]
		if newExp.Unix() >= numAttr(it, "expires_at") {
			continue
		}
		cond := map[string]types.AttributeValue{":old": old}
		var err error
		if !newExp.After(now) {
			_, err = d.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.name, Key: key(str(it, "pk"), str(it, "sk")),
				ConditionExpression: aws.String("expires_at = :old"), ExpressionAttributeValues: cond})
			if err == nil {
				deleted++
			}
		} else {
			cond[":e"], cond[":b"] = num(newExp.Unix()), sAttr(retention.Bucket(str(it, "pk"), newExp))
			err = s.transact(ctx, []types.TransactWriteItem{{Update: &types.Update{TableName: &s.name, Key: key(str(it, "pk"), str(it, "sk")),
				UpdateExpression: aws.String("SET expires_at = :e, exp_bucket = :b"), ConditionExpression: aws.String("expires_at = :old"),
				ExpressionAttributeValues: cond}}}, -1, -1)
			if err == nil {
				moved++
			}
		}
		var ccf *types.ConditionalCheckFailedException
		var tc *types.TransactionCanceledException
		if err != nil && !errors.As(err, &ccf) && !errors.As(err, &tc) {
			return deleted, moved, true, fmt.Errorf("reexpire: %w", err)
		}
	}
	return deleted, moved, len(out.LastEvaluatedKey) > 0, nil
}

// SweepPolicy reads the retention days per class the sweep last applied.
func (s *Store) SweepPolicy(ctx context.Context, name string) (map[retention.Class]int, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key("cursor#"+name, "policy"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("sweep: read policy: %w", err)
	}
	p := map[retention.Class]int{}
	for _, c := range retention.Classes {
		if n := numAttr(out.Item, "days_"+string(c)); n > 0 {
			p[c] = int(n)
		}
	}
	return p, nil
}

// SetSweepPolicy records the retention days per class now applied.
func (s *Store) SetSweepPolicy(ctx context.Context, name string, p retention.Policy) error {
	item := key("cursor#"+name, "policy")
	for _, c := range retention.Classes {
		if d, err := p.Days(c); err == nil {
			item["days_"+string(c)] = num(int64(d))
		}
	}
	return s.transact(ctx, []types.TransactWriteItem{put(s.name, item, "")}, -1, -1)
}

// OldestInBucket reads the first page of one expiry bucket, earliest
// expiry first, and returns per class the earliest write time among the
// items it holds. The retention function probes the buckets the sweep
// has not yet emptied with it to report each class's oldest surviving
// item; an item written before written_at was recorded counts from its
// expiry less the class's current retention period.
func (s *Store) OldestInBucket(ctx context.Context, bucket string) (map[retention.Class]time.Time, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.name, IndexName: aws.String("by-expiry"), Limit: aws.Int32(100),
		KeyConditionExpression:    aws.String("exp_bucket = :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": sAttr(bucket)}})
	if err != nil {
		return nil, fmt.Errorf("oldest: query bucket: %w", err)
	}
	oldest := map[retention.Class]time.Time{}
	for _, it := range out.Items {
		c := retention.Class(str(it, "class"))
		if !c.Valid() {
			continue
		}
		w := time.Unix(numAttr(it, "written_at"), 0)
		if numAttr(it, "written_at") == 0 {
			days, err := s.policy.Days(c)
			if err != nil {
				continue // not a retention class (no policy to measure against)
			}
			w = time.Unix(numAttr(it, "expires_at"), 0).Add(-time.Duration(days) * 24 * time.Hour)
		}
		if o, ok := oldest[c]; !ok || w.Before(o) {
			oldest[c] = w
		}
	}
	return oldest, nil
}
