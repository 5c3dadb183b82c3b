package stacktest

import (
	"context"
	"maps"
	"sync"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"
)

// CallCounter counts AWS SDK calls by operation name (GetItem,
// TransactWriteItems, Decrypt, …) across every client built from a
// configuration loaded with its Option, so tests can assert how many
// calls a request costs.
type CallCounter struct {
	mu  sync.Mutex
	ops map[string]int
}

// Option adds the counting middleware to config.LoadDefaultConfig.
func (c *CallCounter) Option() func(*config.LoadOptions) error {
	return config.WithAPIOptions([]func(*middleware.Stack) error{func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("waguard-count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			if c.ops == nil {
				c.ops = map[string]int{}
			}
			c.ops[middleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	}})
}

// Take returns the counts since the last Take and resets them.
func (c *CallCounter) Take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := maps.Clone(c.ops)
	c.ops = map[string]int{}
	if out == nil {
		out = map[string]int{}
	}
	return out
}

// Writes sums the DynamoDB write operations in counts.
func Writes(counts map[string]int) int {
	return counts["PutItem"] + counts["UpdateItem"] + counts["DeleteItem"] + counts["TransactWriteItems"] + counts["BatchWriteItem"]
}
