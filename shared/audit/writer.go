package audit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// writeTable holds the one DynamoDB call a writer makes.
type writeTable interface {
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// WriterConfig sets up a [Writer].
type WriterConfig struct {
	// Table is the audit table name.
	Table string
	// Function names the Lambda function (AWS_LAMBDA_FUNCTION_NAME). It
	// prefixes the writer ID and is the default Actor.Function.
	Function string
	// Retention sets expires_at = event time + Retention (0: no expiry).
	Retention time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand supplies event and writer IDs (default crypto/rand).
	Rand io.Reader
}

// Writer appends events to one hash chain. Build one per execution
// environment, in main; it is safe for concurrent use and serialises
// appends, since each event names its predecessor.
type Writer struct {
	db        writeTable
	table     string
	function  string
	retention time.Duration
	now       func() time.Time
	rand      io.Reader

	// lock is held from Prepare until Commit, and during Append; the
	// fields below belong to whoever holds it.
	lock  chan struct{}
	chain string // "" until the first event and after an unknown outcome
	seq   uint64 // last committed sequence number
	prev  Hash   // hash of the last committed event
	last  time.Time
}

// NewWriter returns a writer over db. Its chain (writer ID) is created
// with the first event: Function plus a random suffix.
func NewWriter(db writeTable, c WriterConfig) (*Writer, error) {
	if c.Table == "" {
		return nil, errors.New("new audit writer: empty table name")
	}
	if len(c.Function) > 64 || !validChain(c.Function) {
		return nil, errors.New("new audit writer: function name must be 1-64 of [A-Za-z0-9_-]")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	return &Writer{
		db: db, table: c.Table, function: c.Function, retention: c.Retention,
		now: c.Now, rand: c.Rand, lock: make(chan struct{}, 1),
	}, nil
}

// Append writes ev as the next event of the chain with one conditional
// PutItem and returns it as stored.
//
// When the put fails without writing, the chain does not advance and the
// error is returned. When its outcome is unknown (a timeout, a server
// error, or ConditionalCheckFailed because an SDK retry found its own
// first attempt) the writer abandons the chain, starts a new one and
// writes the event there, once; the event may then be stored twice under
// the same ID. A caller that gets an error must fail its request.
func (w *Writer) Append(ctx context.Context, ev Event) (Event, error) {
	if err := w.acquire(ctx); err != nil {
		return Event{}, err
	}
	defer w.release()
	base, err := w.stamp(ev)
	if err != nil {
		return Event{}, err
	}
	var lastErr error
	for range 2 {
		e, item, err := w.link(base)
		if err != nil {
			return Event{}, err
		}
		_, err = w.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(w.table), Item: item,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		})
		switch classify(err, 0) {
		case outcomeWritten:
			w.advance(&e)
			return e, nil
		case outcomeNotWritten:
			return Event{}, fmt.Errorf("put audit event: %w", err)
		}
		w.chain, lastErr = "", err
		if ctx.Err() != nil {
			break
		}
	}
	return Event{}, fmt.Errorf("put audit event: outcome unknown: %w", lastErr)
}

func (w *Writer) acquire(ctx context.Context) error {
	select {
	case w.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit writer: %w", ctx.Err())
	}
}

func (w *Writer) release() { <-w.lock }

// stamp validates the caller's fields and sets ID, time, actor function
// and expiry. Times never go backwards within a writer.
func (w *Writer) stamp(ev Event) (Event, error) {
	if ev.Actor.Function == "" {
		ev.Actor.Function = w.function
	}
	if err := ev.validate(); err != nil {
		return Event{}, fmt.Errorf("audit event: %w", err)
	}
	id, err := randomID(w.rand, idPrefix, randomIDBytes)
	if err != nil {
		return Event{}, fmt.Errorf("audit event: %w", err)
	}
	t := w.now().UTC()
	if t.Before(w.last) {
		t = w.last
	}
	ev.ID, ev.Time, ev.ExpiresAt = id, t, time.Time{}
	if w.retention > 0 {
		ev.ExpiresAt = t.Add(w.retention).Truncate(time.Second)
	}
	if len(ev.Details) > 0 {
		ev.Details = cloneDetails(ev.Details)
	}
	return ev, nil
}

func cloneDetails(d map[string]string) map[string]string {
	c := make(map[string]string, len(d))
	for k, v := range d {
		c[k] = v
	}
	return c
}

// link places e after the chain's last committed event, starting a new
// chain first if there is none.
func (w *Writer) link(e Event) (Event, map[string]types.AttributeValue, error) {
	if w.chain == "" {
		id, err := randomID(w.rand, w.function+"-", 10)
		if err != nil {
			return Event{}, nil, fmt.Errorf("new audit chain: %w", err)
		}
		w.chain, w.seq, w.prev = id, 0, Hash{}
	}
	e.Chain, e.Seq, e.PrevHash = w.chain, w.seq+1, w.prev
	e.Hash = e.ComputeHash()
	return e, eventItem(&e), nil
}

func (w *Writer) advance(e *Event) {
	w.seq, w.prev, w.last = e.Seq, e.Hash, e.Time
}

// outcome is what a failed write tells us about the item.
type outcome int

const (
	outcomeUnknown outcome = iota
	outcomeWritten
	outcomeNotWritten
)

// classify sorts a write error. ConditionalCheckFailed on an audit item
// means its position is taken, possibly by our own earlier attempt, so it
// counts as unknown. In a transaction the audit items are the last
// auditItems ones (0 for a plain PutItem).
func classify(err error, auditItems int) outcome {
	if err == nil {
		return outcomeWritten
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return outcomeUnknown
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		r := tce.CancellationReasons
		if auditItems == 0 || len(r) < auditItems {
			return outcomeUnknown
		}
		for _, reason := range r[len(r)-auditItems:] {
			if aws.ToString(reason.Code) == "ConditionalCheckFailed" {
				return outcomeUnknown
			}
		}
		return outcomeNotWritten
	}
	var tip *types.TransactionInProgressException
	if errors.As(err, &tip) {
		return outcomeUnknown
	}
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorFault() == smithy.FaultClient {
		return outcomeNotWritten
	}
	return outcomeUnknown
}
