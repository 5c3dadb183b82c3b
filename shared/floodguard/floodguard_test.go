package floodguard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	testTable = "waguard-test-data"
	testIP    = "198.51.100.23" // documentation range
)

// fakeTable is an in-memory table that understands exactly the requests
// the guard makes. getErr and updateErr, when set, fail those calls.
type fakeTable struct {
	mu        sync.Mutex
	items     map[[2]string]map[string]types.AttributeValue
	gets      int // GetItem calls
	getErr    error
	updateErr error
}

func newFakeTable() *fakeTable {
	return &fakeTable{items: map[[2]string]map[string]types.AttributeValue{}}
}

func key(k map[string]types.AttributeValue) ([2]string, error) {
	pk, ok1 := k["pk"].(*types.AttributeValueMemberS)
	sk, ok2 := k["sk"].(*types.AttributeValueMemberS)
	if !ok1 || !ok2 || len(k) != 2 {
		return [2]string{}, errors.New("fake table: key must be pk and sk strings")
	}
	return [2]string{pk.Value, sk.Value}, nil
}

func (f *fakeTable) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.getErr != nil {
		return nil, f.getErr
	}
	if aws.ToString(in.TableName) != testTable || !aws.ToBool(in.ConsistentRead) || aws.ToString(in.ProjectionExpression) != "failures" {
		return nil, fmt.Errorf("fake table: unexpected GetItem %+v", in)
	}
	k, err := key(in.Key)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	out := &dynamodb.GetItemOutput{}
	if item, ok := f.items[k]; ok && item["failures"] != nil {
		out.Item = map[string]types.AttributeValue{"failures": item["failures"]}
	}
	return out, nil
}

func (f *fakeTable) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.updateErr != nil {
		return nil, f.updateErr
	}
	one, _ := in.ExpressionAttributeValues[":one"].(*types.AttributeValueMemberN)
	exp, _ := in.ExpressionAttributeValues[":exp"].(*types.AttributeValueMemberN)
	if aws.ToString(in.TableName) != testTable || aws.ToString(in.UpdateExpression) != "ADD failures :one SET expires_at = :exp" ||
		one == nil || exp == nil || len(in.ExpressionAttributeValues) != 2 {
		return nil, fmt.Errorf("fake table: unexpected UpdateItem %+v", in)
	}
	k, err := key(in.Key)
	if err != nil {
		return nil, err
	}
	add, err := strconv.Atoi(one.Value)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	item := f.items[k]
	if item == nil {
		item = map[string]types.AttributeValue{}
		f.items[k] = item
	}
	n := 0
	if cur, ok := item["failures"].(*types.AttributeValueMemberN); ok {
		n, _ = strconv.Atoi(cur.Value)
	}
	item["failures"] = &types.AttributeValueMemberN{Value: strconv.Itoa(n + add)}
	item["expires_at"] = exp
	return &dynamodb.UpdateItemOutput{Attributes: map[string]types.AttributeValue{"failures": item["failures"], "expires_at": exp}}, nil
}

// testClock is a settable clock.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

func newGuard(db table, c *testClock, limit int) *Guard {
	return New(db, Config{Table: testTable, Key: []byte("test-hmac-key-0001"), Scope: "webhook", Limit: limit, Now: c.now})
}

func record(t *testing.T, g *Guard, ip string, n int) {
	t.Helper()
	for range n {
		if _, err := g.RecordFailure(context.Background(), ip); err != nil {
			t.Fatalf("RecordFailure err = %v, want nil", err)
		}
	}
}

func TestBlockedAtLimit(t *testing.T) {
	tests := []struct {
		name     string
		limit    int
		failures int
		want     bool
	}{
		{"none", 0, 0, false},
		{"below default limit", 0, 19, false},
		{"at default limit", 0, 20, false},
		{"21st failure blocks", 0, 21, true},
		{"well above", 0, 40, true},
		{"custom limit at", 3, 3, false},
		{"custom limit above", 3, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &testClock{t: time.Date(2026, 1, 1, 12, 0, 15, 0, time.UTC)}
			g := newGuard(newFakeTable(), c, tt.limit)
			record(t, g, testIP, tt.failures)
			blocked, _, err := g.Blocked(context.Background(), testIP)
			if err != nil || blocked != tt.want {
				t.Errorf("Blocked after %d failures = %v, %v; want %v, nil", tt.failures, blocked, err, tt.want)
			}
		})
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want int
	}{
		{"start of minute", time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), 60},
		{"mid minute", time.Date(2026, 1, 1, 12, 0, 45, 0, time.UTC), 15},
		{"last second", time.Date(2026, 1, 1, 12, 0, 59, 900e6, time.UTC), 1},
		{"non-UTC clock", time.Date(2026, 1, 1, 13, 30, 20, 0, time.FixedZone("UTC+5:30", 5*3600+1800)), 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &testClock{t: tt.at}
			g := newGuard(newFakeTable(), c, 0)
			record(t, g, testIP, 21)
			blocked, retry, err := g.Blocked(context.Background(), testIP)
			if err != nil || !blocked || retry != tt.want {
				t.Errorf("Blocked at %s = %v, %d, %v; want true, %d, nil", tt.at.Format(time.TimeOnly), blocked, retry, err, tt.want)
			}
		})
	}
}

