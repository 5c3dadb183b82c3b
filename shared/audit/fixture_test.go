package audit

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var (
	dayOne   = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	dayTwo   = dayOne.AddDate(0, 0, 1)
	dayThree = dayOne.AddDate(0, 0, 2)
)

const (
	d1 = "2026-03-01"
	d2 = "2026-03-02"
	d3 = "2026-03-03"
	// d0 is the day before any test writes: nothing is due through it.
	d0 = "2026-02-28"
)

// sealed verifies the fixture as of day three, after its grace: days one
// and two must have digests, day three has none yet.
var sealed = VerifyOptions{SealedThrough: d2}

// fixture is a small audit history: writers a and b on days one and two,
// c on day one only, d from day two; digests for days one and two; a and
// d also write on day three, which has no digest yet.
type fixture struct {
	db         *fakeTable
	signer     *fakeSigner
	clock      *testClock
	a, b, c, d *Writer
	digester   *Digester
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{db: newFakeTable(), signer: newFakeSigner(t), clock: newClock(dayOne.Add(9 * time.Hour))}
	f.a, f.b, f.c, f.d = f.writer(t), f.writer(t), f.writer(t), f.writer(t)
	var err error
	f.digester, err = NewDigester(f.db, f.signer, DigesterConfig{Table: testTable, KeyID: testKeyID, Retention: 48 * time.Hour, Now: f.clock.now})
	if err != nil {
		t.Fatalf("NewDigester() err = %v, want nil", err)
	}
	f.append(t, 4, f.a, f.b, f.c)
	f.clock.set(dayTwo.Add(15 * time.Minute))
	f.digest(t, d1)
	f.append(t, 3, f.a, f.b, f.d)
	f.clock.set(dayThree.Add(15 * time.Minute))
	f.digest(t, d2)
	f.append(t, 2, f.a, f.d)
	return f
}

func (f *fixture) writer(t testing.TB) *Writer {
	t.Helper()
	return newTestWriter(t, f.db, f.clock)
}

func (f *fixture) append(t testing.TB, n int, ws ...*Writer) {
	t.Helper()
	for range n {
		for _, w := range ws {
			mustAppend(t, w, EventMessageReceived)
		}
	}
}

func (f *fixture) digest(t testing.TB, day string) *Digest {
	t.Helper()
	made, err := f.digester.Create(context.Background(), day)
	if err != nil || len(made) == 0 || made[len(made)-1].Day != day {
		t.Fatalf("Create(%s) = %d digests, err %v, want the day's digest", day, len(made), err)
	}
	return made[len(made)-1]
}

type items = []map[string]types.AttributeValue

// find returns the index of an item by key.
func find(t testing.TB, its items, pk, sk string) int {
	t.Helper()
	i := slices.IndexFunc(its, func(it map[string]types.AttributeValue) bool {
		return itemKey(it) == pk+"\x00"+sk
	})
	if i < 0 {
		t.Fatalf("no item %s/%s", pk, sk)
	}
	return i
}

func evIndex(t testing.TB, its items, w *Writer, seq uint64) int {
	t.Helper()
	return find(t, its, chainPrefix+w.chain, seqKey(seq))
}

func event(t testing.TB, it map[string]types.AttributeValue) *storedEvent {
	t.Helper()
	e, err := parseEvent(it)
	if err != nil {
		t.Fatalf("parseEvent() err = %v, want nil", err)
	}
	return e
}

// lastSeq is the writer's last committed sequence number.
func lastSeq(w *Writer) uint64 { return w.seq }

// rewriteChain re-stores a's events from seq on with fresh hashes and
// links, as an attacker who knows the format would after tampering.
func relink(t testing.TB, its items, w *Writer, from uint64, last uint64) {
	t.Helper()
	prev := event(t, its[evIndex(t, its, w, from-1)]).Hash
	for s := from; s <= last; s++ {
		i := evIndex(t, its, w, s)
		e := event(t, its[i])
		e.PrevHash = prev
		e.Hash = e.ComputeHash()
		its[i] = eventItem(&e.Event)
		prev = e.Hash
	}
}

func without(its items, i int) items { return slices.Delete(slices.Clone(its), i, i+1) }
