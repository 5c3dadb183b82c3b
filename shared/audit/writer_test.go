package audit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

var day1 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func newTestWriter(t testing.TB, db writeTable, clock *testClock) *Writer {
	t.Helper()
	w, err := NewWriter(db, WriterConfig{Table: testTable, Function: "waguard-test-send", Retention: 24 * time.Hour, Now: clock.now})
	if err != nil {
		t.Fatalf("NewWriter() err = %v, want nil", err)
	}
	return w
}

func testEvent(typ EventType) Event {
	return Event{Type: typ, Actor: Actor{Caller: "client:acme"}, Subject: "pZ3kQ", RequestID: "req-1",
		Details: map[string]string{"purpose": "transactional"}}
}

func mustAppend(t testing.TB, w *Writer, typ EventType) Event {
	t.Helper()
	e, err := w.Append(context.Background(), testEvent(typ))
	if err != nil {
		t.Fatalf("Append() err = %v, want nil", err)
	}
	return e
}

// verifyFake verifies everything in the fake table with key's public key.
func verifyFake(t testing.TB, db *fakeTable, s *fakeSigner, opt VerifyOptions) *Report {
	t.Helper()
	rep, err := Verify(db.snapshot(), &s.key.PublicKey, opt)
	if err != nil {
		t.Fatalf("Verify() err = %v, want nil", err)
	}
	return rep
}

func TestNewWriterRejects(t *testing.T) {
	for _, c := range []WriterConfig{{Function: "f"}, {Table: testTable}, {Table: testTable, Function: "a b"}} {
		if _, err := NewWriter(newFakeTable(), c); err == nil {
			t.Errorf("NewWriter(%+v) err = nil, want error", c)
		}
	}
}

func TestAppendChains(t *testing.T) {
	db, clock := newFakeTable(), newClock(day1)
	w := newTestWriter(t, db, clock)
	var prev Event
	for i := range 5 {
		e := mustAppend(t, w, EventMessageSent)
		if e.Seq != uint64(i+1) || e.PrevHash != prev.Hash || e.Hash != e.ComputeHash() || e.Chain == "" {
			t.Fatalf("Append() #%d = seq %d prev %s, want seq %d prev %s", i, e.Seq, e.PrevHash, i+1, prev.Hash)
		}
		if i > 0 && (e.Chain != prev.Chain || !e.Time.After(prev.Time)) {
			t.Fatalf("Append() #%d chain %s time %v, want chain %s after %v", i, e.Chain, e.Time, prev.Chain, prev.Time)
		}
		prev = e
	}
	if got := prev.ExpiresAt; !got.Equal(prev.Time.Add(24 * time.Hour).Truncate(time.Second)) {
		t.Errorf("ExpiresAt = %v, want time + retention", got)
	}
	rep := verifyFake(t, db, newFakeSigner(t), VerifyOptions{SealedThrough: d0})
	if !rep.OK() || rep.Events != 5 || rep.Chains != 1 || len(rep.Unsealed) != 1 {
		t.Errorf("Verify() = %+v, want OK, 5 events, 1 chain, 1 unsealed day", rep)
	}
}

func TestAppendConcurrent(t *testing.T) {
	db, clock := newFakeTable(), newClock(day1)
	w := newTestWriter(t, db, clock)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if _, err := w.Append(context.Background(), testEvent(EventMessageReceived)); err != nil {
					t.Errorf("Append() err = %v, want nil", err)
				}
			}
		})
	}
	wg.Wait()
	rep := verifyFake(t, db, newFakeSigner(t), VerifyOptions{SealedThrough: d0})
	if !rep.OK() || rep.Events != 200 || rep.Chains != 1 {
		t.Errorf("Verify() = %+v, want OK with 200 events in 1 chain", rep)
	}
}

