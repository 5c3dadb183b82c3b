package store_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/envelope"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// expiryTable is an in-memory data table that answers the retention
// sweep's calls on the by-expiry index the way DynamoDB does: Limit caps
// the items *read*, the FilterExpression then drops non-matching ones, so
// a page can be empty and still carry a LastEvaluatedKey. It knows only
// the expressions SweepBucket and ReexpireBucket send and fails on any
// other, so a change of query shows here.
type expiryTable struct {
	items   map[[2]string]map[string]types.AttributeValue
	queries int
}

func newExpiryTable() *expiryTable {
	return &expiryTable{items: map[[2]string]map[string]types.AttributeValue{}}
}

func (f *expiryTable) put(pk, sk string, class retention.Class, written, expires time.Time) {
	f.items[[2]string{pk, sk}] = map[string]types.AttributeValue{"pk": sv(pk), "sk": sv(sk), "class": sv(string(class)),
		"written_at": nv(written.Unix()), "expires_at": nv(expires.Unix()), "exp_bucket": sv(retention.Bucket(pk, expires))}
}

func sv(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func nv(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func s(av types.AttributeValue) string {
	v, _ := av.(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}
func n(av types.AttributeValue) int64 {
	v, _ := av.(*types.AttributeValueMemberN)
	if v == nil {
		return 0
	}
	i, _ := strconv.ParseInt(v.Value, 10, 64)
	return i
}

// indexOrder sorts the by-expiry index: bucket, expires_at, then the
// table key (DynamoDB's tiebreak is unspecified; any fixed one will do).
func indexOrder(a, b map[string]types.AttributeValue) int {
	return cmp.Or(cmp.Compare(s(a["exp_bucket"]), s(b["exp_bucket"])), cmp.Compare(n(a["expires_at"]), n(b["expires_at"])),
		cmp.Compare(s(a["pk"]), s(b["pk"])), cmp.Compare(s(a["sk"]), s(b["sk"])))
}

func (f *expiryTable) Query(ctx context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.queries++
	if aws.ToString(in.IndexName) != "by-expiry" {
		return nil, fmt.Errorf("expiryTable: index %q not supported", aws.ToString(in.IndexName))
	}
	v := in.ExpressionAttributeValues
	var keyCond func(map[string]types.AttributeValue) bool
	switch aws.ToString(in.KeyConditionExpression) {
	case "exp_bucket = :b":
		keyCond = func(it map[string]types.AttributeValue) bool { return s(it["exp_bucket"]) == s(v[":b"]) }
	case "exp_bucket = :b AND expires_at <= :now":
		keyCond = func(it map[string]types.AttributeValue) bool {
			return s(it["exp_bucket"]) == s(v[":b"]) && n(it["expires_at"]) <= n(v[":now"])
		}
	default:
		return nil, fmt.Errorf("expiryTable: key condition %q not supported", aws.ToString(in.KeyConditionExpression))
	}
	filter := func(map[string]types.AttributeValue) bool { return true }
	switch aws.ToString(in.FilterExpression) {
	case "":
	case "#c = :c AND written_at > :zero":
		filter = func(it map[string]types.AttributeValue) bool {
			return s(it[in.ExpressionAttributeNames["#c"]]) == s(v[":c"]) && n(it["written_at"]) > n(v[":zero"])
		}
	default:
		return nil, fmt.Errorf("expiryTable: filter %q not supported", aws.ToString(in.FilterExpression))
	}
	var matched []map[string]types.AttributeValue
	for _, it := range f.items {
		if keyCond(it) {
			matched = append(matched, it)
		}
	}
	slices.SortFunc(matched, indexOrder)
	if in.ExclusiveStartKey != nil {
		i := slices.IndexFunc(matched, func(it map[string]types.AttributeValue) bool { return indexOrder(it, in.ExclusiveStartKey) > 0 })
		if i < 0 {
			i = len(matched)
		}
		matched = matched[i:]
	}
	out := &dynamodb.QueryOutput{}
	limit := int(aws.ToInt32(in.Limit))
	if limit > 0 && len(matched) >= limit { // Limit first ...
		last := matched[limit-1]
		out.LastEvaluatedKey = map[string]types.AttributeValue{"pk": last["pk"], "sk": last["sk"],
			"exp_bucket": last["exp_bucket"], "expires_at": last["expires_at"]}
		matched = matched[:limit]
	}
	for _, it := range matched { // ... then the filter
		if filter(it) {
			out.Items = append(out.Items, it)
		}
	}
	return out, nil
}

func (f *expiryTable) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := [2]string{s(in.Key["pk"]), s(in.Key["sk"])}
	it, ok := f.items[k]
	v := in.ExpressionAttributeValues
	switch cond := aws.ToString(in.ConditionExpression); {
	case !ok:
		return nil, &types.ConditionalCheckFailedException{}
	case cond == "expires_at <= :now" && n(it["expires_at"]) > n(v[":now"]),
		cond == "expires_at = :old" && n(it["expires_at"]) != n(v[":old"]):
		return nil, &types.ConditionalCheckFailedException{}
	case cond != "expires_at <= :now" && cond != "expires_at = :old":
		return nil, fmt.Errorf("expiryTable: condition %q not supported", cond)
	}
	delete(f.items, k)
	return &dynamodb.DeleteItemOutput{}, nil
}

func (f *expiryTable) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(in.TransactItems) != 1 || in.TransactItems[0].Update == nil ||
		aws.ToString(in.TransactItems[0].Update.UpdateExpression) != "SET expires_at = :e, exp_bucket = :b" {
		return nil, errors.New("expiryTable: only the re-expiry update is supported")
	}
	u := in.TransactItems[0].Update
	it, ok := f.items[[2]string{s(u.Key["pk"]), s(u.Key["sk"])}]
	if !ok || n(it["expires_at"]) != n(u.ExpressionAttributeValues[":old"]) {
		return nil, &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: aws.String("ConditionalCheckFailed")}}}
	}
	it["expires_at"], it["exp_bucket"] = u.ExpressionAttributeValues[":e"], u.ExpressionAttributeValues[":b"]
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

