// Package floodguard counts failed authentication attempts per source IP
// in one-minute windows on DynamoDB, so that every Lambda instance sees the
// same count, and tells callers when a source must be refused outright.
//
// # Security properties
//
// Source IPs are personal data: items are keyed by an HMAC of the IP under
// a key from Secrets Manager, never the IP itself, and expire by TTL (reads
// also check the window, since TTL deletes late). Checking costs one
// GetItem, except that a source read below its limit less than
// [Config.Fresh] ago is not read again by the same instance (its own
// failures update that reading at once; other instances' reach it within
// Fresh); recording costs one UpdateItem (an atomic ADD), so counts are
// exact under concurrency.
//
// # Non-goals
//
// It does not limit valid traffic (API Gateway throttling and WAF do).
package floodguard

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// table holds the DynamoDB calls the guard makes.
type table interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Guard counts failures per source and window.
type Guard struct {
	db        table
	tableName string
	key       []byte
	scope     string
	limit     int
	fresh     time.Duration
	now       func() time.Time

	mu   sync.Mutex
	seen map[string]reading // by item key; cleared when full
}

// reading is a source's failure count as last read or written here.
type reading struct {
	failures int
	at       time.Time
}

// DefaultLimit is the most failures a source may make in a minute: the
// 21st is blocked.
const DefaultLimit = 20

// Audited reports whether the nth failure of a source in a minute is
// one to audit, given the guard's limit: the first, and the one that
// crosses the limit. So a flood costs two audit events per source and
// minute, however long it lasts.
func Audited(n, limit int) bool { return n == 1 || n == limit+1 }

// Audited reports whether the nth failure ([Guard.RecordFailure]) of a
// source in a minute is one to audit ([Audited] with this guard's limit).
func (g *Guard) Audited(n int) bool { return Audited(n, g.limit) }

// maxSeen bounds the readings an instance keeps.
const maxSeen = 4096

// Config sets up a Guard.
type Config struct {
	// Table is the data table name.
	Table string
	// Key is the HMAC key that pseudonymises source IPs.
	Key []byte
	// Scope separates counters ("webhook", "api").
	Scope string
	// Limit is the most failures allowed in a minute (default
	// [DefaultLimit]).
	Limit int
	// Fresh is how long this instance trusts a reading below the limit
	// before reading the counter again (default 1 s; negative: always
	// read). Failures recorded here update the reading at once.
	Fresh time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// New returns a guard over db.
func New(db table, c Config) *Guard {
	if c.Limit <= 0 {
		c.Limit = DefaultLimit
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Fresh == 0 {
		c.Fresh = time.Second
	}
	return &Guard{db: db, tableName: c.Table, key: c.Key, scope: c.Scope, limit: c.Limit, fresh: c.Fresh, now: c.Now,
		seen: map[string]reading{}}
}

// Blocked reports whether sourceIP exceeded the limit in the current
// window and, if so, how many seconds remain in it. An error means the
// count could not be read; callers fail closed on the request itself.
func (g *Guard) Blocked(ctx context.Context, sourceIP string) (bool, int, error) {
	now := g.now().UTC()
	k := g.itemKey(sourceIP, now)
	if r, ok := g.reading(k); ok && r.failures <= g.limit && now.Sub(r.at) < g.fresh {
		return false, 0, nil
	}
	out, err := g.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &g.tableName, Key: k, ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("failures"),
	})
	if err != nil {
		return false, 0, fmt.Errorf("read flood counter: %w", err)
	}
	n := 0
	if v, ok := out.Item["failures"].(*types.AttributeValueMemberN); ok {
		if n, err = strconv.Atoi(v.Value); err != nil {
			return false, 0, errors.New("read flood counter: not a whole number") // callers fail closed
		}
	}
	g.remember(k, n, now)
	if n <= g.limit {
		return false, 0, nil
	}
	return true, 60 - now.Second(), nil
}

// RecordFailure adds one failure for sourceIP in the current window and
// returns the window's count so far, so callers can audit a flood once
// per source and minute rather than once per request.
func (g *Guard) RecordFailure(ctx context.Context, sourceIP string) (int, error) {
	now := g.now().UTC()
	expires := now.Truncate(time.Minute).Add(2 * time.Minute).Unix()
	k := g.itemKey(sourceIP, now)
	out, err := g.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        &g.tableName,
		Key:              k,
		ReturnValues:     types.ReturnValueUpdatedNew,
		UpdateExpression: aws.String("ADD failures :one SET expires_at = :exp"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": &types.AttributeValueMemberN{Value: "1"},
			":exp": &types.AttributeValueMemberN{Value: strconv.FormatInt(expires, 10)},
		},
	})
	if err != nil {
		return 0, fmt.Errorf("record flood counter: %w", err)
	}
	v, ok := out.Attributes["failures"].(*types.AttributeValueMemberN)
	n, err := 0, errors.New("no count")
	if ok {
		n, err = strconv.Atoi(v.Value)
	}
	if err != nil {
		g.remember(k, g.limit+1, now) // unknown: make the next check read
		return 1, nil
	}
	g.remember(k, n, now)
	return n, nil
}

// reading returns this instance's last reading of the counter at k.
func (g *Guard) reading(k map[string]types.AttributeValue) (reading, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.seen[seenKey(k)]
	return r, ok
}

// remember keeps n as the counter at k, read or written at now.
func (g *Guard) remember(k map[string]types.AttributeValue, n int, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.seen) >= maxSeen {
		clear(g.seen) // windows are a minute long: nothing old is worth keeping
	}
	g.seen[seenKey(k)] = reading{failures: n, at: now}
}

func seenKey(k map[string]types.AttributeValue) string {
	return k["pk"].(*types.AttributeValueMemberS).Value + "/" + k["sk"].(*types.AttributeValueMemberS).Value
}

// Source returns the pseudonymous id of sourceIP that items are keyed by,
// for audit events (an IP address is personal data).
func (g *Guard) Source(sourceIP string) string {
	pk := g.itemKey(sourceIP, time.Time{})["pk"].(*types.AttributeValueMemberS).Value
	return pk[len("flood#"+g.scope+"#"):]
}

// itemKey is flood#<scope>#<HMAC(ip)> / <minute>: the window is in the key,
// so an expired window is simply never read again.
func (g *Guard) itemKey(sourceIP string, now time.Time) map[string]types.AttributeValue {
	m := hmac.New(sha256.New, g.key)
	m.Write([]byte("waguard/floodguard/v1\x00"))
	m.Write([]byte(sourceIP))
	id := base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "flood#" + g.scope + "#" + id},
		"sk": &types.AttributeValueMemberS{Value: now.Format("200601021504")},
	}
}