func TestAppendRejectsPersonalData(t *testing.T) {
	db := newFakeTable()
	w := newTestWriter(t, db, newClock(day1))
	ev := testEvent(EventMessageSent)
	ev.Details = map[string]string{"note": "+447700900123"}
	if _, err := w.Append(context.Background(), ev); !errors.Is(err, ErrPersonalData) {
		t.Fatalf("Append() err = %v, want ErrPersonalData", err)
	}
	if db.puts != 0 {
		t.Errorf("puts = %d, want 0", db.puts)
	}
}

func TestAppendCancelled(t *testing.T) {
	w := newTestWriter(t, newFakeTable(), newClock(day1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.Append(ctx, testEvent(EventMessageSent)); err == nil {
		t.Fatalf("Append(cancelled) err = nil, want error")
	}
}

var (
	errThrottled = &smithy.GenericAPIError{Code: "ThrottlingException", Fault: smithy.FaultClient}
	errServer    = &smithy.GenericAPIError{Code: "InternalServerError", Fault: smithy.FaultServer}
	errTimeout   = errors.New("read tcp: i/o timeout")
)

// TestAppendOutcomes fails the third put in different ways.
func TestAppendOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		apply     bool
		err       error
		wantErr   bool
		wantChain bool // the event lands on a new chain
		wantItems int
	}{
		{name: "refused", apply: false, err: errThrottled, wantErr: true, wantItems: 2},
		{name: "server error, not written", apply: false, err: errServer, wantChain: true, wantItems: 3},
		{name: "timeout, written", apply: true, err: errTimeout, wantChain: true, wantItems: 4},
		{name: "retry found own write", apply: true, err: &types.ConditionalCheckFailedException{}, wantChain: true, wantItems: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newFakeTable()
			w := newTestWriter(t, db, newClock(day1))
			first := mustAppend(t, w, EventMessageSent)
			mustAppend(t, w, EventMessageSent)
			n := 0
			db.hook = func(map[string]types.AttributeValue) (bool, error) {
				if n++; n == 1 {
					return tt.apply, tt.err
				}
				return true, nil
			}
			e, err := w.Append(context.Background(), testEvent(EventMessageSent))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Append() err = %v, want error %v", err, tt.wantErr)
			}
			next := mustAppend(t, w, EventMessageSent)
			switch {
			case tt.wantChain && (e.Chain == first.Chain || e.Seq != 1 || next.Seq != 2):
				t.Errorf("Append() = %s/%d then %d, want a new chain from seq 1", e.Chain, e.Seq, next.Seq)
			case !tt.wantChain && (next.Chain != first.Chain || next.Seq != 3):
				t.Errorf("Append() after failure = %s/%d, want %s/3", next.Chain, next.Seq, first.Chain)
			}
			if got := len(db.snapshot()); got != tt.wantItems+1 {
				t.Errorf("items = %d, want %d", got, tt.wantItems+1)
			}
			if rep := verifyFake(t, db, newFakeSigner(t), VerifyOptions{SealedThrough: d0}); !rep.OK() {
				t.Errorf("Verify() breaks = %v, want none", rep.Breaks)
			}
		})
	}
}

func TestAppendUnknownOutcomeGivesUp(t *testing.T) {
	db := newFakeTable()
	w := newTestWriter(t, db, newClock(day1))
	db.hook = func(map[string]types.AttributeValue) (bool, error) { return false, errTimeout }
	if _, err := w.Append(context.Background(), testEvent(EventMessageSent)); err == nil {
		t.Fatalf("Append() err = nil, want error after two unknown outcomes")
	}
	if db.puts != 2 {
		t.Errorf("puts = %d, want 2", db.puts)
	}
}

