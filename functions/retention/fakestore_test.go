package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// fakeStore is the data table in memory, as the handler's [sweepStore]
// sees it. Its expiry index pages the way DynamoDB does: a page reads at
// most limit index entries, earliest expiry first, and only then keeps
// the class asked for, so a page can hold no item and still name a next
// page; a page that reads limit entries names a next page even when none
// is left. fail, when set, is asked before every call and its error
// returned.
type fakeStore struct {
	limit    int
	items    map[[2]string]*fakeItem
	cursor   string
	policy   map[retention.Class]int
	progress store.PolicyProgress
	fail     func(method string) error
	// reexpired lists each ReexpireBucket call as "bucket@page".
	reexpired []string
}

type fakeItem struct {
	pk, sk           string
	class            retention.Class
	written, expires time.Time
}

func newFakeStore(limit int) *fakeStore {
	return &fakeStore{limit: limit, items: map[[2]string]*fakeItem{}}
}

// put writes an item of class written at written, expiring under policy
// p, as the store's writers do.
func (f *fakeStore) put(pk, sk string, class retention.Class, written time.Time, p retention.Policy) {
	exp, err := p.Expiry(class, written)
	if err != nil {
		panic(err)
	}
	f.items[[2]string{pk, sk}] = &fakeItem{pk: pk, sk: sk, class: class, written: written, expires: exp}
}

func (f *fakeStore) has(pk, sk string) bool { _, ok := f.items[[2]string{pk, sk}]; return ok }

func (f *fakeStore) call(ctx context.Context, method string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.fail != nil {
		return f.fail(method)
	}
	return nil
}

// order is the by-expiry index's order within a bucket.
func order(a, b *fakeItem) int {
	return cmp.Or(a.expires.Compare(b.expires), cmp.Compare(a.pk, b.pk), cmp.Compare(a.sk, b.sk))
}

func pageOf(it *fakeItem) store.PageKey {
	return store.PageKey(fmt.Sprintf("%d|%s|%s", it.expires.Unix(), it.pk, it.sk))
}

// query reads one page of bucket after page, of the items keep accepts
// (the key condition); the page's filter is the caller's.
func (f *fakeStore) query(bucket string, page store.PageKey, keep func(*fakeItem) bool) ([]*fakeItem, store.PageKey, error) {
	var all []*fakeItem
	for _, it := range f.items {
		if retention.Bucket(it.pk, it.expires) == bucket && keep(it) {
			all = append(all, it)
		}
	}
	slices.SortFunc(all, order)
	if page != "" {
		p := strings.SplitN(string(page), "|", 3)
		sec, err := strconv.ParseInt(p[0], 10, 64)
		if len(p) != 3 || err != nil {
			return nil, "", errors.New("fake: malformed page key")
		}
		after := &fakeItem{expires: time.Unix(sec, 0), pk: p[1], sk: p[2]}
		i := slices.IndexFunc(all, func(it *fakeItem) bool { return order(it, after) > 0 })
		if i < 0 {
			i = len(all)
		}
		all = all[i:]
	}
	if len(all) >= f.limit { // Limit first ...
		all = all[:f.limit]
		return all, pageOf(all[f.limit-1]), nil
	}
	return all, "", nil
}

func (f *fakeStore) SweepBucket(ctx context.Context, bucket string, now time.Time, page store.PageKey) (map[retention.Class]int, store.PageKey, error) {
	if err := f.call(ctx, "SweepBucket"); err != nil {
		return nil, "", err
	}
	read, next, err := f.query(bucket, page, func(it *fakeItem) bool { return !it.expires.After(now) })
	if err != nil {
		return nil, "", err
	}
	counts := map[retention.Class]int{}
	for _, it := range read {
		delete(f.items, [2]string{it.pk, it.sk})
		counts[it.class]++
	}
	return counts, next, nil
}

func (f *fakeStore) ReexpireBucket(ctx context.Context, bucket string, class retention.Class, days int, now time.Time, page store.PageKey) (store.Reexpired, store.PageKey, error) {
	var r store.Reexpired
	f.reexpired = append(f.reexpired, bucket+"@"+string(page))
	if err := f.call(ctx, "ReexpireBucket"); err != nil {
		return r, "", err
	}
	read, next, err := f.query(bucket, page, func(*fakeItem) bool { return true })
	if err != nil {
		return r, "", err
	}
	for _, it := range read { // ... then the filter
		if it.class != class || it.written.IsZero() {
			continue
		}
		switch d, exp := retention.Reexpire(it.written, it.expires, days, now); d {
		case retention.ReexpiryDelete:
			delete(f.items, [2]string{it.pk, it.sk})
			r.Deleted++
		case retention.ReexpiryMove:
			it.expires = exp
			r.Moved++
		}
	}
	return r, next, nil
}

