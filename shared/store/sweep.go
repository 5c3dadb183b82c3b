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

// SweepBucket deletes the items of one page of an expiry bucket (a day
// and shard of the sparse by-expiry index) whose expiry has passed at
// now, starting after page (a [PageKey] from the previous call; "" for
// the bucket's start). It returns how many it deleted per class and the
// page to go on from ("" when the bucket is done). Each delete is
// conditional on the item still being expired, so an item whose expiry
// was extended meanwhile is kept. It never scans the table.
func (s *Store) SweepBucket(ctx context.Context, bucket string, now time.Time, page PageKey) (map[retention.Class]int, PageKey, error) {
	d, ok := s.db.(deleter)
	if !ok {
		return nil, "", errors.New("sweep: table client cannot delete")
	}
	in := &dynamodb.QueryInput{TableName: &s.name, IndexName: aws.String("by-expiry"), Limit: aws.Int32(bucketPage),
		KeyConditionExpression:    aws.String("exp_bucket = :b AND expires_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": sAttr(bucket), ":now": num(now.Unix())}}
	out, next, err := s.queryPage(ctx, in, page)
	if err != nil {
		return nil, "", fmt.Errorf("sweep: %w", err)
	}
	counts := map[retention.Class]int{}
	for _, it := range out {
		_, err := d.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.name, Key: key(str(it, "pk"), str(it, "sk")),
			ConditionExpression:       aws.String("expires_at <= :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())}})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf):
			continue // extended or already gone
		case err != nil:
			return counts, page, fmt.Errorf("sweep: delete: %w", err)
		}
		counts[retention.Class(str(it, "class"))]++
	}
	return counts, next, nil
}

// bucketPage is how many index entries one bucket query reads.
const bucketPage = 100

// queryPage runs one page of in after page and returns its items and the
// page after it ("" when the query is done). DynamoDB applies Limit
// before FilterExpression, so a page can be empty and still have a next
// page: callers go on until the returned page is "".
func (s *Store) queryPage(ctx context.Context, in *dynamodb.QueryInput, page PageKey) ([]map[string]types.AttributeValue, PageKey, error) {
	start, err := page.decode()
	if err != nil {
		return nil, "", err
	}
	in.ExclusiveStartKey = start
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("query bucket: %w", err)
	}
	next, err := encodePageKey(out.LastEvaluatedKey)
	if err != nil {
		return nil, "", err
	}
	return out.Items, next, nil
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

// Reexpired is what one page of [Store.ReexpireBucket] did.
type Reexpired struct {
	// Deleted and Moved count items whose new period had passed (deleted)
	// or gave them an earlier expiry and bucket (moved).
	Deleted, Moved int
}

