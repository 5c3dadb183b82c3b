package audit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

const (
	testTable = "waguard-test-audit"
	testKeyID = "alias/waguard-test-audit-signing"
)

// fakeTable is an in-memory audit table: PutItem and transactions honour
// attribute_not_exists(pk) and attribute_exists(pk), GetItem honours a
// projection, and Query serves the by-day index in pages.
type fakeTable struct {
	mu    sync.Mutex
	items map[string]map[string]types.AttributeValue
	// hook, if set, sees every Put before it is applied and decides
	// whether to apply it and what to return (apply with an error is an
	// unknown outcome).
	hook     func(item map[string]types.AttributeValue) (apply bool, err error)
	pageSize int
	puts     int
}

func newFakeTable() *fakeTable {
	return &fakeTable{items: map[string]map[string]types.AttributeValue{}, pageSize: 7}
}

func itemKey(it map[string]types.AttributeValue) string {
	pk, _ := it[attrPK].(*types.AttributeValueMemberS)
	sk, _ := it[attrSK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return ""
	}
	return pk.Value + "\x00" + sk.Value
}

func checkTable(name *string) error {
	if aws.ToString(name) != testTable {
		return &types.ResourceNotFoundException{Message: aws.String("no such table")}
	}
	return nil
}

// condOK evaluates the only conditions the package uses.
func (f *fakeTable) condOK(key string, cond *string) (bool, error) {
	_, exists := f.items[key]
	switch aws.ToString(cond) {
	case "":
		return true, nil
	case "attribute_not_exists(pk)":
		return !exists, nil
	case "attribute_exists(pk)":
		return exists, nil
	}
	return false, fmt.Errorf("fake: unsupported condition %q", aws.ToString(cond))
}

func (f *fakeTable) PutItem(ctx context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkTable(in.TableName); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	key := itemKey(in.Item)
	if key == "" {
		return nil, &types.ResourceNotFoundException{Message: aws.String("missing key")}
	}
	ok, err := f.condOK(key, in.ConditionExpression)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &types.ConditionalCheckFailedException{Message: aws.String("exists")}
	}
	apply, herr := true, error(nil)
	if f.hook != nil {
		apply, herr = f.hook(in.Item)
	}
	if apply {
		f.items[key] = in.Item
	}
	if herr != nil {
		return nil, herr
	}
	return &dynamodb.PutItemOutput{}, nil
}

func (f *fakeTable) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkTable(in.TableName); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	it, ok := f.items[itemKey(in.Key)]
	if !ok {
		return &dynamodb.GetItemOutput{}, nil
	}
	return &dynamodb.GetItemOutput{Item: project(it, in.ProjectionExpression, in.ExpressionAttributeNames)}, nil
}

func project(it map[string]types.AttributeValue, expr *string, names map[string]string) map[string]types.AttributeValue {
	if aws.ToString(expr) == "" {
		return it
	}
	out := map[string]types.AttributeValue{}
	for _, n := range strings.Split(aws.ToString(expr), ",") {
		n = strings.TrimSpace(n)
		if r, ok := names[n]; ok {
			n = r
		}
		if v, ok := it[n]; ok {
			out[n] = v
		}
	}
	return out
}

func (f *fakeTable) Query(ctx context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkTable(in.TableName); err != nil {
		return nil, err
	}
	if aws.ToString(in.IndexName) != ByDayIndex || aws.ToString(in.KeyConditionExpression) != "#d = :d" || in.ExpressionAttributeNames["#d"] != attrDay {
		return nil, errors.New("fake: only the by-day query is supported")
	}
	day := in.ExpressionAttributeValues[":d"].(*types.AttributeValueMemberS).Value
	f.mu.Lock()
	defer f.mu.Unlock()
	var hits []map[string]types.AttributeValue
	for _, it := range f.items {
		if d, ok := it[attrDay].(*types.AttributeValueMemberS); ok && d.Value == day {
			hits = append(hits, it)
		}
	}
	order := func(it map[string]types.AttributeValue) string {
		return it[attrSK].(*types.AttributeValueMemberS).Value + "\x00" + it[attrPK].(*types.AttributeValueMemberS).Value
	}
	slices.SortFunc(hits, func(a, b map[string]types.AttributeValue) int { return strings.Compare(order(a), order(b)) })
	start := 0
	if in.ExclusiveStartKey != nil {
		after := order(in.ExclusiveStartKey)
		for start < len(hits) && order(hits[start]) <= after {
			start++
		}
	}
	end := min(len(hits), start+f.pageSize)
	out := &dynamodb.QueryOutput{}
	for _, it := range hits[start:end] {
		out.Items = append(out.Items, project(it, in.ProjectionExpression, in.ExpressionAttributeNames))
	}
	if end < len(hits) {
		last := hits[end-1]
		out.LastEvaluatedKey = map[string]types.AttributeValue{attrPK: last[attrPK], attrSK: last[attrSK], attrDay: last[attrDay]}
	}
	return out, nil
}

