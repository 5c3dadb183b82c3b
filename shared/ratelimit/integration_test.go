package ratelimit

import (
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/devstack/stacktest"
)

// stackLimiter returns a limiter on the local stack's DynamoDB Local, in a
// scope of its own so that every run uses fresh keys.
func stackLimiter(t *testing.T) (*Limiter, *dynamodb.Client) {
	t.Helper()
	st := stacktest.Require(t)
	db := dynamodb.NewFromConfig(st.AWS(t))
	lim, err := New(db, Config{Table: st.DataTable, Scope: "test-" + rand.Text()})
	if err != nil {
		t.Fatalf("New() err = %v, want nil", err)
	}
	return lim, db
}

func stackCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawItem reads an item's number attributes directly.
func rawItem(t *testing.T, ctx context.Context, lim *Limiter, db *dynamodb.Client, pk string) map[string]int64 {
	t.Helper()
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &lim.tableName, Key: lim.key(pk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem err = %v", err)
	}
	if out.Item == nil {
		return nil
	}
	got := map[string]int64{}
	for name := range out.Item {
		if name == "pk" || name == "sk" {
			continue
		}
		if v, ok, err := number(out.Item, name); err != nil {
			t.Fatalf("attribute %s: %v", name, err)
		} else if ok {
			got[name] = v
		}
	}
	return got
}

// TestDynamoDBConcurrentExactness races 50 goroutines for 10 per hour on
// one key of DynamoDB Local.
func TestDynamoDBConcurrentExactness(t *testing.T) {
	lim, db := stackLimiter(t)
	ctx, key := stackCtx(t), "to:"+rand.Text()
	start := time.Now()
	granted, refused := race(t, 50, func() (Decision, error) { return lim.Allow(ctx, key, perHour) })
	end := time.Now()
	t.Logf("50 concurrent requests for 10/h: granted %d, refused %d in %v", granted, refused, end.Sub(start))
	if granted != 10 || refused != 40 {
		t.Errorf("granted %d, refused %d; want 10, 40", granted, refused)
	}
	it := rawItem(t, ctx, lim, db, lim.prefix+key)
	if tat := time.Unix(0, it["tat"]); tat.Before(start.Add(time.Hour)) || tat.After(end.Add(time.Hour)) {
		t.Errorf("stored tat = %v, want one hour after the burst (%v)", tat, start)
	}
	if it["expires_at"] < ceilSec(it["tat"])+ttlMargin {
		t.Errorf("expires_at = %d, want ≥ tat + margin (%d)", it["expires_at"], ceilSec(it["tat"])+ttlMargin)
	}
}

// TestDynamoDBAllowAllConcurrent: 40 requests over 4 recipients (3/h each)
// behind one global limit of 8/h get exactly 8 grants, and refused
// requests consume no recipient budget.
func TestDynamoDBAllowAllConcurrent(t *testing.T) {
	lim, db := stackLimiter(t)
	ctx := stackCtx(t)
	glob := Check{Key: "from:" + rand.Text(), Limit: Limit{Count: 8, Per: time.Hour}}
	recips := make([]Check, 4)
	for i := range recips {
		recips[i] = Check{Key: "to:" + rand.Text(), Limit: Limit{Count: 3, Per: time.Hour}}
	}
	var mu sync.Mutex
	next := 0
	start := time.Now()
	granted, _ := race(t, 40, func() (Decision, error) {
		mu.Lock()
		r := recips[next%len(recips)]
		next++
		mu.Unlock()
		return lim.AllowAll(ctx, r, glob)
	})
	if granted != 8 {
		t.Errorf("granted %d of 40, want 8", granted)
	}
	used := 0
	for _, r := range recips {
		n := 0
		if it := rawItem(t, ctx, lim, db, lim.prefix+r.Key); it != nil {
			T := int64(20 * time.Minute)
			n = int((it["tat"] - start.UnixNano() + T/2) / T)
		}
		if n > 3 {
			t.Errorf("recipient consumed %d, want ≤ 3", n)
		}
		used += n
	}
	if used != granted {
		t.Errorf("recipient budget consumed %d, want %d (the grants)", used, granted)
	}
}

