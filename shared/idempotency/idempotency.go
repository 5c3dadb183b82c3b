package idempotency

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// MaxKeyLen is the longest Idempotency-Key that [ValidKey] accepts.
const MaxKeyLen = 255

// MinHMACKeySize is the shortest [Config.Key] that [New] accepts, in bytes.
const MinHMACKeySize = 32

// RecordTTL is how long a record, and so a replayable response, lives
// after its creation.
const RecordTTL = 24 * time.Hour

// Defaults for the zero values of [Config].
const (
	DefaultWait        = 3 * time.Second       // the longest a duplicate waits
	DefaultPoll        = 50 * time.Millisecond // the first polling interval
	DefaultCallTimeout = 2 * time.Second       // per DynamoDB call
	DefaultLease       = 15 * time.Minute      // the longest a Lambda runs
)

// maxPoll caps the polling interval, which doubles from [Config.Poll].
const maxPoll = 500 * time.Millisecond

var (
	// ErrConflict means the key was used before with a different body.
	// The caller answers 409 idempotency_conflict.
	ErrConflict = errors.New("idempotency key reused with a different body")
	// ErrInProgress means a request with the same key and body is still
	// running after the wait. The caller answers 409 request_in_progress.
	ErrInProgress = errors.New("request with this idempotency key in progress")
	// ErrNotRecorded means the operation ran but its response could not be
	// stored. The caller still answers with the response (the operation
	// happened) and logs the error.
	ErrNotRecorded = errors.New("idempotency record not completed")

	errInvalid = errors.New("idempotency: invalid client or key")
)

// table holds the DynamoDB calls the store makes.
type table interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Response is an operation's outcome as the API answers it. It is stored
// in the clear for [RecordTTL], so it must hold no personal data.
type Response struct {
	// Status is the HTTP status code, 100 to 599.
	Status int
	// Body is the response body.
	Body []byte
	// Headers are optional response headers to replay, e.g. Retry-After.
	Headers map[string]string
}

// Config sets up a [Store].
type Config struct {
	// Table is the data table name (required).
	Table string
	// Key, when set, makes the record key and payload hashes HMAC-SHA256
	// under it instead of SHA-256; at least [MinHMACKeySize] bytes. Changing
	// it orphans the records of the last 24 hours.
	Key []byte
	// Wait bounds how long a duplicate waits for an in-progress request
	// (default [DefaultWait]); the wait also ends a CallTimeout before
	// ctx's deadline.
	Wait time.Duration
	// Poll is the first polling interval while waiting (default
	// [DefaultPoll]); it doubles up to 500 ms.
	Poll time.Duration
	// CallTimeout bounds each DynamoDB call (default [DefaultCallTimeout]).
	CallTimeout time.Duration
	// Lease is how long a claim holds when ctx has no deadline (default
	// [DefaultLease]).
	Lease time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Sleep waits d or until ctx is done (default: a timer).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Store runs operations at most once per client and key. Create it with
// [New] once per cold start; it is safe for concurrent use.
type Store struct {
	db          table
	tableName   string
	newHash     func() hash.Hash // hides the HMAC key from fmt
	wait        time.Duration
	poll        time.Duration
	callTimeout time.Duration
	lease       time.Duration
	now         func() time.Time
	sleep       func(context.Context, time.Duration) error
}

// New returns a store over db, normally a *dynamodb.Client.
func New(db table, c Config) (*Store, error) {
	switch {
	case db == nil:
		return nil, errors.New("new idempotency store: nil table client")
	case c.Table == "":
		return nil, errors.New("new idempotency store: no table name")
	case len(c.Key) > 0 && len(c.Key) < MinHMACKeySize:
		return nil, errors.New("new idempotency store: key shorter than 32 bytes")
	}
	s := &Store{
		db: db, tableName: c.Table, newHash: sha256.New,
		wait: orDefault(c.Wait, DefaultWait), poll: orDefault(c.Poll, DefaultPoll),
		callTimeout: orDefault(c.CallTimeout, DefaultCallTimeout), lease: orDefault(c.Lease, DefaultLease),
		now: c.Now, sleep: c.Sleep,
	}
	if len(c.Key) > 0 {
		key := append([]byte(nil), c.Key...)
		s.newHash = func() hash.Hash { return hmac.New(sha256.New, key) }
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sleep == nil {
		s.sleep = sleep
	}
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ValidKey reports whether k is an acceptable Idempotency-Key: 1 to
// [MaxKeyLen] characters of printable ASCII (space to tilde). The header
// is optional; when present and not valid, the caller answers 400.
func ValidKey(k string) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for i := range len(k) {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// validClient reports whether client can name a record: 1 to 128
// characters of visible ASCII other than "#", the key separator.
func validClient(client string) bool {
	if len(client) == 0 || len(client) > 128 {
		return false
	}
	for i := range len(client) {
		if c := client[i]; c <= 0x20 || c > 0x7e || c == '#' {
			return false
		}
	}
	return true
}

// Retryable marks err as retryable: when an operation run by [Store.Do]
// returns it, the record is deleted so that the client may retry at once.
// Use it only when the operation certainly had no effect (e.g. it failed
// before calling the provider, or the provider refused the request). It
// returns nil for nil, and the result still wraps err.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return retryableError{err}
}

// IsRetryable reports whether err, or an error it wraps, was marked by
// [Retryable].
func IsRetryable(err error) bool {
	var r retryableError
	return errors.As(err, &r)
}

type retryableError struct{ err error }

func (e retryableError) Error() string { return e.err.Error() }
func (e retryableError) Unwrap() error { return e.err }

// Do runs op at most once for client, key and body (the canonical request
// body) within [RecordTTL], and returns its response; replayed reports a
// stored response from an earlier request. key must satisfy [ValidKey];
// client is the authenticated API client id.
//
// Do returns [ErrConflict] when key was used with another body,
// [ErrInProgress] when an identical request is still running after the
// wait, op's own error (the record deleted first if [IsRetryable]), or,
// together with op's response, an error wrapping [ErrNotRecorded] when
// the response could not be stored. Other errors mean the record could not
// be read or claimed, and op did not run.
func (s *Store) Do(ctx context.Context, client, key string, body []byte, op func(context.Context) (Response, error)) (resp Response, replayed bool, err error) {
	lease, prior, err := s.Claim(ctx, client, key, body)
	if err != nil {
		return Response{}, false, err
	}
	if prior != nil {
		return *prior, true, nil
	}
	resp, err = op(ctx)
	if err != nil {
		if IsRetryable(err) {
			if rerr := lease.Release(ctx); rerr != nil {
				return Response{}, false, errors.Join(err, rerr)
			}
		}
		return Response{}, false, err
	}
	return resp, false, lease.Complete(ctx, resp)
}
