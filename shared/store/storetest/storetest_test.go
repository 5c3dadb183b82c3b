package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func sv(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func nv(n int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: fmt.Sprint(n)} }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": sv(pk), "sk": sv(sk)}
}

func put(t *testing.T, e *Env, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := e.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &e.Data, Item: item}); err != nil {
		t.Fatalf("PutItem() err = %v", err)
	}
}

func TestTemplateTables(t *testing.T) {
	e := New(t)
	for _, name := range []string{e.Data, e.Keys, e.Audit} {
		if name == "" {
			t.Fatalf("New() table names = %q, %q, %q; want all three", e.Data, e.Keys, e.Audit)
		}
	}
	// The data table's indexes are template.yaml's: by-lookup is sparse
	// and projects keys only.
	put(t, e, map[string]types.AttributeValue{"pk": sv("p"), "sk": sv("s"), "lookup": sv("l"), "secret": sv("x")})
	put(t, e, map[string]types.AttributeValue{"pk": sv("p"), "sk": sv("t")})
	out, err := e.DB.Query(context.Background(), &dynamodb.QueryInput{TableName: &e.Data, IndexName: aws.String("by-lookup"),
		KeyConditionExpression: aws.String("lookup = :l"), ExpressionAttributeValues: map[string]types.AttributeValue{":l": sv("l")}})
	if err != nil || len(out.Items) != 1 || out.Items[0]["secret"] != nil {
		t.Errorf("Query(by-lookup) = %v, %v; want the one item, keys only", out, err)
	}
}

// TestRemove: an update's REMOVE clause removes the attribute, and the
// item leaves the sparse index keyed by it (minidyn alone keeps both).
func TestRemove(t *testing.T) {
	for _, viaTransaction := range []bool{false, true} {
		t.Run(fmt.Sprint("transaction=", viaTransaction), func(t *testing.T) {
			e := New(t)
			ctx := context.Background()
			put(t, e, map[string]types.AttributeValue{"pk": sv("erq#1"), "sk": sv("erq"), "lookup": sv("pending"), "status": sv("open")})
			expr, names := "SET #st = :done REMOVE lookup", map[string]string{"#st": "status"}
			values := map[string]types.AttributeValue{":done": sv("completed")}
			var err error
			if viaTransaction {
				_, err = e.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Update: &types.Update{
					TableName: &e.Data, Key: key("erq#1", "erq"), UpdateExpression: &expr, ExpressionAttributeNames: names, ExpressionAttributeValues: values}}}})
			} else {
				_, err = e.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &e.Data, Key: key("erq#1", "erq"), UpdateExpression: &expr,
					ExpressionAttributeNames: names, ExpressionAttributeValues: values})
			}
			if err != nil {
				t.Fatalf("update err = %v", err)
			}
			got, _ := e.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &e.Data, Key: key("erq#1", "erq")})
			if got.Item["lookup"] != nil || got.Item["status"].(*types.AttributeValueMemberS).Value != "completed" {
				t.Errorf("item after update has %q, want status completed and no lookup", slices.Sorted(maps.Keys(got.Item)))
			}
			out, _ := e.DB.Query(ctx, &dynamodb.QueryInput{TableName: &e.Data, IndexName: aws.String("by-lookup"),
				KeyConditionExpression: aws.String("lookup = :l"), ExpressionAttributeValues: map[string]types.AttributeValue{":l": sv("pending")}})
			if len(out.Items) != 0 {
				t.Errorf("by-lookup still holds %d items", len(out.Items))
			}
		})
	}
	for _, expr := range []string{"REMOVE lookup", "SET a = :a REMOVE m.x"} {
		if _, _, err := splitRemove(expr, nil); err == nil {
			t.Errorf("splitRemove(%q) err = nil, want not modelled", expr)
		}
	}
}

