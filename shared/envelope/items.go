package envelope

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/deadline"
)

// Keys table layout (docs/data-model.md).
const (
	branchPK       = "branch"
	activeSK       = "active"
	subjectSK      = "key"
	subjectPrefix  = "subject#"
	branchVersionP = "v#"

	attrWrapped       = "wrapped"        // B: wrapped key
	attrVersion       = "version"        // N: active pointer's version
	attrBranchVersion = "branch_version" // N: branch version wrapping a subject key
	attrCreatedAt     = "created_at"     // N: epoch seconds

	// condNotExists makes a put create-only: the loser of a race re-reads.
	condNotExists = "attribute_not_exists(pk)"
	// condVersionIs makes an active-pointer update compare-and-swap.
	condVersionIs = "#v = :v"

	maxVersion = 1<<31 - 1
)

func subjectPK(subject string) string { return subjectPrefix + subject }

func branchSK(version int) string { return branchVersionP + strconv.Itoa(version) }

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}

func numAttr(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func binaryAttr(item map[string]types.AttributeValue, name string) ([]byte, error) {
	b, ok := item[name].(*types.AttributeValueMemberB)
	if !ok {
		return nil, fmt.Errorf("attribute %s missing or not binary", name)
	}
	return b.Value, nil
}

// versionAttr reads a branch version: a number from 1 to maxVersion.
func versionAttr(item map[string]types.AttributeValue, name string) (int, error) {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s missing or not a number", name)
	}
	v, err := strconv.ParseUint(n.Value, 10, 64)
	if err != nil || v == 0 || v > maxVersion {
		return 0, fmt.Errorf("attribute %s is not a branch version", name)
	}
	return int(v), nil
}

// errNoItem reports a missing keys table item.
var errNoItem = errors.New("item not found")

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

// getItem reads a keys table item with a strongly consistent read; a
// missing item is errNoItem.
func (e *Envelope) getItem(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	cctx, cancel := deadline.Within(ctx, deadline.DynamoDB, e.cfg.CallTimeout)
	defer cancel()
	out, err := e.db.GetItem(cctx, &dynamodb.GetItemInput{
		TableName:      &e.cfg.KeysTable,
		Key:            itemKey(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, errNoItem
	}
	return out.Item, nil
}

// putIfAbsent runs a conditional put and reports whether it won; losing
// the condition is not an error.
func (e *Envelope) putIfAbsent(ctx context.Context, in *dynamodb.PutItemInput, what string) (bool, error) {
	cctx, cancel := deadline.Within(ctx, deadline.DynamoDB, e.cfg.CallTimeout)
	defer cancel()
	_, err := e.db.PutItem(cctx, in)
	switch {
	case err == nil:
		return true, nil
	case isConditionFailed(err):
		return false, nil
	default:
		return false, fmt.Errorf("%s: %w", what, err)
	}
}
