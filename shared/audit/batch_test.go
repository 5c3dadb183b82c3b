package audit

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestPrepareBatch covers several events in one transaction: they link to
// each other, commit together, and a cancellation leaves the chain as it
// was (or abandons it when an audit item's own condition failed).
func TestPrepareBatch(t *testing.T) {
	cancelled := func(codes ...string) error {
		var r []types.CancellationReason
		for _, c := range codes {
			r = append(r, types.CancellationReason{Code: aws.String(c)})
		}
		return &types.TransactionCanceledException{CancellationReasons: r}
	}
	tests := []struct {
		name      string
		err       error
		wantSeq   uint64
		wantChain bool
	}{
		{name: "committed", err: nil, wantSeq: 4},
		{name: "caller condition failed", err: cancelled("ConditionalCheckFailed", "None", "None"), wantSeq: 2},
		{name: "first audit item taken", err: cancelled("None", "ConditionalCheckFailed", "None"), wantSeq: 1, wantChain: true},
		{name: "second audit item taken", err: cancelled("None", "None", "ConditionalCheckFailed"), wantSeq: 1, wantChain: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newTestWriter(t, newFakeTable(), newClock(day1))
			first := mustAppend(t, w, EventMessageReceived)
			p, err := w.Prepare(context.Background(), testEvent(EventMessageReceived), testEvent(EventConsentRevoked))
			if err != nil {
				t.Fatalf("Prepare(2 events) err = %v, want nil", err)
			}
			evs := p.Events()
			if len(evs) != 2 || len(p.TransactItems()) != 2 {
				t.Fatalf("Prepare(2 events) gave %d events, %d items; want 2, 2", len(evs), len(p.TransactItems()))
			}
			if evs[0].Seq != 2 || evs[0].PrevHash != first.Hash || evs[1].Seq != 3 || evs[1].PrevHash != evs[0].Hash {
				t.Fatalf("batch is not linked: %d→%d, want 2→3 after the first event", evs[0].Seq, evs[1].Seq)
			}
			p.Commit(tt.err)
			next := mustAppend(t, w, EventMessageSent)
			if next.Seq != tt.wantSeq || (next.Chain != first.Chain) != tt.wantChain {
				t.Errorf("next Append() = %s/%d, want seq %d, new chain %v", next.Chain, next.Seq, tt.wantSeq, tt.wantChain)
			}
		})
	}
}

// TestPrepareBatchOnNewChain checks a batch that starts a chain.
func TestPrepareBatchOnNewChain(t *testing.T) {
	w := newTestWriter(t, newFakeTable(), newClock(day1))
	p, err := w.Prepare(context.Background(), testEvent(EventMessageReceived), testEvent(EventConsentGranted))
	if err != nil {
		t.Fatalf("Prepare() err = %v", err)
	}
	if evs := p.Events(); evs[0].Seq != 1 || !evs[0].PrevHash.IsZero() || evs[1].Seq != 2 {
		t.Fatalf("new chain batch seqs = %d, %d; want 1, 2 from genesis", evs[0].Seq, evs[1].Seq)
	}
	p.Commit(nil)
	if next := mustAppend(t, w, EventMessageSent); next.Seq != 3 {
		t.Errorf("next Append() seq = %d, want 3", next.Seq)
	}
}