// ReexpireBucket applies a shortened retention period to the items of one
// class in one page of an expiry bucket, starting after page ("" for the
// bucket's start): each item is decided by [retention.Reexpire] from its
// write time. Each change is conditional on the item's expiry being
// unchanged. It returns what it did and the page to go on from ("" when
// the bucket is done); a page may hold no item of the class.
func (s *Store) ReexpireBucket(ctx context.Context, bucket string, class retention.Class, days int, now time.Time, page PageKey) (Reexpired, PageKey, error) {
	var r Reexpired
	d, ok := s.db.(deleter)
	if !ok {
		return r, "", errors.New("reexpire: table client cannot delete")
	}
	in := &dynamodb.QueryInput{TableName: &s.name, IndexName: aws.String("by-expiry"), Limit: aws.Int32(bucketPage),
		KeyConditionExpression: aws.String("exp_bucket = :b"), FilterExpression: aws.String("#c = :c AND written_at > :zero"),
		ExpressionAttributeNames:  map[string]string{"#c": "class"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": sAttr(bucket), ":c": sAttr(string(class)), ":zero": num(0)}}
	items, next, err := s.queryPage(ctx, in, page)
	if err != nil {
		return r, "", fmt.Errorf("reexpire: %w", err)
	}
	for _, it := range items {
		decision, newExp := retention.Reexpire(time.Unix(numAttr(it, "written_at"), 0), time.Unix(numAttr(it, "expires_at"), 0), days, now)
		cond := map[string]types.AttributeValue{":old": it["expires_at"]}
		switch decision {
		case retention.ReexpiryDelete:
			_, err = d.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.name, Key: key(str(it, "pk"), str(it, "sk")),
				ConditionExpression: aws.String("expires_at = :old"), ExpressionAttributeValues: cond})
			if err == nil {
				r.Deleted++
			}
		case retention.ReexpiryMove:
			cond[":e"], cond[":b"] = num(newExp.Unix()), sAttr(retention.Bucket(str(it, "pk"), newExp))
			err = s.transact(ctx, []types.TransactWriteItem{{Update: &types.Update{TableName: &s.name, Key: key(str(it, "pk"), str(it, "sk")),
				UpdateExpression: aws.String("SET expires_at = :e, exp_bucket = :b"), ConditionExpression: aws.String("expires_at = :old"),
				ExpressionAttributeValues: cond}}}, -1, -1)
			if err == nil {
				r.Moved++
			}
		default:
			continue
		}
		var ccf *types.ConditionalCheckFailedException
		var tc *types.TransactionCanceledException
		if err != nil && !errors.As(err, &ccf) && !errors.As(err, &tc) {
			return r, page, fmt.Errorf("reexpire: %w", err)
		}
	}
	return r, next, nil
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

// SetSweepPolicy records the retention days per class now applied, and
// ends any [PolicyProgress] under name in the same write.
func (s *Store) SetSweepPolicy(ctx context.Context, name string, p retention.Policy) error {
	item := key("cursor#"+name, "policy")
	for _, c := range retention.Classes {
		if d, err := p.Days(c); err == nil {
			item["days_"+string(c)] = num(int64(d))
		}
	}
	return s.transact(ctx, []types.TransactWriteItem{put(s.name, item, ""),
		{Delete: &types.Delete{TableName: &s.name, Key: key("cursor#"+name, "policy_progress")}}}, -1, -1)
}

// PolicyProgress is how far the retention function got applying a
// shortened policy, so that the next run goes on from there.
type PolicyProgress struct {
	// Target names the policy being applied (days per class); progress
	// towards another target does not count.
	Target string
	// Class, Day (YYYY-MM-DD), Shard and Page locate the next page of the
	// expiry index to re-expire.
	Class retention.Class
	Day   string
	Shard int
	Page  PageKey
	// StartedAt is when applying Target began.
	StartedAt time.Time
}

// PolicyProgress reads the progress record under name (the zero value
// when there is none).
func (s *Store) PolicyProgress(ctx context.Context, name string) (PolicyProgress, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key("cursor#"+name, "policy_progress"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return PolicyProgress{}, fmt.Errorf("sweep: read policy progress: %w", err)
	}
	it := out.Item
	return PolicyProgress{Target: str(it, "target"), Class: retention.Class(str(it, "class")), Day: str(it, "day"),
		Shard: int(numAttr(it, "shard")), Page: PageKey(str(it, "page")), StartedAt: time.Unix(numAttr(it, "started_at"), 0).UTC()}, nil
}

// SetPolicyProgress records p under name.
func (s *Store) SetPolicyProgress(ctx context.Context, name string, p PolicyProgress) error {
	item := key("cursor#"+name, "policy_progress")
	item["target"], item["class"], item["day"] = sAttr(p.Target), sAttr(string(p.Class)), sAttr(p.Day)
	item["shard"], item["started_at"] = num(int64(p.Shard)), num(p.StartedAt.Unix())
	if p.Page != "" {
		item["page"] = sAttr(string(p.Page))
	}
	if err := s.transact(ctx, []types.TransactWriteItem{put(s.name, item, "")}, -1, -1); err != nil {
		return fmt.Errorf("sweep: save policy progress: %w", err)
	}
	return nil
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
			var err error
			if w, err = s.policy.Written(c, time.Unix(numAttr(it, "expires_at"), 0)); err != nil {
				continue // not a retention class (no policy to measure against)
			}
		}
		if o, ok := oldest[c]; !ok || w.Before(o) {
			oldest[c] = w
		}
	}
	return oldest, nil
}