func TestDynamoDBFirstRefusalsOnce(t *testing.T) {
	lim, _ := stackLimiter(t)
	ctx, key := stackCtx(t), "to:"+rand.Text()
	exhaust(t, lim, key, perHour)
	ds := make([]Decision, 20)
	for i := range ds {
		if ds[i] = allow(t, lim, key, perHour); ds[i].Allowed {
			t.Fatalf("request after burst allowed, want refused")
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	firsts := 0
	for _, d := range ds {
		wg.Go(func() {
			got, err := lim.FirstRefusals(ctx, d)
			if err != nil {
				t.Errorf("FirstRefusals() err = %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			firsts += len(got)
		})
	}
	wg.Wait()
	if firsts != 1 {
		t.Errorf("first refusals = %d of 20, want 1", firsts)
	}
	if got, err := lim.FirstRefusals(ctx, allow(t, lim, key, perHour)); err != nil || got != nil {
		t.Errorf("FirstRefusals(later refusal) = %v, %v; want nil", got, err)
	}
}

func TestDynamoDBExpiredStateIgnored(t *testing.T) {
	lim, db := stackLimiter(t)
	ctx, key := stackCtx(t), "to:"+rand.Text()
	put(t, ctx, lim, db, lim.prefix+key, map[string]int64{"tat": time.Now().Add(10 * time.Hour).UnixNano(), "expires_at": time.Now().Unix() - 1})
	if d := allow(t, lim, key, perHour); !d.Allowed || d.Remaining != 9 {
		t.Errorf("Allow() over an expired item = %+v, want allowed, Remaining 9", d)
	}
}

func put(t *testing.T, ctx context.Context, lim *Limiter, db *dynamodb.Client, pk string, attrs map[string]int64) {
	t.Helper()
	item := lim.key(pk)
	for k, v := range attrs {
		item[k] = num(v)
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &lim.tableName, Item: item}); err != nil {
		t.Fatalf("PutItem err = %v", err)
	}
}

// TestDynamoDBExpressionsMatchFake runs every condition and update the
// limiter issues against DynamoDB Local over the states that matter, and
// checks the fake table agrees on the outcome and the resulting item.
func TestDynamoDBExpressionsMatchFake(t *testing.T) {
	lim, db := stackLimiter(t)
	ctx := stackCtx(t)
	g, _ := perHour.gcra()
	now := time.Now().UnixNano()
	live, dead := now/int64(time.Second)+3600, now/int64(time.Second)
	w := now / g.per
	states := map[string]map[string]int64{
		"absent":                  nil,
		"refused_window only":     {"refused_window": w - 1},
		"tat past":                {"tat": now - 1, "expires_at": live},
		"tat now":                 {"tat": now, "expires_at": live},
		"tat queued":              {"tat": now + 1, "expires_at": live},
		"tat at now+τ":            {"tat": now + g.tau, "expires_at": live},
		"tat beyond now+τ":        {"tat": now + g.tau + 1, "expires_at": live},
		"expired, beyond now+τ":   {"tat": now + g.tau + 1, "expires_at": dead},
		"no expires_at":           {"tat": now + 1},
		"reported this window":    {"tat": now + g.tau + 1, "expires_at": live, "refused_window": w},
		"reported earlier window": {"tat": now + g.tau + 1, "expires_at": live, "refused_window": w - 1},
		"reported later window":   {"tat": now + g.tau + 1, "expires_at": live, "refused_window": w + 1},
	}
	fresh := step{g: g, now: now, kind: kindFresh, newTAT: now + g.t}
	queued := step{g: g, now: now, kind: kindQueued}
	ops := map[string]func() (string, string, map[string]types.AttributeValue){
		"fresh":  fresh.update,
		"queued": queued.update,
		"refusal": func() (string, string, map[string]types.AttributeValue) {
			return updRefusal, condRefusal, map[string]types.AttributeValue{":w": num(w)}
		},
	}
	fake := newFakeTable()
	for sname, st := range states {
		for oname, op := range ops {
			t.Run(sname+"/"+oname, func(t *testing.T) {
				pk := lim.prefix + rand.Text()
				if st != nil {
					put(t, ctx, lim, db, pk, st)
				}
				upd, cond, vals := op()
				_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName: &lim.tableName, Key: lim.key(pk),
					UpdateExpression: &upd, ConditionExpression: &cond, ExpressionAttributeValues: vals,
				})
				var ccf *types.ConditionalCheckFailedException
				if err != nil && !errors.As(err, &ccf) {
					t.Fatalf("UpdateItem err = %v", err)
				}
				fop, perr := fake.parse(lim.key(pk), &upd, &cond, vals)
				if perr != nil {
					t.Fatalf("fake parse err = %v", perr)
				}
				if real, fk := err == nil, fop.holds(st); real != fk {
					t.Fatalf("condition holds: DynamoDB %v, fake %v", real, fk)
				}
				want := map[string]map[string]int64{pk: maps.Clone(st)}
				if err == nil {
					fop.apply(want)
				}
				if got := rawItem(t, ctx, lim, db, pk); !maps.Equal(got, want[pk]) {
					t.Errorf("item after update = %v, fake %v", got, want[pk])
				}
			})
		}
	}
}
