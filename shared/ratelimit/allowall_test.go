package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	recipient = Check{Key: "to:bidx-R", Limit: Limit{Count: 3, Per: time.Hour}}
	sender    = Check{Key: "from:phone-id", Limit: Limit{Count: 5, Per: time.Minute}}
)

func allowAll(t testing.TB, lim *Limiter, checks ...Check) Decision {
	t.Helper()
	d, err := lim.AllowAll(context.Background(), checks...)
	if err != nil {
		t.Fatalf("AllowAll() err = %v, want nil", err)
	}
	return d
}

func TestAllowAll(t *testing.T) {
	tests := []struct {
		name      string
		exhausted []Check
		want      Decision
	}{
		{"both have room", nil, Decision{Allowed: true, Remaining: 2}},
		{"recipient exhausted", []Check{recipient}, Decision{RetryAfter: 20 * time.Minute, Refused: []Check{recipient}}},
		{"global exhausted", []Check{sender}, Decision{RetryAfter: 12 * time.Second, Refused: []Check{sender}}},
		{"both exhausted", []Check{recipient, sender}, Decision{RetryAfter: 20 * time.Minute, Refused: []Check{recipient, sender}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim, db, _ := newTest(t)
			for _, c := range tc.exhausted {
				exhaust(t, lim, c.Key, c.Limit)
			}
			before := map[string]map[string]int64{}
			for _, c := range []Check{recipient, sender} {
				before[c.Key] = db.item("rl#test#" + c.Key)
			}
			writes := db.writes.Load()
			d := allowAll(t, lim, recipient, sender)
			if diff := cmp.Diff(tc.want, d, cmp.AllowUnexported(Decision{}), cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".refusals" }, cmp.Ignore())); diff != "" {
				t.Errorf("AllowAll() mismatch (-want +got):\n%s", diff)
			}
			wantWrites := int64(0)
			if tc.want.Allowed {
				wantWrites = 2
			}
			if got := db.writes.Load() - writes; got != wantWrites {
				t.Errorf("writes = %d, want %d", got, wantWrites)
			}
			for _, c := range []Check{recipient, sender} {
				changed := db.item("rl#test#" + c.Key)["tat"] != before[c.Key]["tat"]
				if changed != tc.want.Allowed {
					t.Errorf("%s consumed = %v, want %v", c.Key, changed, tc.want.Allowed)
				}
			}
		})
	}
}

// TestAllowAllLostRace: a competitor takes the last global slot between
// the reads and the transaction, which then fails as a whole and the
// re-read refuses without consuming the recipient's budget.
func TestAllowAllLostRace(t *testing.T) {
	lim, db, _ := newTest(t)
	for range sender.Limit.Count - 1 {
		allow(t, lim, sender.Key, sender.Limit)
	}
	db.beforeWrite = once(db, func() { allow(t, lim, sender.Key, sender.Limit) })
	d := allowAll(t, lim, recipient, sender)
	if d.Allowed || len(d.Refused) != 1 || d.Refused[0] != sender {
		t.Errorf("AllowAll() = %+v, want refused by the sender limit", d)
	}
	if it := db.item("rl#test#" + recipient.Key); it != nil {
		t.Errorf("recipient item = %v, want none", it)
	}
	if got := db.failedWrites.Load(); got != 2 {
		t.Errorf("failed item writes = %d, want 2 (one transaction)", got)
	}
}

func TestAllowAllOneCheckIsOneUpdate(t *testing.T) {
	lim, db, _ := newTest(t)
	if d := allowAll(t, lim, recipient); !d.Allowed || d.Remaining != 2 {
		t.Errorf("AllowAll(one) = %+v, want allowed, Remaining 2", d)
	}
	if db.writes.Load() != 1 {
		t.Errorf("writes = %d, want 1", db.writes.Load())
	}
}

func TestFirstRefusals(t *testing.T) {
	l := Limit{Count: 2, Per: 10 * time.Second}
	lim, db, clk := newTest(t)
	ctx := context.Background()
	first := func(d Decision) []Check {
		t.Helper()
		got, err := lim.FirstRefusals(ctx, d)
		if err != nil {
			t.Fatalf("FirstRefusals() err = %v, want nil", err)
		}
		return got
	}
	if got := first(allow(t, lim, "to:other", l)); got != nil {
		t.Errorf("FirstRefusals(allowed) = %v, want nil", got)
	}
	exhaust(t, lim, testKeyA, l)
	want := []Check{{testKeyA, l}}
	steps := []struct {
		name  string
		at    time.Duration
		first bool
		calls int64 // UpdateItem calls by FirstRefusals
	}{
		{"first refusal in the window", 0, true, 1},
		{"second, same window: no call", time.Second, false, 0},
		{"third, same window", 9 * time.Second, false, 0},
		{"next window", 10 * time.Second, true, 1},
		{"next window again", 11 * time.Second, false, 0},
	}
	for _, s := range steps {
		clk.Set(t0.Add(s.at))
		d := allow(t, lim, testKeyA, l)
		for d.Allowed { // refill of the new window
			d = allow(t, lim, testKeyA, l)
		}
		calls := db.writes.Load() + db.failedWrites.Load()
		got := first(d)
		if (got != nil) != s.first || (got != nil && !cmp.Equal(got, want)) {
			t.Errorf("%s: FirstRefusals() = %v, want first %v", s.name, got, s.first)
		}
		if n := db.writes.Load() + db.failedWrites.Load() - calls; n != s.calls {
			t.Errorf("%s: writes = %d, want %d", s.name, n, s.calls)
		}
	}
}

// TestFirstRefusalsConcurrent: of 20 refusals decided before any is
// reported, exactly one is reported first.
func TestFirstRefusalsConcurrent(t *testing.T) {
	lim, db, _ := newTest(t)
	exhaust(t, lim, testKeyA, perHour)
	ds := make([]Decision, 20)
	for i := range ds {
		ds[i] = allow(t, lim, testKeyA, perHour)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	firsts := 0
	for _, d := range ds {
		wg.Go(func() {
			got, err := lim.FirstRefusals(context.Background(), d)
			if err != nil {
				t.Errorf("FirstRefusals() err = %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			firsts += len(got)
		})
	}
	wg.Wait()
	if firsts != 1 || db.item("rl#test#" + testKeyA)["refused_window"] != t0.UnixNano()/int64(time.Hour) {
		t.Errorf("first refusals = %d, item %v; want 1 and the window recorded", firsts, db.item("rl#test#"+testKeyA))
	}
}

func TestFirstRefusalsAllowAll(t *testing.T) {
	lim, _, _ := newTest(t)
	exhaust(t, lim, recipient.Key, recipient.Limit)
	exhaust(t, lim, sender.Key, sender.Limit)
	got, err := lim.FirstRefusals(context.Background(), allowAll(t, lim, recipient, sender))
	if err != nil || !cmp.Equal(got, []Check{recipient, sender}) {
		t.Errorf("FirstRefusals() = %v, %v; want both checks", got, err)
	}
}
