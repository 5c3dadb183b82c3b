package audit

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Pending is one or more audit events that will be written inside the
// caller's own DynamoDB transaction, so that the audit records and the
// change they record commit together at no extra round trip. It holds the
// writer's lock until [Pending.Commit]; it is not safe for concurrent use.
type Pending struct {
	w      *Writer
	events []Event
	items  []map[string]types.AttributeValue
	done   bool
}

// Prepare stamps ev (and more, in order) as the chain's next events
// without writing them. The caller must call [Pending.Commit] exactly
// once, typically deferred, or every later Prepare and Append of this
// writer blocks until ctx ends.
func (w *Writer) Prepare(ctx context.Context, ev Event, more ...Event) (*Pending, error) {
	if err := w.acquire(ctx); err != nil {
		return nil, err
	}
	chain, seq, prev := w.chain, w.seq, w.prev
	p := &Pending{w: w}
	for _, next := range append([]Event{ev}, more...) {
		base, err := w.stamp(next)
		if err == nil {
			var e Event
			var item map[string]types.AttributeValue
			if e, item, err = w.link(base); err == nil {
				p.events, p.items = append(p.events, e), append(p.items, item)
				w.seq, w.prev = e.Seq, e.Hash // link the next event of the batch to this one
				continue
			}
		}
		w.chain, w.seq, w.prev = chain, seq, prev
		w.release()
		return nil, err
	}
	// Nothing is committed yet: the chain position is restored, and only
	// Commit advances it. A chain link created for this batch is kept.
	w.seq, w.prev = seq, prev
	if chain == "" {
		w.seq, w.prev = 0, Hash{}
	}
	return p, nil
}

// Event returns the first event as it will be stored (its ID can go into
// the caller's own items).
func (p *Pending) Event() Event { return p.events[0] }

// Events returns every event of the batch as it will be stored.
func (p *Pending) Events() []Event { return append([]Event(nil), p.events...) }

// TransactItem returns the conditional put of a single-event batch's
// audit item; see [Pending.TransactItems].
func (p *Pending) TransactItem() types.TransactWriteItem { return p.TransactItems()[0] }

// TransactItems returns the conditional puts of the audit items. A caller
// building its own TransactItems must put them last, in this order:
// Commit reads the audit items' cancellation reasons from the last
// positions.
func (p *Pending) TransactItems() []types.TransactWriteItem {
	out := make([]types.TransactWriteItem, len(p.items))
	for i, item := range p.items {
		out[i] = types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(p.w.table), Item: item,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}}
	}
	return out
}

// TransactWriteItemsInput returns a transaction of items followed by the
// audit items. The SDK gives it an idempotency token, so its own retries
// cannot write an audit item twice.
func (p *Pending) TransactWriteItemsInput(items ...types.TransactWriteItem) *dynamodb.TransactWriteItemsInput {
	all := make([]types.TransactWriteItem, 0, len(items)+len(p.items))
	all = append(append(all, items...), p.TransactItems()...)
	return &dynamodb.TransactWriteItemsInput{TransactItems: all}
}

// Commit records the outcome of the transaction: err is what
// TransactWriteItems returned (possibly wrapped). On nil the chain
// advances past every event of the batch. When the transaction was
// cancelled for another item's reason, or refused outright, the chain
// stays put and the next event reuses the sequence number. When the
// outcome is unknown (a timeout, a server error, or an audit item's own
// condition failing) the writer starts a new chain. Commit releases the
// writer; calls after the first do nothing.
func (p *Pending) Commit(err error) {
	if p.done {
		return
	}
	p.done = true
	w := p.w
	switch classify(err, len(p.items)) {
	case outcomeWritten:
		w.advance(&p.events[len(p.events)-1])
	case outcomeUnknown:
		w.chain = ""
	}
	w.release()
}
