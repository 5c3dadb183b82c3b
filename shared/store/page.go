package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// PageKey is where a paged query goes on: DynamoDB's LastEvaluatedKey,
// encoded as a string a caller can keep in a progress record and pass
// back. "" is the start of a query when passed in and its end when
// returned. It holds key attributes only (keyed hashes, buckets, times),
// never personal data.
type PageKey string

// errBadPage is returned for a page key this package did not write.
var errBadPage = errors.New("store: malformed page key")

// encodePageKey encodes a LastEvaluatedKey of string and number
// attributes ("" for none).
func encodePageKey(k map[string]types.AttributeValue) (PageKey, error) {
	if len(k) == 0 {
		return "", nil
	}
	m := make(map[string]string, len(k))
	for name, v := range k {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			m[name] = "S" + v.Value
		case *types.AttributeValueMemberN:
			m[name] = "N" + v.Value
		default:
			return "", fmt.Errorf("encode page key: attribute %s: %w", name, errBadPage)
		}
	}
	b, err := json.Marshal(m) // sorted keys: the same key encodes the same way
	if err != nil {
		return "", fmt.Errorf("encode page key: %w", err)
	}
	return PageKey(b), nil
}

// decode returns the ExclusiveStartKey for p (nil for the start).
func (p PageKey) decode() (map[string]types.AttributeValue, error) {
	if p == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(p), &m); err != nil || len(m) == 0 {
		return nil, errBadPage
	}
	k := make(map[string]types.AttributeValue, len(m))
	for name, v := range m {
		switch {
		case strings.HasPrefix(v, "S"):
			k[name] = &types.AttributeValueMemberS{Value: v[1:]}
		case strings.HasPrefix(v, "N") && len(v) > 1:
			k[name] = &types.AttributeValueMemberN{Value: v[1:]}
		default:
			return nil, errBadPage
		}
	}
	return k, nil
}
