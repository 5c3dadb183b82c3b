package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/audit"
)

// Unit is what a change commits with, in the change's own DynamoDB
// transaction, or not at all: the audit events that record it, the
// event records that report it (the outbox, docs/events.md) and any
// other item a caller's protocol needs (an idempotency record's mark).
// Every write method of the store takes one and settles it: the audit
// events are prepared inside the write, placed where their writer reads
// its outcome, and told the outcome on every path. A caller so never
// handles transaction positions, cancellation reasons or an audit
// batch's Commit.
type Unit struct {
	// Audit are the change's audit events, in order (the writer chains them).
	Audit []audit.Event
	// Events are the change's event records: the i-th is keyed by the
	// i-th audit event (its AuditID is filled in); one beyond the audit
	// events keeps the AuditID it has (an audit event committed apart).
	Events []EventRecord
	// Items join the transaction as they are. A failed condition among
	// them fails the write with [ErrItemCondition].
	Items []types.TransactWriteItem
}

// Preparer prepares audit events for a transaction ([audit.Writer]).
type Preparer interface {
	Prepare(ctx context.Context, ev audit.Event, more ...audit.Event) (*audit.Pending, error)
}

// ErrItemCondition is returned when a condition among a [Unit]'s Items
// failed: nothing of the change was written.
var ErrItemCondition = errors.New("store: a condition of the change's own items failed")

// errNoAuditWriter: a Unit with audit events reached a store configured
// without an audit writer (a wiring mistake, refused rather than written
// unaudited).
var errNoAuditWriter = errors.New("store: audit events to write but no audit writer configured")

// tx is one transaction being built: its items, and what a failed
// condition among some of them means.
type tx struct {
	items []types.TransactWriteItem
	spans []span
}

// add appends items; when one of their conditions cancels the
// transaction, the error wraps meaning (nil: no particular meaning).
func (t *tx) add(meaning error, items ...types.TransactWriteItem) *tx {
	if meaning != nil && len(items) > 0 {
		t.spans = append(t.spans, span{len(t.items), len(t.items) + len(items), meaning})
	}
	t.items = append(t.items, items...)
	return t
}

// clone returns a copy that can be extended without changing t.
func (t *tx) clone() *tx {
	return &tx{items: slices.Clone(t.items), spans: slices.Clone(t.spans)}
}

// write runs a change with u: it prepares u's audit events, then build
// assembles the change (given the audit events as they will be stored,
// for an item that names one) and commits it through commit, which adds
// u's items, event records and audit items (last, where the audit writer
// reads its outcome). build may commit again after a condition it
// handles (each attempt is the whole transaction). The audit events are
// settled with build's result on every path.
func (s *Store) write(ctx context.Context, u Unit, build func(evs []audit.Event, commit func(*tx) error) error) error {
	var pending *audit.Pending
	var evs []audit.Event
	if len(u.Audit) > 0 {
		if s.audit == nil {
			return errNoAuditWriter
		}
		p, err := s.audit.Prepare(ctx, u.Audit[0], u.Audit[1:]...)
		if err != nil {
			return err
		}
		pending, evs = p, p.Events()
	}
	err := func() error {
		var records []types.TransactWriteItem
		for i, r := range u.Events {
			if i < len(evs) {
				r.AuditID = evs[i].ID
			}
			if r.AuditID == "" {
				return fmt.Errorf("store: event record %d has no audit event to key it", i)
			}
			records = append(records, s.EventWrite(r))
		}
		return build(evs, func(t *tx) error {
			all := t.clone().add(ErrItemCondition, u.Items...).add(nil, records...)
			if pending != nil {
				all.add(nil, pending.TransactItems()...)
			}
			return s.commit(ctx, all.items, all.spans...)
		})
	}()
	if pending != nil {
		pending.Commit(err)
	}
	return err
}

// empty reports whether u adds nothing to a change.
func (u Unit) empty() bool { return len(u.Audit) == 0 && len(u.Events) == 0 && len(u.Items) == 0 }
