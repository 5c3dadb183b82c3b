// Package ratelimit enforces rate limits that every Lambda instance shares,
// exactly, with the generic cell rate algorithm (GCRA, as in redis-cell and
// throttled) on the data table in DynamoDB.
//
// # Algorithm
//
// A [Limit] of Count per Per has the emission interval T = ⌈Per/Count⌉ and
// the burst tolerance τ = (Count−1)·T, which is Per − T when Count divides
// Per. Each key stores one number, its theoretical arrival time (TAT, unix
// nanoseconds). A request at time now is admitted when TAT − now ≤ τ (no
// TAT, or an expired item, counts as TAT ≤ now), and then the TAT becomes
// max(TAT, now) + T. A refused request may retry after TAT − τ − now.
//
// Items are pk "rl#<scope>#<key>", sk "rl", with the attributes tat,
// expires_at (TTL, epoch seconds, at least TAT + 1 minute) and, once a key
// has been refused, refused_window (see [Limiter.FirstRefusals]). Reads
// ignore an item whose expires_at has passed, since TTL deletes late.
//
// # Exactness
//
// [Limiter.Allow] reads the item (GetItem, ConsistentRead), decides, and
// admits with one conditional UpdateItem whose condition restates the
// reason the request conforms and whose update is GCRA's next state:
//
//   - fresh: no live TAT, or TAT ≤ now; set TAT = now + T;
//   - queued: now < TAT ≤ now + τ; set TAT = TAT + T, computed by DynamoDB
//     from the stored value, so concurrent queued requests do not conflict.
//
// DynamoDB applies writes to one item one at a time and checks the
// condition against the current item, so the committed TATs are exactly
// GCRA's over the admitted requests in commit order. When the condition
// fails (another request moved the TAT), nothing is written: the limiter
// reads again and decides again, at most 10 times.
//
// GCRA bounds the admissions, not a fixed window: n requests admitted for
// one key with arrival times within W of each other satisfy
// n ≤ Count + W/T. Hence no more than Count pass within any span shorter
// than T (a burst is at most Count), the sustained rate is at most
// Count per Per, and the fixed window's boundary burst (Count just before
// a boundary and Count just after) is refused. It is not a sliding window:
// Count at once followed by one every T puts 2·Count−1 in some span
// shorter than Per.
//
// The guarantee is relative to the callers' clocks: an instance whose
// clock runs δ ahead admits as if δ later, so skew adds at most ⌈δ/T⌉
// admissions.
//
// # Costs
//
// [Limiter.Allow]: one consistent read per attempt; an admitted request
// costs one write (a lost race costs a failed conditional write, which
// consumes capacity but changes nothing); a refused request writes
// nothing. [Limiter.AllowAll] with n checks: n reads, and for an admitted
// request one TransactWriteItems of n conditional updates, that is n item
// writes, which DynamoDB bills as transactional (twice a plain write); a
// refusal writes nothing. [Limiter.FirstRefusals]: one write per key and
// window, on the first refusal of the window only.
//
// # Security properties
//
// Keys end up in the partition key, so they must never hold a phone number
// or other personal data: callers pass a keyed blind index (or an opaque
// ID such as the phone number ID). As a tripwire, a key containing "+"
// followed by a digit (the E.164 form) is rejected.
//
// An error (DynamoDB unavailable, ctx done, persistent contention) is not
// a decision: callers fail closed.
//
// # Non-goals
//
// It does not queue, delay or reorder requests, does not reserve capacity
// for later, and does not shape traffic to the provider (the WhatsApp
// client handles the provider's own throttling). One key must always be
// used with one Limit.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

const (
	// maxAttempts bounds the read-decide-write rounds of one call.
	maxAttempts = 10
	// maxPer and maxCount keep nanosecond arithmetic far from overflow.
	maxPer   = 366 * 24 * time.Hour
	maxCount = 1_000_000_000
	// maxKey keeps the partition key well under DynamoDB's 2048 bytes.
	maxKey = 512
)

var errContention = errors.New("too much contention")

// Limit admits Count requests per Per: a burst of up to Count, then one
// every Per/Count.
type Limit struct {
	// Count is the number of requests per Per, at least 1.
	Count int
	// Per is the period, positive and at most 366 days.
	Per time.Duration
}

// Check is one key and the limit it is held to, for [Limiter.AllowAll].
type Check struct {
	// Key identifies what is limited within the limiter's scope, e.g.
	// "to:" + blind index. It must not contain personal data.
	Key string
	// Limit is the limit for Key.
	Limit Limit
}

// Decision is the outcome of [Limiter.Allow] or [Limiter.AllowAll].
type Decision struct {
	// Allowed reports whether the request was admitted (and counted).
	Allowed bool
	// RetryAfter is, for a refused request, how long until it would be
	// admitted if nothing else is, in whole seconds rounded up; zero when
	// allowed.
	RetryAfter time.Duration
	// Remaining is how many more requests would be admitted right now;
	// zero when refused. For AllowAll it is the smallest over the checks,
	// as read before the write (concurrent requests may have used some).
	Remaining int
	// Refused lists the checks that refused the request; nil when allowed.
	Refused []Check

	refusals []refusal
}

