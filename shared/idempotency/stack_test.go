package idempotency_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/idempotency"
)

// stackFixture is a store on DynamoDB Local under a random client id, so
// that runs never share records.
type stackFixture struct {
	db     *dynamodb.Client
	table  string
	client string
	store  *idempotency.Store
}

func newStackFixture(t *testing.T) *stackFixture {
	st := stacktest.Require(t)
	db := dynamodb.NewFromConfig(st.AWS(t))
	s, err := idempotency.New(db, idempotency.Config{Table: st.DataTable, Wait: 10 * time.Second})
	if err != nil {
		t.Fatalf("New() err = %v, want nil", err)
	}
	f := &stackFixture{db: db, table: st.DataTable, client: "stacktest-" + rand.Text(), store: s}
	t.Cleanup(func() { f.deleteAll(t) })
	return f
}

// items returns the records of the fixture's client.
func (f *stackFixture) items(t *testing.T) []map[string]types.AttributeValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in := &dynamodb.ScanInput{
		TableName: &f.table, ConsistentRead: aws.Bool(true), FilterExpression: aws.String("begins_with(pk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "idem#" + f.client + "#"}},
	}
	var items []map[string]types.AttributeValue
	for {
		out, err := f.db.Scan(ctx, in)
		if err != nil {
			t.Fatalf("Scan() err = %v, want nil", err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func (f *stackFixture) deleteAll(t *testing.T) {
	for _, it := range f.items(t) {
		key := map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]}
		if _, err := f.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: &f.table, Key: key}); err != nil {
			t.Errorf("DeleteItem() err = %v", err)
		}
	}
}