// TestLimitBeforeFilter: Limit counts the items of the key condition
// read, before the filter, so a page may be empty yet not the last; the
// pages never leave the queried partition and together hold every match.
func TestLimitBeforeFilter(t *testing.T) {
	e := New(t)
	ctx := context.Background()
	for _, p := range []string{"a", "b", "c"} {
		for i := range 5 {
			put(t, e, map[string]types.AttributeValue{"pk": sv(p), "sk": sv(fmt.Sprint(i)), "odd": nv(i % 2)})
		}
	}
	var pages [][]string
	var start map[string]types.AttributeValue
	for range 10 {
		out, err := e.DB.Query(ctx, &dynamodb.QueryInput{TableName: &e.Data, Limit: aws.Int32(2), ExclusiveStartKey: start,
			KeyConditionExpression: aws.String("pk = :pk"), FilterExpression: aws.String("odd = :one"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sv("b"), ":one": nv(1)}})
		if err != nil {
			t.Fatalf("Query() err = %v", err)
		}
		var page []string
		for _, it := range out.Items {
			page = append(page, it["sk"].(*types.AttributeValueMemberS).Value)
		}
		pages = append(pages, page)
		if pk, ok := out.LastEvaluatedKey["pk"].(*types.AttributeValueMemberS); ok && pk.Value != "b" {
			t.Fatalf("LastEvaluatedKey in partition %q, want b", pk.Value)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	// Read 0,1 → [1]; 2,3 → [3]; 4 → [] and done.
	want := [][]string{{"1"}, {"3"}, nil}
	if !slices.EqualFunc(pages, want, slices.Equal) {
		t.Errorf("pages = %q, want %q", pages, want)
	}
}

// TestCancellationReasons: every item whose condition failed is
// reported, each at its position, and nothing is written.
func TestCancellationReasons(t *testing.T) {
	e := New(t)
	ctx := context.Background()
	put(t, e, map[string]types.AttributeValue{"pk": sv("x"), "sk": sv("1")})
	put(t, e, map[string]types.AttributeValue{"pk": sv("x"), "sk": sv("2"), "n": nv(5)})
	_, err := e.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &e.Data, Item: key("x", "new")}},
		{Put: &types.Put{TableName: &e.Data, Item: key("x", "1"), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Update: &types.Update{TableName: &e.Data, Key: key("x", "2"), UpdateExpression: aws.String("SET n = :v"),
			ConditionExpression: aws.String("n < :max"), ExpressionAttributeValues: map[string]types.AttributeValue{":v": nv(1), ":max": nv(3)}}},
		{ConditionCheck: &types.ConditionCheck{TableName: &e.Data, Key: key("x", "3"), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Delete: &types.Delete{TableName: &e.Data, Key: key("x", "4"), ConditionExpression: aws.String("attribute_exists(pk)")}},
	}})
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		t.Fatalf("TransactWriteItems() err = %v, want TransactionCanceledException", err)
	}
	var codes []string
	for _, r := range tc.CancellationReasons {
		codes = append(codes, aws.ToString(r.Code))
	}
	if want := []string{"None", "ConditionalCheckFailed", "ConditionalCheckFailed", "None", "ConditionalCheckFailed"}; !slices.Equal(codes, want) {
		t.Errorf("reasons = %q, want %q", codes, want)
	}
	got, _ := e.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &e.Data, Key: key("x", "new")})
	if len(got.Item) != 0 {
		t.Errorf("a cancelled transaction wrote its first item")
	}
}

// TestIndexOrderAndPaging: an index orders number keys by value, and a
// page goes on after its start key even once that item is gone (the
// sweep deletes a page, then reads the next from its last key).
func TestIndexOrderAndPaging(t *testing.T) {
	e := New(t)
	ctx := context.Background()
	for i, exp := range []int{100, 9, 20, 10, 1000} {
		put(t, e, map[string]types.AttributeValue{"pk": sv(fmt.Sprint("p", i)), "sk": sv("m"), "exp_bucket": sv("b"), "expires_at": nv(exp)})
	}
	put(t, e, map[string]types.AttributeValue{"pk": sv("other"), "sk": sv("m"), "exp_bucket": sv("c"), "expires_at": nv(1)})
	var got []string
	var start map[string]types.AttributeValue
	for range 10 {
		out, err := e.DB.Query(ctx, &dynamodb.QueryInput{TableName: &e.Data, IndexName: aws.String("by-expiry"), Limit: aws.Int32(2), ExclusiveStartKey: start,
			KeyConditionExpression: aws.String("exp_bucket = :b AND expires_at <= :now"), ExpressionAttributeValues: map[string]types.AttributeValue{":b": sv("b"), ":now": nv(500)}})
		if err != nil {
			t.Fatalf("Query() err = %v", err)
		}
		for _, it := range out.Items {
			got = append(got, it["expires_at"].(*types.AttributeValueMemberN).Value)
			// Delete what was read, as the sweep does.
			if _, err := e.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &e.Data, Key: key(it["pk"].(*types.AttributeValueMemberS).Value, "m")}); err != nil {
				t.Fatal(err)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	if want := []string{"9", "10", "20", "100"}; !slices.Equal(got, want) {
		t.Errorf("by-expiry pages read %q, want %q", got, want)
	}
}

func TestContextDone(t *testing.T) {
	e := New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &e.Data, Key: key("p", "s")}); !errors.Is(err, context.Canceled) {
		t.Errorf("GetItem(cancelled) err = %v, want context.Canceled", err)
	}
	if _, err := e.KMS.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(KeyID)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Decrypt(cancelled) err = %v, want context.Canceled", err)
	}
}

// TestKMSBindsContext: a wrapped key opens only under its own encryption
// context and key id.
func TestKMSBindsContext(t *testing.T) {
	k, ctx := NewKMS(), context.Background()
	ec := map[string]string{"purpose": "branch", "version": "1"}
	out, err := k.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(KeyID), KeySpec: kmstypes.DataKeySpecAes256, EncryptionContext: ec})
	if err != nil {
		t.Fatalf("GenerateDataKey() err = %v", err)
	}
	got, err := k.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(KeyID), CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
	if err != nil || !slices.Equal(got.Plaintext, out.Plaintext) {
		t.Fatalf("Decrypt() = %v, want the data key", err)
	}
	var invalid *kmstypes.InvalidCiphertextException
	if _, err := k.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(KeyID), CiphertextBlob: out.CiphertextBlob,
		EncryptionContext: map[string]string{"purpose": "branch", "version": "2"}}); !errors.As(err, &invalid) {
		t.Errorf("Decrypt(other context) err = %v, want InvalidCiphertextException", err)
	}
	var nf *kmstypes.NotFoundException
	if _, err := k.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String("alias/other"), CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec}); !errors.As(err, &nf) {
		t.Errorf("Decrypt(other key) err = %v, want NotFoundException", err)
	}
}