// Config sets up a [Limiter].
type Config struct {
	// Table is the data table name.
	Table string
	// Scope separates uses of the table ("send", "otp"); it must be
	// non-empty and must not contain "#".
	Scope string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Limiter decides requests against limits stored in DynamoDB. It is safe
// for concurrent use.
type Limiter struct {
	db        table
	tableName string
	prefix    string
	now       func() time.Time
	backoff   time.Duration // first retry delay; doubles, full jitter
}

// New returns a limiter over db, usually a *dynamodb.Client.
func New(db table, c Config) (*Limiter, error) {
	switch {
	case db == nil:
		return nil, errors.New("new rate limiter: nil table client")
	case c.Table == "":
		return nil, errors.New("new rate limiter: empty table name")
	case c.Scope == "" || strings.Contains(c.Scope, "#"):
		return nil, errors.New("new rate limiter: scope must be non-empty and without #")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Limiter{db: db, tableName: c.Table, prefix: "rl#" + c.Scope + "#", now: c.Now, backoff: 2 * time.Millisecond}, nil
}

// Allow decides one request for key under l and, if admitted, counts it.
// A refusal is a Decision with Allowed false, not an error; an error means
// no decision was reached (invalid key or limit, DynamoDB failure, ctx
// done, or still losing races after 10 attempts) and nothing was counted.
func (lim *Limiter) Allow(ctx context.Context, key string, l Limit) (Decision, error) {
	d, err := lim.run(ctx, []Check{{Key: key, Limit: l}})
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit: %w", err)
	}
	return d, nil
}

// AllowAll decides one request that must satisfy every check, such as a
// per-recipient and a global per-sender limit: it is admitted, and counted
// against every key, only if every check admits it, so a request refused by
// one limit consumes none of the others. Keys must be distinct. With one
// check it is [Limiter.Allow]; with more, the writes are one
// TransactWriteItems. Errors are as for [Limiter.Allow].
func (lim *Limiter) AllowAll(ctx context.Context, checks ...Check) (Decision, error) {
	d, err := lim.run(ctx, checks)
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit all: %w", err)
	}
	return d, nil
}

// run validates checks and repeats read, decide, write until a write
// commits, the request is refused, or the attempts run out.
func (lim *Limiter) run(ctx context.Context, checks []Check) (Decision, error) {
	steps, err := lim.prepare(checks)
	if err != nil {
		return Decision{}, err
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			if err := lim.sleep(ctx, attempt); err != nil {
				return Decision{}, err
			}
		}
		d, done, err := lim.attempt(ctx, steps)
		if err != nil || done {
			return d, err
		}
	}
	return Decision{}, errContention
}

// attempt is one round; done is false when a conditional write lost a race.
func (lim *Limiter) attempt(ctx context.Context, steps []step) (Decision, bool, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, false, err
	}
	for i := range steps {
		st, err := lim.read(ctx, steps[i].pk)
		if err != nil {
			return Decision{}, false, err
		}
		steps[i].state = st
	}
	now := lim.now().UnixNano()
	for i := range steps {
		steps[i].decide(now)
	}
	if d, refused := refusedDecision(steps); refused {
		return d, true, nil
	}
	return lim.commit(ctx, steps)
}

// prepare validates the checks and precomputes each key's parameters.
func (lim *Limiter) prepare(checks []Check) ([]step, error) {
	if len(checks) == 0 {
		return nil, errors.New("no checks")
	}
	steps := make([]step, len(checks))
	seen := make(map[string]bool, len(checks))
	for i, c := range checks {
		if err := validKey(c.Key); err != nil {
			return nil, err
		}
		if seen[c.Key] {
			return nil, fmt.Errorf("check %d: duplicate key", i)
		}
		seen[c.Key] = true
		g, err := c.Limit.gcra()
		if err != nil {
			return nil, fmt.Errorf("check %d: %w", i, err)
		}
		steps[i] = step{check: c, g: g, pk: lim.prefix + c.Key}
	}
	return steps, nil
}

// validKey rejects empty and oversized keys and, as a tripwire, keys that
// contain an E.164 phone number.
func validKey(key string) error {
	if key == "" || len(key) > maxKey {
		return errors.New("invalid key: empty or too long")
	}
	for i := 0; i+1 < len(key); i++ {
		if key[i] == '+' && key[i+1] >= '0' && key[i+1] <= '9' {
			return errors.New("invalid key: looks like a phone number, pass a blind index")
		}
	}
	return nil
}

// sleep waits a jittered, doubling delay before retry attempt, or until
// ctx is done.
func (lim *Limiter) sleep(ctx context.Context, attempt int) error {
	ceiling := min(lim.backoff<<(attempt-1), 64*lim.backoff)
	if ceiling <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(time.Duration(rand.Int64N(int64(ceiling)) + 1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