func (f *fakeStore) OldestInBucket(ctx context.Context, bucket string) (map[retention.Class]time.Time, error) {
	if err := f.call(ctx, "OldestInBucket"); err != nil {
		return nil, err
	}
	read, _, err := f.query(bucket, "", func(*fakeItem) bool { return true })
	if err != nil {
		return nil, err
	}
	oldest := map[retention.Class]time.Time{}
	for _, it := range read {
		if o, ok := oldest[it.class]; !ok || it.written.Before(o) {
			oldest[it.class] = it.written
		}
	}
	return oldest, nil
}

func (f *fakeStore) SweepCursor(ctx context.Context, _ string) (string, error) {
	return f.cursor, f.call(ctx, "SweepCursor")
}

func (f *fakeStore) SetSweepCursor(ctx context.Context, _, day string) error {
	if err := f.call(ctx, "SetSweepCursor"); err != nil {
		return err
	}
	f.cursor = day
	return nil
}

func (f *fakeStore) SweepPolicy(ctx context.Context, _ string) (map[retention.Class]int, error) {
	return f.policy, f.call(ctx, "SweepPolicy")
}

func (f *fakeStore) SetSweepPolicy(ctx context.Context, _ string, p retention.Policy) error {
	if err := f.call(ctx, "SetSweepPolicy"); err != nil {
		return err
	}
	f.policy = map[retention.Class]int{}
	for _, c := range retention.Classes {
		f.policy[c], _ = p.Days(c)
	}
	return nil
}

func (f *fakeStore) PolicyProgress(ctx context.Context, _ string) (store.PolicyProgress, error) {
	return f.progress, f.call(ctx, "PolicyProgress")
}

func (f *fakeStore) SetPolicyProgress(ctx context.Context, _ string, p store.PolicyProgress) error {
	if err := f.call(ctx, "SetPolicyProgress"); err != nil {
		return err
	}
	f.progress = p
	return nil
}

// fakeAudit records the events appended, or fails with err.
type fakeAudit struct {
	events []audit.Event
	err    error
}

func (a *fakeAudit) Append(ctx context.Context, ev audit.Event) (audit.Event, error) {
	if err := ctx.Err(); err != nil {
		return audit.Event{}, err
	}
	if a.err != nil {
		return audit.Event{}, a.err
	}
	a.events = append(a.events, ev)
	return ev, nil
}

// fakeDigester returns made and err, and records the day asked for and
// the deadline of the context it was given.
type fakeDigester struct {
	made     []*audit.Digest
	err      error
	day      string
	deadline time.Time
}

func (d *fakeDigester) Create(ctx context.Context, day string) ([]*audit.Digest, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.day = day
	d.deadline, _ = ctx.Deadline()
	return d.made, d.err
}

// bucketCounter counts the pages and the buckets (swept or re-expired to
// their end) a handler's store answers.
type bucketCounter struct {
	sweepStore
	pages, buckets int
}

func (b *bucketCounter) count(next store.PageKey, err error) {
	if err == nil {
		b.pages++
		if next == "" {
			b.buckets++
		}
	}
}

func (b *bucketCounter) SweepBucket(ctx context.Context, bucket string, now time.Time, page store.PageKey) (map[retention.Class]int, store.PageKey, error) {
	counts, next, err := b.sweepStore.SweepBucket(ctx, bucket, now, page)
	b.count(next, err)
	return counts, next, err
}

func (b *bucketCounter) ReexpireBucket(ctx context.Context, bucket string, class retention.Class, days int, now time.Time, page store.PageKey) (store.Reexpired, store.PageKey, error) {
	r, next, err := b.sweepStore.ReexpireBucket(ctx, bucket, class, days, now, page)
	b.count(next, err)
	return r, next, err
}

// stopWhen makes the runs of h under the returned context end as a
// timeout would once stop says so: h's store is wrapped to count pages
// and buckets, and from then on h's clock reads the context's deadline.
// restore undoes both.
func stopWhen(h *Handler, stop func(*bucketCounter) bool) (ctx context.Context, restore func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	dl, _ := ctx.Deadline()
	st, clock := h.Store, h.Now
	c := &bucketCounter{sweepStore: st}
	h.Store = c
	h.Now = func() time.Time {
		switch {
		case stop(c):
			return dl
		case clock != nil:
			return clock()
		}
		return time.Now()
	}
	return ctx, func() { cancel(); h.Store, h.Now = st, clock }
}

// stopAfterBuckets makes the runs of h under the returned context end
// after n buckets (swept or re-expired), as a timeout would.
func stopAfterBuckets(h *Handler, n int) (ctx context.Context, restore func()) {
	return stopWhen(h, func(c *bucketCounter) bool { return c.buckets >= n })
}
