package storetest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/truora/minidyn/aws-v2/client"
)

// DB is an in-memory DynamoDB: minidyn with the corrections the package
// doc lists. It has the methods of *dynamodb.Client that waguard's
// packages call, with the same signatures, and is safe for concurrent use
// (calls run one at a time).
type DB struct {
	mu sync.Mutex
	c  *client.Client
	// keys are each table's key attributes (hash, then range), indexes
	// each index's, and types each key attribute's type (S, N or B).
	keys    map[string][]string
	indexes map[string]map[string][]string
	types   map[string]map[string]types.ScalarAttributeType
}

// NewDB returns a DB holding the tables tables creates, empty.
func NewDB(ctx context.Context, tables ...*dynamodb.CreateTableInput) (*DB, error) {
	d := &DB{c: client.NewClient(), keys: map[string][]string{}, indexes: map[string]map[string][]string{},
		types: map[string]map[string]types.ScalarAttributeType{}}
	for _, in := range tables {
		if _, err := d.c.CreateTable(ctx, in); err != nil {
			return nil, fmt.Errorf("create table %s: %w", aws.ToString(in.TableName), err)
		}
		name := aws.ToString(in.TableName)
		d.types[name] = map[string]types.ScalarAttributeType{}
		for _, a := range in.AttributeDefinitions {
			d.types[name][aws.ToString(a.AttributeName)] = a.AttributeType
		}
		d.keys[name] = keyNames(in.KeySchema)
		d.indexes[name] = map[string][]string{}
		for _, g := range in.GlobalSecondaryIndexes {
			d.indexes[name][aws.ToString(g.IndexName)] = keyNames(g.KeySchema)
		}
	}
	return d, nil
}

// GetItem reads an item.
func (d *DB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := d.lock(ctx); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return d.c.GetItem(ctx, in)
}

// PutItem writes an item.
func (d *DB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := d.lock(ctx); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return d.c.PutItem(ctx, in)
}

// DeleteItem deletes an item.
func (d *DB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := d.lock(ctx); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return d.c.DeleteItem(ctx, in)
}

// Scan reads a whole table (tests use it to look for clear text).
func (d *DB) Scan(ctx context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if err := d.lock(ctx); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return d.c.Scan(ctx, in)
}

// UpdateItem updates an item, REMOVE included.
func (d *DB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := d.lock(ctx); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	expr, removed, err := splitRemove(aws.ToString(in.UpdateExpression), in.ExpressionAttributeNames)
	if err != nil {
		return nil, err
	}
	u := *in
	u.UpdateExpression = aws.String(expr)
	u.ExpressionAttributeNames = usedNames(expr+" "+aws.ToString(in.ConditionExpression), in.ExpressionAttributeNames)
	out, err := d.c.UpdateItem(ctx, &u)
	if err != nil || len(removed) == 0 {
		return out, err
	}
	return out, d.remove(ctx, aws.ToString(in.TableName), in.Key, removed)
}

// TransactWriteItems runs items all or nothing. A cancelled transaction
// reports every item whose condition failed.
func (d *DB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if err := d.lock(ctx); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	type removal struct {
		table string
		key   map[string]types.AttributeValue
		names []string
	}
	var removals []removal
	items := make([]types.TransactWriteItem, len(in.TransactItems))
	for i, it := range in.TransactItems {
		items[i] = it
		if it.Update == nil {
			continue
		}
		expr, removed, err := splitRemove(aws.ToString(it.Update.UpdateExpression), it.Update.ExpressionAttributeNames)
		if err != nil {
			return nil, err
		}
		if len(removed) > 0 {
			u := *it.Update
			u.UpdateExpression = aws.String(expr)
			u.ExpressionAttributeNames = usedNames(expr+" "+aws.ToString(u.ConditionExpression), u.ExpressionAttributeNames)
			items[i] = types.TransactWriteItem{Update: &u}
			removals = append(removals, removal{aws.ToString(u.TableName), u.Key, removed})
		}
	}
	out, err := d.c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		reasons, rerr := d.reasons(ctx, items)
		if rerr != nil {
			return nil, rerr
		}
		return nil, &types.TransactionCanceledException{Message: tc.Message, CancellationReasons: reasons}
	}
	if err != nil {
		return nil, err
	}
	for _, r := range removals {
		if err := d.remove(ctx, r.table, r.key, r.names); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *DB) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	return nil
}

// clause finds the clauses of an update expression.
var clause = regexp.MustCompile(`(?i)(^|\s)(SET|REMOVE|ADD|DELETE)\s`)

