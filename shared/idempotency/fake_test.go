package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const testTable = "waguard-test-data"

// Conditions the store may use, written out again here so that changing
// one in the store without changing the fake fails the tests.
const (
	fakeCondCreate  = "attribute_not_exists(pk)"
	fakeCondReplace = "claim_id = :old_claim AND #status = :old_status"
	fakeCondOwned   = "claim_id = :claim AND #status = :in_progress"
)

// fakeTable is an in-memory data table that serves exactly the requests
// the store makes, evaluates their conditions, honours ctx and refuses
// anything else.
type fakeTable struct {
	mu    sync.Mutex
	items map[string]map[string]types.AttributeValue // by pk; sk is always "idem"
	calls map[string]int
	// failPut, when set, can fail a PutItem before it is applied.
	failPut func(in *dynamodb.PutItemInput) error
}

func newFakeTable() *fakeTable {
	return &fakeTable{items: map[string]map[string]types.AttributeValue{}, calls: map[string]int{}}
}

func (f *fakeTable) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if aws.ToString(in.TableName) != testTable || !aws.ToBool(in.ConsistentRead) || in.ProjectionExpression != nil {
		return nil, fmt.Errorf("fake table: unexpected GetItem %+v", in)
	}
	pk, err := fakeKey(in.Key)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["GetItem"]++
	return &dynamodb.GetItemOutput{Item: maps.Clone(f.items[pk])}, nil
}

func (f *fakeTable) PutItem(ctx context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.failPut != nil {
		if err := f.failPut(in); err != nil {
			return nil, err
		}
	}
	if aws.ToString(in.TableName) != testTable {
		return nil, fmt.Errorf("fake table: unexpected PutItem %+v", in)
	}
	pk, err := fakeKey(map[string]types.AttributeValue{"pk": in.Item["pk"], "sk": in.Item["sk"]})
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["PutItem"]++
	if err := f.check(pk, aws.ToString(in.ConditionExpression), in.ExpressionAttributeNames, in.ExpressionAttributeValues); err != nil {
		return nil, err
	}
	f.items[pk] = maps.Clone(in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

func (f *fakeTable) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if aws.ToString(in.TableName) != testTable || aws.ToString(in.ConditionExpression) != fakeCondOwned {
		return nil, fmt.Errorf("fake table: unexpected DeleteItem %+v", in)
	}
	pk, err := fakeKey(in.Key)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["DeleteItem"]++
	if err := f.check(pk, fakeCondOwned, in.ExpressionAttributeNames, in.ExpressionAttributeValues); err != nil {
		return nil, err
	}
	delete(f.items, pk)
	return &dynamodb.DeleteItemOutput{}, nil
}

// check evaluates cond against the stored item; f.mu is held.
func (f *fakeTable) check(pk, cond string, names map[string]string, values map[string]types.AttributeValue) error {
	old, exists := f.items[pk]
	var ok bool
	switch cond {
	case fakeCondCreate:
		if len(names) != 0 || len(values) != 0 {
			return errors.New("fake table: unused expression attributes")
		}
		ok = !exists
	case fakeCondReplace, fakeCondOwned:
		claim, status := ":old_claim", ":old_status"
		if cond == fakeCondOwned {
			claim, status = ":claim", ":in_progress"
		}
		if len(names) != 1 || names["#status"] != "status" || len(values) != 2 || fakeS(values[claim]) == "" || fakeS(values[status]) == "" {
			return fmt.Errorf("fake table: bad expression attributes %v %v", names, values)
		}
		ok = exists && fakeS(old["claim_id"]) == fakeS(values[claim]) && fakeS(old["status"]) == fakeS(values[status])
	default:
		return fmt.Errorf("fake table: unexpected condition %q", cond)
	}
	if !ok {
		return &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	return nil
}

func fakeKey(k map[string]types.AttributeValue) (string, error) {
	pk, sk := fakeS(k["pk"]), fakeS(k["sk"])
	if pk == "" || sk != "idem" || len(k) != 2 {
		return "", errors.New("fake table: key must be pk and sk \"idem\"")
	}
	return pk, nil
}

func fakeS(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// item returns the stored item for pk, or nil.
func (f *fakeTable) item(pk string) map[string]types.AttributeValue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.items[pk])
}

// only returns the single stored item, or nil when the table is empty.
func (f *fakeTable) only(t testing.TB) map[string]types.AttributeValue {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.items) > 1 {
		t.Fatalf("fake table holds %d items, want at most 1", len(f.items))
	}
	for _, it := range f.items {
		return maps.Clone(it)
	}
	return nil
}

// fakeClock is a controllable clock whose Sleep advances it and then
// calls onSleep with the number of sleeps so far.
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	sleeps  int
	onSleep func(n int)
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.sleeps++
	n, hook := c.sleeps, c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return nil
}
