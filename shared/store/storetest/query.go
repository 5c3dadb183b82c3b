package storetest

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Query reads one page of a table or index, in key order (numbers by
// value), from after ExclusiveStartKey whether or not that item still
// exists. Limit counts the items the key condition reads, before the
// FilterExpression.
func (d *DB) Query(ctx context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := d.lock(ctx); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	table, index := aws.ToString(in.TableName), aws.ToString(in.IndexName)
	order := d.order(table, index)
	if order == nil {
		return nil, fmt.Errorf("storetest: no index %s on table %s", index, table)
	}
	// Every item of the key condition (minidyn matches), ordered and paged here.
	keyCond := aws.ToString(in.KeyConditionExpression)
	read, err := d.c.Query(ctx, &dynamodb.QueryInput{TableName: in.TableName, IndexName: in.IndexName, KeyConditionExpression: in.KeyConditionExpression,
		ExpressionAttributeNames: usedNames(keyCond, in.ExpressionAttributeNames), ExpressionAttributeValues: usedValues(keyCond, in.ExpressionAttributeValues)})
	if err != nil {
		return nil, err
	}
	items := read.Items
	d.sort(table, order, items)
	if in.ScanIndexForward != nil && !*in.ScanIndexForward {
		slices.Reverse(items)
	}
	if in.ExclusiveStartKey != nil {
		i := slices.IndexFunc(items, func(it map[string]types.AttributeValue) bool {
			c := d.compare(table, order, it, in.ExclusiveStartKey)
			if in.ScanIndexForward != nil && !*in.ScanIndexForward {
				c = -c
			}
			return c > 0
		})
		if i < 0 {
			i = len(items)
		}
		items = items[i:]
	}
	out := &dynamodb.QueryOutput{}
	if limit := int(aws.ToInt32(in.Limit)); limit > 0 && len(items) >= limit {
		items = items[:limit]
		out.LastEvaluatedKey = map[string]types.AttributeValue{}
		for _, a := range order {
			out.LastEvaluatedKey[a] = items[limit-1][a]
		}
	}
	out.ScannedCount = int32(len(items))
	if in.FilterExpression != nil {
		if items, err = d.filter(ctx, in, items); err != nil {
			return nil, err
		}
	}
	if in.ProjectionExpression != nil {
		if items, err = project(items, aws.ToString(in.ProjectionExpression), in.ExpressionAttributeNames); err != nil {
			return nil, err
		}
	}
	out.Items, out.Count = items, int32(len(items))
	return out, nil
}

// filter keeps the items of page that in's FilterExpression passes.
func (d *DB) filter(ctx context.Context, in *dynamodb.QueryInput, page []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	expr := aws.ToString(in.KeyConditionExpression) + " " + aws.ToString(in.FilterExpression)
	passed, err := d.c.Query(ctx, &dynamodb.QueryInput{TableName: in.TableName, IndexName: in.IndexName, KeyConditionExpression: in.KeyConditionExpression,
		FilterExpression: in.FilterExpression, ExpressionAttributeNames: usedNames(expr, in.ExpressionAttributeNames),
		ExpressionAttributeValues: usedValues(expr, in.ExpressionAttributeValues)})
	if err != nil {
		return nil, err
	}
	table := aws.ToString(in.TableName)
	keep := map[string]bool{}
	for _, it := range passed.Items {
		keep[d.itemKey(table, it)] = true
	}
	var out []map[string]types.AttributeValue
	for _, it := range page {
		if keep[d.itemKey(table, it)] {
			out = append(out, it)
		}
	}
	return out, nil
}

// project keeps the top-level attributes a ProjectionExpression names.
func project(items []map[string]types.AttributeValue, expr string, names map[string]string) ([]map[string]types.AttributeValue, error) {
	var attrs []string
	for _, a := range strings.Split(expr, ",") {
		a = strings.TrimSpace(a)
		if strings.ContainsAny(a, ".[") {
			return nil, fmt.Errorf("storetest: projection of a nested path (%s) is not modelled", a)
		}
		if n, ok := names[a]; ok {
			a = n
		}
		attrs = append(attrs, a)
	}
	out := make([]map[string]types.AttributeValue, 0, len(items))
	for _, it := range items {
		p := map[string]types.AttributeValue{}
		for _, a := range attrs {
			if v, ok := it[a]; ok {
				p[a] = v
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// order is the attributes a query of index ("" for the table) orders
// by, which its LastEvaluatedKey holds: the index's keys, then the
// table's (nil for an unknown index).
func (d *DB) order(table, index string) []string {
	if index == "" {
		return d.keys[table]
	}
	ks, ok := d.indexes[table][index]
	if !ok {
		return nil
	}
	out := slices.Clone(ks)
	for _, k := range d.keys[table] {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func (d *DB) sort(table string, order []string, items []map[string]types.AttributeValue) {
	slices.SortStableFunc(items, func(a, b map[string]types.AttributeValue) int { return d.compare(table, order, a, b) })
}

// compare orders two items by the attributes of order, each by its type:
// strings and binaries bytewise, numbers by value.
func (d *DB) compare(table string, order []string, a, b map[string]types.AttributeValue) int {
	for _, attr := range order {
		var c int
		switch x, y := a[attr], b[attr]; {
		case d.types[table][attr] == types.ScalarAttributeTypeN:
			c = number(x).Cmp(number(y))
		default:
			c = bytes.Compare(raw(x), raw(y))
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func number(v types.AttributeValue) *big.Rat {
	r := new(big.Rat)
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		if _, ok := r.SetString(n.Value); ok {
			return r
		}
	}
	return r
}

func raw(v types.AttributeValue) []byte {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return []byte(v.Value)
	case *types.AttributeValueMemberB:
		return v.Value
	}
	return nil
}