func (f *expiryTable) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, errors.New("expiryTable: GetItem not supported")
}

func (f *expiryTable) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, errors.New("expiryTable: PutItem not supported")
}

// noSeal is a sealer the expiry calls never use.
type noSeal struct{}

func (noSeal) Encrypt(context.Context, string, []byte, envelope.AD) ([]byte, error) {
	return nil, errors.New("noSeal")
}
func (noSeal) Decrypt(context.Context, string, []byte, envelope.AD) ([]byte, error) {
	return nil, errors.New("noSeal")
}
func (noSeal) Ready(context.Context, string) error { return errors.New("noSeal") }

// TestReexpireBucketPagesPastFilteredPages runs ReexpireBucket over a
// bucket whose first 250 index entries belong to another class: the
// first pages come back empty with a LastEvaluatedKey, and the walk must
// go on from it. Re-reading the bucket from its start (as before) never
// reaches the marketing items.
func TestReexpireBucketPagesPastFilteredPages(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	exp := now.Add(20 * 24 * time.Hour)
	f := newExpiryTable()
	for i := range 250 {
		f.put("sub#a", fmt.Sprintf("msg#out#t%03d", i), retention.ClassTransactional, exp.Add(-90*24*time.Hour), exp.Add(time.Duration(i-300)*time.Second))
	}
	f.put("sub#a", "msg#out#old", retention.ClassMarketing, exp.Add(-30*24*time.Hour), exp)                     // 10 days old: deleted
	f.put("sub#a", "msg#out#new", retention.ClassMarketing, now.Add(-2*24*time.Hour), now.Add(28*24*time.Hour)) // other bucket
	st := store.New(f, noSeal{}, store.Config{Table: "data", Policy: retention.DefaultPolicy(), Now: func() time.Time { return now }})
	bucket := retention.Bucket("sub#a", exp)
	var total store.Reexpired
	pages := 0
	for page := store.PageKey(""); ; pages++ {
		r, next, err := st.ReexpireBucket(context.Background(), bucket, retention.ClassMarketing, 7, now, page)
		if err != nil {
			t.Fatalf("ReexpireBucket(page %d) err = %v, want nil", pages, err)
		}
		total.Deleted, total.Moved = total.Deleted+r.Deleted, total.Moved+r.Moved
		if next == "" {
			break
		}
		if next == page || pages > 10 {
			t.Fatalf("ReexpireBucket() returned page %q again: the walk does not advance", next)
		}
		page = next
	}
	if total.Deleted != 1 || total.Moved != 0 {
		t.Errorf("ReexpireBucket() over the bucket = %+v, want 1 deleted, 0 moved", total)
	}
	if _, ok := f.items[[2]string{"sub#a", "msg#out#old"}]; ok {
		t.Errorf("the 10-day-old marketing item survived a 7-day period")
	}
	if len(f.items) != 251 {
		t.Errorf("%d items left, want 251 (transactional untouched)", len(f.items))
	}
	if pages != 2 {
		t.Errorf("walk took %d more pages after the first, want 2 (251 entries, 100 a page)", pages)
	}
}

// TestSweepBucketPages deletes an expired bucket of 230 items a page at
// a time, going on from each page's key, and keeps an item whose expiry
// was extended meanwhile.
func TestSweepBucketPages(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	exp := now.Add(-time.Hour)
	f := newExpiryTable()
	for i := range 230 {
		f.put("sub#b", fmt.Sprintf("msg#in#%03d", i), retention.ClassSupport, exp.Add(-180*24*time.Hour), exp.Add(time.Duration(i)*time.Second))
	}
	st := store.New(f, noSeal{}, store.Config{Table: "data", Policy: retention.DefaultPolicy(), Now: func() time.Time { return now }})
	bucket := retention.Bucket("sub#b", exp)
	deleted := 0
	page := store.PageKey("")
	for i := 0; ; i++ {
		counts, next, err := st.SweepBucket(context.Background(), bucket, now, page)
		if err != nil {
			t.Fatalf("SweepBucket() err = %v, want nil", err)
		}
		deleted += counts[retention.ClassSupport]
		if i == 0 { // an item of the next page is extended meanwhile
			f.items[[2]string{"sub#b", "msg#in#150"}]["expires_at"] = nv(now.Add(time.Hour).Unix())
		}
		if next == "" {
			break
		}
		page = next
	}
	if deleted != 229 || len(f.items) != 1 {
		t.Errorf("SweepBucket() deleted %d, left %d; want 229 deleted, the extended item left", deleted, len(f.items))
	}
}

func TestPageKeyRejectsForeignKeys(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	st := store.New(newExpiryTable(), noSeal{}, store.Config{Table: "data", Policy: retention.DefaultPolicy()})
	for _, p := range []store.PageKey{"x", "{}", `{"pk":"Qsub#a"}`, `{"pk":"N"}`, "null"} {
		if _, _, err := st.SweepBucket(context.Background(), "2026-12-07#00", now, p); err == nil {
			t.Errorf("SweepBucket(page %q) err = nil, want an error", p)
		}
	}
}