func TestWindowRollsOver(t *testing.T) {
	ctx := context.Background()
	c := &testClock{t: time.Date(2026, 1, 1, 12, 0, 30, 0, time.UTC)}
	g := newGuard(newFakeTable(), c, 0)
	record(t, g, testIP, 21)
	steps := []struct {
		name    string
		at      time.Time
		record  int
		blocked bool
	}{
		{"same minute", time.Date(2026, 1, 1, 12, 0, 59, 0, time.UTC), 0, true},
		{"next minute", time.Date(2026, 1, 1, 12, 1, 0, 0, time.UTC), 0, false},
		{"next minute at limit", time.Date(2026, 1, 1, 12, 1, 10, 0, time.UTC), 20, false},
		{"next minute over", time.Date(2026, 1, 1, 12, 1, 20, 0, time.UTC), 1, true},
		{"an hour later", time.Date(2026, 1, 1, 13, 1, 20, 0, time.UTC), 0, false},
	}
	for _, st := range steps {
		c.t = st.at
		record(t, g, testIP, st.record)
		if blocked, _, err := g.Blocked(ctx, testIP); err != nil || blocked != st.blocked {
			t.Errorf("%s: Blocked = %v, %v; want %v, nil", st.name, blocked, err, st.blocked)
		}
	}
}

func TestCountersAreSeparate(t *testing.T) {
	ctx := context.Background()
	db := newFakeTable()
	c := &testClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	g := newGuard(db, c, 0)
	record(t, g, testIP, 21)
	others := []struct {
		name string
		g    *Guard
		ip   string
	}{
		{"other IP", g, "198.51.100.24"},
		{"other scope", New(db, Config{Table: testTable, Key: []byte("test-hmac-key-0001"), Scope: "api", Now: c.now}), testIP},
		{"other key", New(db, Config{Table: testTable, Key: []byte("test-hmac-key-0002"), Scope: "webhook", Now: c.now}), testIP},
	}
	for _, o := range others {
		t.Run(o.name, func(t *testing.T) {
			if blocked, _, err := o.g.Blocked(ctx, o.ip); err != nil || blocked {
				t.Errorf("Blocked = %v, %v; want false, nil", blocked, err)
			}
		})
	}
}

// TestStoredItemsHoldNoIP checks that neither key nor attributes carry the
// source IP, and that items expire two minutes after their window starts.
func TestStoredItemsHoldNoIP(t *testing.T) {
	db := newFakeTable()
	at := time.Date(2026, 1, 1, 12, 0, 30, 0, time.UTC)
	g := newGuard(db, &testClock{t: at}, 0)
	ips := []string{testIP, "2001:db8::17", "::ffff:198.51.100.23"}
	for _, ip := range ips {
		record(t, g, ip, 1)
	}
	if len(db.items) != len(ips) {
		t.Fatalf("items = %d, want %d", len(db.items), len(ips))
	}
	wantExp := strconv.FormatInt(time.Date(2026, 1, 1, 12, 2, 0, 0, time.UTC).Unix(), 10)
	for k, item := range db.items {
		stored := k[0] + " " + k[1] + fmt.Sprint(item)
		for _, ip := range ips {
			if strings.Contains(stored, ip) || strings.Contains(stored, strings.ReplaceAll(ip, ":", "")) {
				t.Errorf("a stored item contains a source IP")
			}
		}
		if !strings.HasPrefix(k[0], "flood#webhook#") || k[1] != "202601011200" {
			t.Errorf("item key = (%q, %q), want (flood#webhook#…, 202601011200)", k[0], k[1])
		}
		if exp := item["expires_at"].(*types.AttributeValueMemberN).Value; exp != wantExp {
			t.Errorf("expires_at = %s, want %s", exp, wantExp)
		}
	}
}

func TestTableErrors(t *testing.T) {
	cause := errors.New("ProvisionedThroughputExceeded")
	c := &testClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	t.Run("read error", func(t *testing.T) {
		db := newFakeTable()
		db.getErr = cause
		blocked, retry, err := newGuard(db, c, 0).Blocked(context.Background(), testIP)
		if !errors.Is(err, cause) || blocked || retry != 0 {
			t.Errorf("Blocked = %v, %d, %v; want false, 0, %v", blocked, retry, err, cause)
		}
		if err != nil && strings.Contains(err.Error(), testIP) {
			t.Errorf("Blocked error contains the source IP")
		}
	})
	t.Run("write error", func(t *testing.T) {
		db := newFakeTable()
		db.updateErr = cause
		if _, err := newGuard(db, c, 0).RecordFailure(context.Background(), testIP); !errors.Is(err, cause) {
			t.Errorf("RecordFailure err = %v, want %v", err, cause)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, _, err := newGuard(newFakeTable(), c, 0).Blocked(ctx, testIP); !errors.Is(err, context.Canceled) {
			t.Errorf("Blocked(cancelled ctx) err = %v, want context.Canceled", err)
		}
	})
}

func TestConcurrentFailuresCountExactly(t *testing.T) {
	db := newFakeTable()
	g := newGuard(db, &testClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}, 0)
	var wg sync.WaitGroup
	for range 21 {
		wg.Go(func() {
			if _, err := g.RecordFailure(context.Background(), testIP); err != nil {
				t.Errorf("RecordFailure err = %v, want nil", err)
			}
		})
	}
	wg.Wait()
	if blocked, _, err := g.Blocked(context.Background(), testIP); err != nil || !blocked {
		t.Errorf("Blocked after 21 concurrent failures = %v, %v; want true, nil", blocked, err)
	}
}