// TestStackConcurrent sends 20 identical requests at once: the operation
// runs exactly once and every request gets its response, most of them
// after waiting for it.
func TestStackConcurrent(t *testing.T) {
	f := newStackFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key, want := rand.Text(), idempotency.Response{Status: 202, Body: []byte(`{"id":"msg_` + rand.Text() + `"}`)}
	var (
		mu                    sync.Mutex
		runs, replays, waited int
		start                 = make(chan struct{})
		wg                    sync.WaitGroup
	)
	op := func(context.Context) (idempotency.Response, error) {
		mu.Lock()
		runs++
		mu.Unlock()
		time.Sleep(500 * time.Millisecond)
		return want, nil
	}
	for range 20 {
		wg.Go(func() {
			<-start
			began := time.Now()
			resp, replayed, err := f.store.Do(ctx, f.client, key, testBody, op)
			if err != nil || !cmp.Equal(resp, want) {
				t.Errorf("Do() = %+v, %v; want %+v, nil", resp, err, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if replayed {
				replays++
				if time.Since(began) >= 300*time.Millisecond {
					waited++
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if runs != 1 || replays != 19 || waited == 0 {
		t.Errorf("runs = %d, replays = %d (%d after waiting); want 1, 19, some", runs, replays, waited)
	}
	items := f.items(t)
	if len(items) != 1 || fakeS(items[0]["status"]) != "completed" || containsClear(items[0], []byte(key)) || containsClear(items[0], testBody) {
		t.Errorf("stored records = %v, want one completed record without the raw key or body", items)
	}
	if _, _, err := f.store.Do(ctx, f.client, key, otherBody, op); !errors.Is(err, idempotency.ErrConflict) {
		t.Errorf("Do(other body) err = %v, want ErrConflict", err)
	}
}

// TestStackLeases checks the release and replace conditions on DynamoDB
// Local: a retryable failure frees the key, and a claim whose invocation
// timed out is taken over once its lease has passed.
func TestStackLeases(t *testing.T) {
	f := newStackFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key := rand.Text()
	runs := 0
	op := func(err error) func(context.Context) (idempotency.Response, error) {
		return func(context.Context) (idempotency.Response, error) { runs++; return okResp, err }
	}

	if _, _, err := f.store.Do(ctx, f.client, key, testBody, op(idempotency.Retryable(errBoom))); !errors.Is(err, errBoom) {
		t.Fatalf("Do(retryable failure) err = %v, want %v", err, errBoom)
	}
	if n := len(f.items(t)); n != 0 {
		t.Fatalf("%d records after a retryable failure, want 0", n)
	}

	short, cancelShort := context.WithTimeout(ctx, time.Second)
	defer cancelShort()
	lease, _, err := f.store.Claim(short, f.client, key, testBody)
	if err != nil || lease == nil {
		t.Fatalf("Claim() = %v, %v; want a lease", lease, err)
	}
	resp, replayed, err := f.store.Do(ctx, f.client, key, testBody, op(nil))
	if err != nil || replayed || !cmp.Equal(resp, okResp) || runs != 2 {
		t.Fatalf("Do() after the lease = %+v, %v, %v, runs %d; want a second execution", resp, replayed, err, runs)
	}
	if err := lease.Complete(ctx, okResp); !errors.Is(err, idempotency.ErrNotRecorded) {
		t.Errorf("timed-out Lease.Complete() err = %v, want ErrNotRecorded", err)
	}
	if _, replayed, err := f.store.Do(ctx, f.client, key, testBody, op(nil)); err != nil || !replayed || runs != 2 {
		t.Errorf("Do() = replayed %v, %v, runs %d; want a replay", replayed, err, runs)
	}
}

// TestStackIrreversible checks the point of no return on DynamoDB Local:
// once the mark is committed, a lapsed claim is answered with its ifLost
// response and never claimed again, and a completion committed in the
// caller's transaction is replayed like [Lease.Complete]'s.
func TestStackIrreversible(t *testing.T) {
	f := newStackFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lost := idempotency.Response{Status: 502, Body: []byte(`{"error":{"code":"provider_error"}}`)}
	transact := func(w types.TransactWriteItem, err error) error {
		if err != nil {
			return err
		}
		_, err = f.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{w}})
		return err
	}

	t.Run("lapsed", func(t *testing.T) {
		key := rand.Text()
		short, cancelShort := context.WithTimeout(ctx, time.Second)
		defer cancelShort()
		lease, _, err := f.store.Claim(short, f.client, key, testBody)
		if err != nil || lease == nil {
			t.Fatalf("Claim() = %v, %v; want a lease", lease, err)
		}
		if err := transact(lease.Irreversible(lost)); err != nil {
			t.Fatalf("committing Irreversible: %v", err)
		}
		<-short.Done()
		time.Sleep(1100 * time.Millisecond) // leases end on whole seconds
		again, prior, err := f.store.Claim(ctx, f.client, key, testBody)
		if err != nil || again != nil || prior == nil || prior.Status != lost.Status || string(prior.Body) != string(lost.Body) {
			t.Fatalf("Claim() after the lapse = %v, %+v, %v; want the ifLost response and no lease", again, prior, err)
		}
		if _, _, err := f.store.Claim(ctx, f.client, key, otherBody); !errors.Is(err, idempotency.ErrConflict) {
			t.Errorf("Claim(other body) err = %v, want ErrConflict", err)
		}
	})

	t.Run("completed in the caller's transaction", func(t *testing.T) {
		key := rand.Text()
		lease, _, err := f.store.Claim(ctx, f.client, key, testBody)
		if err != nil || lease == nil {
			t.Fatalf("Claim() = %v, %v; want a lease", lease, err)
		}
		if err := transact(lease.Irreversible(lost)); err != nil {
			t.Fatalf("committing Irreversible: %v", err)
		}
		if err := transact(lease.CompleteWrite(okResp)); err != nil {
			t.Fatalf("committing CompleteWrite: %v", err)
		}
		_, prior, err := f.store.Claim(ctx, f.client, key, testBody)
		if err != nil || prior == nil || !cmp.Equal(*prior, okResp) {
			t.Fatalf("Claim() after completion = %+v, %v; want %+v", prior, err, okResp)
		}
		// The lease is no longer in progress: its writes are refused.
		if err := transact(lease.Irreversible(lost)); err == nil {
			t.Error("Irreversible on a completed record committed, want a cancelled transaction")
		}
	})

	t.Run("completed by whoever learns the outcome", func(t *testing.T) {
		key := rand.Text()
		lease, _, err := f.store.Claim(ctx, f.client, key, testBody)
		if err != nil || lease == nil {
			t.Fatalf("Claim() = %v, %v; want a lease", lease, err)
		}
		if err := transact(f.store.CompleteLost(lease.Ref(), okResp)); err == nil {
			t.Fatal("CompleteLost before the point of no return committed, want a cancelled transaction")
		}
		if err := transact(lease.Irreversible(lost)); err != nil {
			t.Fatalf("committing Irreversible: %v", err)
		}
		if err := transact(f.store.CompleteLost(lease.Ref(), okResp)); err != nil {
			t.Fatalf("committing CompleteLost: %v", err)
		}
		if _, prior, err := f.store.Claim(ctx, f.client, key, testBody); err != nil || prior == nil || !cmp.Equal(*prior, okResp) {
			t.Fatalf("Claim() after CompleteLost = %+v, %v; want %+v replayed", prior, err, okResp)
		}
		if err := lease.Complete(ctx, okResp); !errors.Is(err, idempotency.ErrNotRecorded) {
			t.Errorf("the lapsed invocation's Complete err = %v, want ErrNotRecorded", err)
		}
		if _, err := f.store.CompleteLost("not-a-ref", okResp); err == nil {
			t.Error("CompleteLost(malformed ref) err = nil")
		}
	})

	t.Run("released", func(t *testing.T) {
		key := rand.Text()
		lease, _, err := f.store.Claim(ctx, f.client, key, testBody)
		if err != nil || lease == nil {
			t.Fatalf("Claim() = %v, %v; want a lease", lease, err)
		}
		if err := transact(lease.Irreversible(lost)); err != nil {
			t.Fatalf("committing Irreversible: %v", err)
		}
		if err := lease.Release(ctx); err != nil {
			t.Fatalf("Release() err = %v", err)
		}
		if again, prior, err := f.store.Claim(ctx, f.client, key, testBody); err != nil || again == nil || prior != nil {
			t.Fatalf("Claim() after Release = %v, %+v, %v; want a new lease", again, prior, err)
		}
	})
}