// splitRemove returns expr without its REMOVE clause, and the top-level
// attributes that clause removes.
func splitRemove(expr string, names map[string]string) (string, []string, error) {
	locs := clause.FindAllStringSubmatchIndex(expr, -1)
	var rest, removed []string
	for i, l := range locs {
		end := len(expr)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		if !strings.EqualFold(expr[l[4]:l[5]], "REMOVE") {
			rest = append(rest, strings.TrimSpace(expr[l[0]:end]))
			continue
		}
		for _, p := range strings.Split(expr[l[1]:end], ",") {
			p = strings.TrimSpace(p)
			if strings.ContainsAny(p, ".[") {
				return "", nil, fmt.Errorf("storetest: REMOVE of a nested path (%s) is not modelled", p)
			}
			if n, ok := names[p]; ok {
				p = n
			}
			removed = append(removed, p)
		}
	}
	if len(removed) > 0 && len(rest) == 0 {
		return "", nil, errors.New("storetest: an update of REMOVE alone is not modelled")
	}
	return strings.Join(rest, " "), removed, nil
}

// remove deletes attributes from an item (minidyn's REMOVE keeps them),
// rewriting it so that its index entries follow.
func (d *DB) remove(ctx context.Context, table string, key map[string]types.AttributeValue, attrs []string) error {
	got, err := d.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key})
	if err != nil || len(got.Item) == 0 {
		return err
	}
	for _, a := range attrs {
		delete(got.Item, a)
	}
	if _, err := d.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: key}); err != nil {
		return err
	}
	_, err = d.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: got.Item})
	return err
}

// reasons evaluates the condition of each item against the table as it
// is (the cancelled transaction changed nothing).
func (d *DB) reasons(ctx context.Context, items []types.TransactWriteItem) ([]types.CancellationReason, error) {
	out := make([]types.CancellationReason, len(items))
	for i, it := range items {
		out[i].Code = aws.String("None")
		var c types.ConditionCheck
		switch {
		case it.Put != nil:
			c = types.ConditionCheck{TableName: it.Put.TableName, Key: d.keyOf(aws.ToString(it.Put.TableName), it.Put.Item),
				ConditionExpression: it.Put.ConditionExpression, ExpressionAttributeNames: it.Put.ExpressionAttributeNames,
				ExpressionAttributeValues: it.Put.ExpressionAttributeValues}
		case it.Update != nil:
			c = types.ConditionCheck{TableName: it.Update.TableName, Key: it.Update.Key, ConditionExpression: it.Update.ConditionExpression,
				ExpressionAttributeNames: it.Update.ExpressionAttributeNames, ExpressionAttributeValues: it.Update.ExpressionAttributeValues}
		case it.Delete != nil:
			c = types.ConditionCheck{TableName: it.Delete.TableName, Key: it.Delete.Key, ConditionExpression: it.Delete.ConditionExpression,
				ExpressionAttributeNames: it.Delete.ExpressionAttributeNames, ExpressionAttributeValues: it.Delete.ExpressionAttributeValues}
		case it.ConditionCheck != nil:
			c = *it.ConditionCheck
		}
		cond := aws.ToString(c.ConditionExpression)
		if cond == "" {
			continue
		}
		c.ExpressionAttributeNames, c.ExpressionAttributeValues = usedNames(cond, c.ExpressionAttributeNames), usedValues(cond, c.ExpressionAttributeValues)
		_, err := d.c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{ConditionCheck: &c}}})
		var tc *types.TransactionCanceledException
		switch {
		case errors.As(err, &tc):
			out[i] = types.CancellationReason{Code: aws.String("ConditionalCheckFailed"), Message: aws.String("The conditional request failed")}
		case err != nil:
			return nil, fmt.Errorf("storetest: condition of item %d: %w", i, err)
		}
	}
	return out, nil
}

// keyOf returns the key attributes of item in table.
func (d *DB) keyOf(table string, item map[string]types.AttributeValue) map[string]types.AttributeValue {
	k := map[string]types.AttributeValue{}
	for _, a := range d.keys[table] {
		k[a] = item[a]
	}
	return k
}

// itemKey is the table key of item as a string.
func (d *DB) itemKey(table string, item map[string]types.AttributeValue) string {
	var b strings.Builder
	for _, a := range d.keys[table] {
		if n, ok := item[a].(*types.AttributeValueMemberN); ok {
			b.WriteString(number(n).String())
		} else {
			b.Write(raw(item[a]))
		}
		b.WriteByte(0)
	}
	return b.String()
}

func keyNames(ks []types.KeySchemaElement) []string {
	var hash, rng []string
	for _, k := range ks {
		if k.KeyType == types.KeyTypeHash {
			hash = append(hash, aws.ToString(k.AttributeName))
		} else {
			rng = append(rng, aws.ToString(k.AttributeName))
		}
	}
	return append(hash, rng...)
}

// references finds the #names and :values an expression uses.
var references = regexp.MustCompile(`[#:][A-Za-z0-9_]+`)

func usedNames(expr string, names map[string]string) map[string]string {
	var out map[string]string
	for _, r := range references.FindAllString(expr, -1) {
		if v, ok := names[r]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[r] = v
		}
	}
	return out
}

func usedValues(expr string, values map[string]types.AttributeValue) map[string]types.AttributeValue {
	var out map[string]types.AttributeValue
	for _, r := range references.FindAllString(expr, -1) {
		if v, ok := values[r]; ok {
			if out == nil {
				out = map[string]types.AttributeValue{}
			}
			out[r] = v
		}
	}
	return out
}