func TestRecordFailureCountsAndSource(t *testing.T) {
	db := newFakeTable()
	g := newGuard(db, &testClock{t: time.Date(2026, 11, 24, 10, 0, 5, 0, time.UTC)}, 0)
	for want := 1; want <= 3; want++ {
		n, err := g.RecordFailure(context.Background(), testIP)
		if err != nil || n != want {
			t.Fatalf("RecordFailure() = %d, %v; want %d, nil", n, err, want)
		}
	}
	src := g.Source(testIP)
	if src == "" || strings.Contains(src, testIP) || src != g.Source(testIP) || src == g.Source("198.51.100.7") {
		t.Errorf("Source() = %q, want a stable pseudonym distinct per IP and free of the IP", src)
	}
}

// TestFreshReadings: a reading below the limit is trusted for Fresh by the
// instance that made it; its own failures count at once, another
// instance's within Fresh.
func TestFreshReadings(t *testing.T) {
	ctx := context.Background()
	db := newFakeTable()
	c := &testClock{t: time.Date(2026, 1, 1, 12, 0, 10, 0, time.UTC)}
	a, b := newGuard(db, c, 3), newGuard(db, c, 3)
	blocked := func(g *Guard) bool {
		t.Helper()
		v, _, err := g.Blocked(ctx, testIP)
		if err != nil {
			t.Fatalf("Blocked err = %v", err)
		}
		return v
	}
	if blocked(a) || blocked(a) || db.gets != 1 {
		t.Fatalf("two checks within a second: %d reads, want 1 and not blocked", db.gets)
	}
	record(t, b, testIP, 4) // another instance sees a flood
	if blocked(a) {
		t.Errorf("blocked on a fresh reading: want the other instance's failures seen only after Fresh")
	}
	c.t = c.t.Add(time.Second)
	if !blocked(a) {
		t.Errorf("not blocked once the reading is a second old")
	}

	c.t = c.t.Add(time.Minute) // a new window
	if blocked(a) {
		t.Fatalf("blocked in a new window")
	}
	record(t, a, testIP, 4) // its own failures count at once
	if !blocked(a) {
		t.Errorf("not blocked right after this instance recorded the flood")
	}

	always := New(db, Config{Table: testTable, Key: []byte("test-hmac-key-0001"), Scope: "webhook", Limit: 3, Now: c.now, Fresh: -1})
	before := db.gets
	always.Blocked(ctx, "192.0.2.1")
	always.Blocked(ctx, "192.0.2.1")
	if db.gets-before != 2 {
		t.Errorf("Fresh < 0: %d reads for two checks, want 2", db.gets-before)
	}
}

// TestMalformedCounterFailsClosed: a stored count that is not a whole
// number is an error (the caller refuses the request), never a silent 0
// that would let a flooding source through.
func TestMalformedCounterFailsClosed(t *testing.T) {
	c := &testClock{t: time.Date(2026, 1, 1, 12, 0, 15, 0, time.UTC)}
	db := newFakeTable()
	g := newGuard(db, c, 3)
	record(t, g, testIP, 1)
	for _, item := range db.items {
		item["failures"] = &types.AttributeValueMemberN{Value: "4.5"}
	}
	fresh := newGuard(db, c, 3) // another instance: no reading of its own
	if blocked, _, err := fresh.Blocked(context.Background(), testIP); err == nil {
		t.Errorf("Blocked with a malformed count = %v, nil; want an error", blocked)
	}
}

func TestAudited(t *testing.T) {
	for _, tc := range []struct {
		n, limit int
		want     bool
	}{
		{1, DefaultLimit, true},
		{2, DefaultLimit, false},
		{DefaultLimit, DefaultLimit, false},
		{DefaultLimit + 1, DefaultLimit, true},
		{DefaultLimit + 2, DefaultLimit, false},
		{1, 5, true},
		{6, 5, true},
		{21, 5, false},
	} {
		if got := Audited(tc.n, tc.limit); got != tc.want {
			t.Errorf("Audited(%d, %d) = %v, want %v", tc.n, tc.limit, got, tc.want)
		}
	}
	if g := New(nil, Config{}); !g.Audited(DefaultLimit+1) || g.Audited(DefaultLimit) {
		t.Errorf("New(default).Audited: want the %dth failure audited, not the %dth", DefaultLimit+1, DefaultLimit)
	}
}
