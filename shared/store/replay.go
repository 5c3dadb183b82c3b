package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Seen reports whether a replay key (a keyed hash; never a raw id) was
// remembered and has not expired.
func (s *Store) Seen(ctx context.Context, scope, replayKey string) (bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key("dedup#"+scope+"#"+replayKey, "dedup"),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("get replay key: %w", err)
	}
	return len(out.Item) > 0 && live(out.Item, s.now()), nil
}

// Remember records a replay key until expires.
func (s *Store) Remember(ctx context.Context, scope, replayKey string, expires time.Time) error {
	item := key("dedup#"+scope+"#"+replayKey, "dedup")
	item["expires_at"] = num(expires.Unix())
	if err := s.transact(ctx, []types.TransactWriteItem{put(s.name, item, "")}, -1, -1); err != nil {
		return fmt.Errorf("remember replay key: %w", err)
	}
	return nil
}