func TestPrepareCommit(t *testing.T) {
	cancelled := func(codes ...string) error {
		r := make([]types.CancellationReason, len(codes))
		for i, c := range codes {
			r[i].Code = aws.String(c)
		}
		return &types.TransactionCanceledException{CancellationReasons: r}
	}
	tests := []struct {
		name      string
		err       error
		wantSeq   uint64 // of the next event
		wantChain bool
	}{
		{name: "committed", err: nil, wantSeq: 3},
		{name: "caller condition failed", err: cancelled("ConditionalCheckFailed", "None"), wantSeq: 2},
		{name: "conflict", err: cancelled("None", "TransactionConflict"), wantSeq: 2},
		{name: "throttled", err: errThrottled, wantSeq: 2},
		{name: "audit item taken", err: cancelled("None", "ConditionalCheckFailed"), wantSeq: 1, wantChain: true},
		{name: "no reasons", err: cancelled(), wantSeq: 1, wantChain: true},
		{name: "timeout", err: errTimeout, wantSeq: 1, wantChain: true},
		{name: "in progress", err: &types.TransactionInProgressException{}, wantSeq: 1, wantChain: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newFakeTable()
			w := newTestWriter(t, db, newClock(day1))
			first := mustAppend(t, w, EventConsentGranted)
			p, err := w.Prepare(context.Background(), testEvent(EventConsentRevoked))
			if err != nil {
				t.Fatalf("Prepare() err = %v, want nil", err)
			}
			if p.Event().Seq != 2 || p.Event().PrevHash != first.Hash {
				t.Fatalf("Prepare() = seq %d, want 2 after %s", p.Event().Seq, first.Hash)
			}
			p.Commit(tt.err)
			p.Commit(nil) // a second call does nothing
			next := mustAppend(t, w, EventMessageSent)
			if next.Seq != tt.wantSeq || (next.Chain != first.Chain) != tt.wantChain {
				t.Errorf("next Append() = %s/%d, want seq %d, new chain %v", next.Chain, next.Seq, tt.wantSeq, tt.wantChain)
			}
		})
	}
}

func TestPrepareInTransaction(t *testing.T) {
	db := newFakeTable()
	w := newTestWriter(t, db, newClock(day1))
	ctx := context.Background()
	other := func(cond string) types.TransactWriteItem {
		return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(testTable),
			Key:                 map[string]types.AttributeValue{attrPK: strAV("x"), attrSK: strAV("y")},
			ConditionExpression: aws.String(cond)}}
	}
	for i, cond := range []string{"attribute_exists(pk)", "attribute_not_exists(pk)", "attribute_not_exists(pk)"} {
		p, err := w.Prepare(ctx, testEvent(EventDataExport))
		if err != nil {
			t.Fatalf("Prepare() err = %v, want nil", err)
		}
		_, err = db.TransactWriteItems(ctx, p.TransactWriteItemsInput(other(cond)))
		p.Commit(err)
		if (err != nil) != (i == 0) {
			t.Fatalf("TransactWriteItems #%d err = %v", i, err)
		}
	}
	rep := verifyFake(t, db, newFakeSigner(t), VerifyOptions{SealedThrough: d0})
	if !rep.OK() || rep.Events != 2 || rep.Chains != 1 {
		t.Errorf("Verify() = %+v, want OK with 2 events in 1 chain", rep)
	}
}

func TestPrepareHoldsTheWriter(t *testing.T) {
	w := newTestWriter(t, newFakeTable(), newClock(day1))
	p, err := w.Prepare(context.Background(), testEvent(EventDataExport))
	if err != nil {
		t.Fatalf("Prepare() err = %v, want nil", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := w.Append(ctx, testEvent(EventMessageSent)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append() while prepared err = %v, want DeadlineExceeded", err)
	}
	p.Commit(nil)
	if e := mustAppend(t, w, EventMessageSent); e.Seq != 2 {
		t.Errorf("Append() after Commit seq = %d, want 2", e.Seq)
	}
}

func TestTimeNeverGoesBackwards(t *testing.T) {
	clock := newClock(day1)
	w := newTestWriter(t, newFakeTable(), clock)
	a := mustAppend(t, w, EventMessageSent)
	clock.set(day1.Add(-time.Hour))
	if b := mustAppend(t, w, EventMessageSent); b.Time.Before(a.Time) {
		t.Errorf("second event time %v before first %v", b.Time, a.Time)
	}
}
