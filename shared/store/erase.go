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

// Counts are the items erased for a subject, by kind.
type Counts struct {
	Messages, Statuses, ConsentEvents, Other int
	// RateRecords counts rate-limit state keyed by the subject's index.
	RateRecords int
}

// Add returns the sum of two counts.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.Messages + o.Messages, c.Statuses + o.Statuses, c.ConsentEvents + o.ConsentEvents, c.Other + o.Other,
		c.RateRecords + o.RateRecords}
}

// MarkErased writes the subject's erasure suppression (idempotent): from
// then on nothing new is stored for them and nothing is sent to them
// until a fresh consent is recorded ([Store.LiftErasure]), and nothing
// they wrote before at is ever stored again. It holds only the keyed
// hash, the request id and the time, and replaces an earlier lifted one.
func (s *Store) MarkErased(ctx context.Context, subject, requestID string, at time.Time) error {
	item := key(ErasedPK(subject), "erased")
	item["request"], item["at"] = sAttr(requestID), num(at.Unix())
	return s.transact(ctx, []types.TransactWriteItem{put(s.name, item, "")}, -1, -1)
}

// ErasePage deletes up to 25 items of the subject's partition (live or
// expired) for erasure request id, adding their counts to the request in
// the same transaction, so counts are exact across crashes. Each delete
// is conditional on the item existing: when another run of the same
// request (the POST's inline run and the scheduled resume) removed one
// first, nothing is written or counted and the caller reads the page
// again. It reports what it deleted and whether items may remain; each
// call is safe to repeat and to run concurrently.
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
		items = append(items, existingDelete(s.name, str(it, "pk"), str(it, "sk")))
	}
	err = s.transact(ctx, append(items, s.countUpdate(id, c)), -1, -1)
	if raced(err, len(items)) {
		return Counts{}, true, nil
	}
	if err != nil {
		return Counts{}, false, fmt.Errorf("erase: delete page: %w", err)
	}
	return c, len(out.Items) == erasePage, nil
}

// existingDelete deletes an item only if it is there, so that a count
// added in the same transaction counts what this delete removed.
func existingDelete(table, pk, sk string) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: &table, Key: key(pk, sk),
		ConditionExpression: aws.String("attribute_exists(pk)")}}
}

// raced reports whether a transaction was cancelled because one of its
// first n items (conditional deletes) found its item already gone.
func raced(err error, n int) bool {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return false
	}
	for i, r := range tc.CancellationReasons {
		if i < n && aws.ToString(r.Code) == "ConditionalCheckFailed" {
			return true
		}
	}
	return false
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

// EraseRecords deletes records outside the subject's partition that are
// keyed by their blind index (rate-limit state, given as pk/sk pairs), and
// adds how many existed to the request's rate-record count in the same
// transaction. Like [Store.ErasePage], it counts only what its own
// deletes removed; safe to repeat and to run concurrently.
func (s *Store) EraseRecords(ctx context.Context, id string, keys [][2]string) (int, error) {
	for attempt := 0; ; attempt++ {
		n, err := s.eraseRecords(ctx, id, keys)
		if !raced(err, n) || attempt == 3 {
			return n, err
		}
	}
}

func (s *Store) eraseRecords(ctx context.Context, id string, keys [][2]string) (int, error) {
	items := make([]types.TransactWriteItem, 0, len(keys)+1)
	for _, k := range keys {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(k[0], k[1]), ConsistentRead: aws.Bool(true),
			ProjectionExpression: aws.String("pk")})
		if err != nil {
			return 0, fmt.Errorf("erase: get record: %w", err)
		}
		if len(out.Item) > 0 {
			items = append(items, existingDelete(s.name, k[0], k[1]))
		}
	}
	n := len(items)
	if n == 0 {
		return 0, nil
	}
	update := s.erasureUpdate(id, "ADD n_rate :r", map[string]types.AttributeValue{":r": num(int64(n))})
	err := s.transact(ctx, append(items, update), -1, -1)
	if raced(err, n) {
		return n, err
	}
	if err != nil {
		return 0, fmt.Errorf("erase: delete records: %w", err)
	}
	return n, nil
}