func (f *fakeTable) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	reasons := make([]types.CancellationReason, len(in.TransactItems))
	failed := false
	for i, ti := range in.TransactItems {
		var key string
		var cond, table *string
		switch {
		case ti.Put != nil:
			key, cond, table = itemKey(ti.Put.Item), ti.Put.ConditionExpression, ti.Put.TableName
		case ti.ConditionCheck != nil:
			key, cond, table = itemKey(ti.ConditionCheck.Key), ti.ConditionCheck.ConditionExpression, ti.ConditionCheck.TableName
		default:
			return nil, errors.New("fake: only Put and ConditionCheck are supported")
		}
		if err := checkTable(table); err != nil {
			return nil, err
		}
		ok, err := f.condOK(key, cond)
		if err != nil {
			return nil, err
		}
		reasons[i].Code = aws.String("None")
		if !ok {
			reasons[i].Code, failed = aws.String("ConditionalCheckFailed"), true
		}
	}
	if failed {
		return nil, &types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: reasons}
	}
	var herr error
	for _, ti := range in.TransactItems {
		if ti.Put == nil {
			continue
		}
		apply := true
		if f.hook != nil {
			apply, herr = f.hook(ti.Put.Item)
		}
		if apply {
			f.items[itemKey(ti.Put.Item)] = ti.Put.Item
		}
	}
	if herr != nil {
		return nil, herr
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// snapshot returns the stored items, copied one level deep so that tests
// may tamper with them freely.
func (f *fakeTable) snapshot() []map[string]types.AttributeValue {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.items))
	for k := range f.items {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]map[string]types.AttributeValue, len(keys))
	for i, k := range keys {
		out[i] = make(map[string]types.AttributeValue, len(f.items[k]))
		for a, v := range f.items[k] {
			out[i][a] = v
		}
	}
	return out
}

// fakeSigner signs like KMS Sign in DIGEST mode, with a real P-256 key.
type fakeSigner struct {
	key   *ecdsa.PrivateKey
	mu    sync.Mutex
	calls int
}

func newFakeSigner(t testing.TB) *fakeSigner {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey() err = %v, want nil", err)
	}
	return &fakeSigner{key: k}
}

func (s *fakeSigner) Sign(ctx context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if aws.ToString(in.KeyId) != testKeyID || in.MessageType != kmstypes.MessageTypeDigest ||
		in.SigningAlgorithm != kmstypes.SigningAlgorithmSpecEcdsaSha256 || len(in.Message) != 32 {
		return nil, &kmstypes.InvalidKeyUsageException{Message: aws.String("fake: bad sign request")}
	}
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, in.Message)
	if err != nil {
		return nil, err
	}
	return &kms.SignOutput{Signature: sig, KeyId: in.KeyId, SigningAlgorithm: in.SigningAlgorithm}, nil
}

// testClock starts at a given time and advances 1ms per reading.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var (
	_ writeTable  = (*fakeTable)(nil)
	_ digestTable = (*fakeTable)(nil)
	_ signer      = (*fakeSigner)(nil)
	_ writeTable  = (*dynamodb.Client)(nil)
	_ digestTable = (*dynamodb.Client)(nil)
	_ signer      = (*kms.Client)(nil)
)
