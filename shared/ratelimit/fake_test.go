package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const testTable = "waguard-test-data"

// fakeTable is an in-memory table that understands exactly the requests
// the limiter makes: it evaluates the package's condition and update
// expressions, applies a transaction all or nothing, rejects unused or
// missing expression values as DynamoDB does, and honours ctx.
type fakeTable struct {
	mu    sync.Mutex
	items map[string]map[string]int64 // pk → number attributes

	// beforeWrite, when set, runs before each write is applied (outside
	// the lock), so a test can interleave a competing write.
	beforeWrite func()
	getErr      error

	gets, writes, failedWrites atomic.Int64
}

func newFakeTable() *fakeTable { return &fakeTable{items: map[string]map[string]int64{}} }

var _ table = (*fakeTable)(nil)

func (f *fakeTable) pk(key map[string]types.AttributeValue) (string, error) {
	pk, ok1 := key["pk"].(*types.AttributeValueMemberS)
	sk, ok2 := key["sk"].(*types.AttributeValueMemberS)
	if !ok1 || !ok2 || len(key) != 2 || sk.Value != skValue {
		return "", errors.New("fake table: key must be pk and sk = rl")
	}
	return pk.Value, nil
}

// item returns a copy of pk's attributes (nil when absent), for tests.
func (f *fakeTable) item(pk string) map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.items[pk])
}

// set replaces pk's attributes, for tests.
func (f *fakeTable) set(pk string, attrs map[string]int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[pk] = maps.Clone(attrs)
}

func (f *fakeTable) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.getErr != nil {
		return nil, f.getErr
	}
	if aws.ToString(in.TableName) != testTable || !aws.ToBool(in.ConsistentRead) || aws.ToString(in.ProjectionExpression) != projection {
		return nil, fmt.Errorf("fake table: unexpected GetItem %+v", in)
	}
	pk, err := f.pk(in.Key)
	if err != nil {
		return nil, err
	}
	f.gets.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &dynamodb.GetItemOutput{}
	if it, ok := f.items[pk]; ok {
		out.Item = map[string]types.AttributeValue{}
		for k, v := range it {
			out.Item[k] = num(v)
		}
	}
	return out, nil
}

func (f *fakeTable) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if aws.ToString(in.TableName) != testTable {
		return nil, errors.New("fake table: wrong table")
	}
	op, err := f.parse(in.Key, in.UpdateExpression, in.ConditionExpression, in.ExpressionAttributeValues)
	if err != nil {
		return nil, err
	}
	if f.beforeWrite != nil {
		f.beforeWrite()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !op.holds(f.items[op.pk]) {
		f.failedWrites.Add(1)
		return nil, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	f.writes.Add(1)
	changed := op.apply(f.items)
	out := &dynamodb.UpdateItemOutput{}
	if in.ReturnValues == types.ReturnValueUpdatedNew {
		out.Attributes = map[string]types.AttributeValue{}
		for _, k := range changed {
			out.Attributes[k] = num(f.items[op.pk][k])
		}
	}
	return out, nil
}

func (f *fakeTable) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ops := make([]fakeOp, len(in.TransactItems))
	for i, ti := range in.TransactItems {
		u := ti.Update
		if u == nil || aws.ToString(u.TableName) != testTable {
			return nil, errors.New("fake table: only updates on the test table")
		}
		op, err := f.parse(u.Key, u.UpdateExpression, u.ConditionExpression, u.ExpressionAttributeValues)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(ops[:i], func(o fakeOp) bool { return o.pk == op.pk }) {
			return nil, errors.New("ValidationException: multiple operations on one item")
		}
		ops[i] = op
	}
	if f.beforeWrite != nil {
		f.beforeWrite()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	reasons, failed := make([]types.CancellationReason, len(ops)), false
	for i, op := range ops {
		reasons[i].Code = aws.String("None")
		if !op.holds(f.items[op.pk]) {
			reasons[i].Code, failed = aws.String("ConditionalCheckFailed"), true
		}
	}
	if failed {
		f.failedWrites.Add(int64(len(ops)))
		return nil, &types.TransactionCanceledException{Message: aws.String("Transaction cancelled"), CancellationReasons: reasons}
	}
	for _, op := range ops {
		f.writes.Add(1)
		op.apply(f.items)
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// fakeOp is one parsed conditional update.
type fakeOp struct {
	pk, upd, cond string
	v             map[string]int64
}

var (
	placeholder  = regexp.MustCompile(`:[a-z]+`)
	placeholders sync.Map // expression → []string, so benchmarks time the limiter
)

func used(expr string) []string {
	if v, ok := placeholders.Load(expr); ok {
		return v.([]string)
	}
	names := placeholder.FindAllString(expr, -1)
	placeholders.Store(expr, names)
	return names
}

func (f *fakeTable) parse(key map[string]types.AttributeValue, upd, cond *string, vals map[string]types.AttributeValue) (fakeOp, error) {
	pk, err := f.pk(key)
	if err != nil {
		return fakeOp{}, err
	}
	op := fakeOp{pk: pk, upd: aws.ToString(upd), cond: aws.ToString(cond), v: map[string]int64{}}
	if !slices.Contains([]string{condFresh, condQueued, condRefusal}, op.cond) || !slices.Contains([]string{updFresh, updQueued, updRefusal}, op.upd) {
		return fakeOp{}, fmt.Errorf("fake table: unexpected expressions %q / %q", op.upd, op.cond)
	}
	used := used(op.upd + " " + op.cond)
	for name, av := range vals {
		n, ok := av.(*types.AttributeValueMemberN)
		if !ok {
			return fakeOp{}, fmt.Errorf("fake table: %s not a number", name)
		}
		if op.v[name], err = strconv.ParseInt(n.Value, 10, 64); err != nil {
			return fakeOp{}, err
		}
		if !slices.Contains(used, name) {
			return fakeOp{}, fmt.Errorf("ValidationException: value %s unused in expressions", name)
		}
	}
	for _, name := range used {
		if _, ok := op.v[name]; !ok {
			return fakeOp{}, fmt.Errorf("ValidationException: value %s undefined", name)
		}
	}
	return op, nil
}

// holds evaluates the condition against item (nil when absent).
func (op fakeOp) holds(item map[string]int64) bool {
	tat, hasTAT := item["tat"]
	exp, hasExp := item["expires_at"]
	rw, hasRW := item["refused_window"]
	v := op.v
	switch op.cond {
	case condFresh:
		return !hasTAT || !hasExp || exp <= v[":nows"] || tat <= v[":now"]
	case condQueued:
		return hasTAT && hasExp && tat > v[":now"] && tat <= v[":max"] && exp > v[":nows"]
	case condRefusal:
		return hasTAT && (!hasRW || rw < v[":w"])
	}
	return false // parse admits only the conditions above
}

// apply performs the update and returns the attributes it set.
func (op fakeOp) apply(items map[string]map[string]int64) []string {
	it := items[op.pk]
	if it == nil {
		it = map[string]int64{}
		items[op.pk] = it
	}
	switch op.upd {
	case updFresh:
		it["tat"], it["expires_at"] = op.v[":tat"], op.v[":exp"]
		return []string{"tat", "expires_at"}
	case updQueued:
		it["tat"], it["expires_at"] = it["tat"]+op.v[":t"], op.v[":exp"]
		return []string{"tat", "expires_at"}
	case updRefusal:
		it["refused_window"] = op.v[":w"]
		return []string{"refused_window"}
	}
	return nil // parse admits only the updates above
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }
