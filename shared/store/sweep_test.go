package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// bucketItem writes an item of class into pk's expiry bucket, as the
// store files it (docs/data-model.md).
func (f *fixture) bucketItem(t *testing.T, pk, sk string, class retention.Class, written, expires time.Time) {
	t.Helper()
	n := func(t time.Time) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: fmt.Sprint(t.Unix())}
	}
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	if _, err := f.db.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: &f.data, Item: map[string]types.AttributeValue{
		"pk": s(pk), "sk": s(sk), "class": s(string(class)), "written_at": n(written), "expires_at": n(expires),
		"exp_bucket": s(retention.Bucket(pk, expires))}}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) exists(t *testing.T, pk, sk string) bool {
	t.Helper()
	out, err := f.db.GetItem(ctx(t), &dynamodb.GetItemInput{TableName: &f.data, Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Item) > 0
}

// TestSweepAndReexpireBuckets runs the retention function's store calls
// on one expiry bucket of real index pages: the sweep deletes what has
// expired and keeps the rest; the oldest write per class is found; a
// shortened period reaches an item of its class behind a full page of
// other classes (DynamoDB applies Limit before the filter, so the first
// page holds none of them and is not the last).
func TestSweepAndReexpireBuckets(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		// A day no other test writes in, so the bucket is this test's.
		day := time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(time.Now().UnixNano()%1000) * 24 * time.Hour)
		pk := store.SubjectPK(randomID(t))
		bucket := retention.Bucket(pk, day)
		written := day.Add(-30 * 24 * time.Hour)
		for i := range 105 {
			f.bucketItem(t, pk, fmt.Sprintf("msg#support#%03d", i), retention.ClassSupport, written, day.Add(time.Duration(i)*time.Minute))
		}
		f.bucketItem(t, pk, "msg#mkt#old", retention.ClassMarketing, written.Add(-time.Hour), day.Add(20*time.Hour))
		f.bucketItem(t, pk, "msg#mkt#new", retention.ClassMarketing, day.Add(-29*24*time.Hour+time.Hour), day.Add(21*time.Hour))

		oldest, err := f.s.OldestInBucket(ctx(t), bucket)
		if err != nil || !oldest[retention.ClassSupport].Equal(written) {
			t.Errorf("OldestInBucket() = %v, %v; want support written %v", oldest, err, written)
		}

		// Marketing cut to 29 days at the bucket's start: the entry written
		// 30 days and an hour before is past it (deleted), the one written
		// 29 days less an hour before expires an hour in (moved there).
		var r store.Reexpired
		pages := 0
		for page := store.PageKey(""); ; pages++ {
			got, next, err := f.s.ReexpireBucket(ctx(t), bucket, retention.ClassMarketing, 29, day, page)
			if err != nil {
				t.Fatalf("ReexpireBucket() err = %v", err)
			}
			if pages == 0 && (got != store.Reexpired{} || next == "") {
				t.Errorf("first page = %+v, next %q; want nothing done and a next page", got, next)
			}
			r.Deleted, r.Moved = r.Deleted+got.Deleted, r.Moved+got.Moved
			if next == "" {
				break
			}
			page = next
		}
		if r != (store.Reexpired{Deleted: 1, Moved: 1}) || pages < 1 {
			t.Errorf("ReexpireBucket() over %d pages = %+v, want one deleted, one moved", pages+1, r)
		}
		if f.exists(t, pk, "msg#mkt#old") {
			t.Errorf("the marketing item past its shortened period is still there")
		}
		moved, err := f.db.GetItem(ctx(t), &dynamodb.GetItemInput{TableName: &f.data, Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: "msg#mkt#new"}}})
		if want := fmt.Sprint(day.Add(time.Hour).Unix()); err != nil || moved.Item["expires_at"].(*types.AttributeValueMemberN).Value != want {
			t.Errorf("moved item expires_at = %v (err %v), want %s", moved.Item["expires_at"], err, want)
		}

		// The sweep at noon deletes what expired by then, over two pages:
		// the 105 support items (the first 105 minutes) and the moved
		// marketing item (one o'clock); it keeps what expires later.
		f.bucketItem(t, pk, "msg#support#late", retention.ClassSupport, written, day.Add(23*time.Hour))
		counts := map[retention.Class]int{}
		for page := store.PageKey(""); ; {
			got, next, err := f.s.SweepBucket(ctx(t), bucket, day.Add(12*time.Hour), page)
			if err != nil {
				t.Fatalf("SweepBucket() err = %v", err)
			}
			for c, n := range got {
				counts[c] += n
			}
			if next == "" {
				break
			}
			page = next
		}
		if counts[retention.ClassSupport] != 105 || counts[retention.ClassMarketing] != 1 {
			t.Errorf("SweepBucket() deleted %v, want 105 support and 1 marketing item", counts)
		}
		if f.exists(t, pk, "msg#support#104") || f.exists(t, pk, "msg#mkt#new") || !f.exists(t, pk, "msg#support#late") {
			t.Errorf("after the sweep: expired item kept, or a live one deleted")
		}
	})
}

// TestSweepPolicyAndProgress: the applied policy and the progress towards
// a shortened one read back as written; recording the policy ends the
// progress.
func TestSweepPolicyAndProgress(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		name := "test-" + lettersID(t)
		if p, err := f.s.SweepPolicy(ctx(t), name); err != nil || len(p) != 0 {
			t.Errorf("SweepPolicy(unset) = %v, %v; want empty", p, err)
		}
		want := store.PolicyProgress{Target: "marketing=29", Class: retention.ClassMarketing, Day: "2026-01-02", Shard: 3,
			Page: store.PageKey(`{"pk":"Sx"}`), StartedAt: f.now}
		if err := f.s.SetPolicyProgress(ctx(t), name, want); err != nil {
			t.Fatal(err)
		}
		if got, err := f.s.PolicyProgress(ctx(t), name); err != nil || got != want {
			t.Errorf("PolicyProgress() = %+v, %v; want %+v", got, err, want)
		}
		policy := retention.DefaultPolicy()
		if err := f.s.SetSweepPolicy(ctx(t), name, policy); err != nil {
			t.Fatal(err)
		}
		got, err := f.s.SweepPolicy(ctx(t), name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range retention.Classes {
			if d, _ := policy.Days(c); got[c] != d {
				t.Errorf("SweepPolicy()[%s] = %d, want %d", c, got[c], d)
			}
		}
		if p, err := f.s.PolicyProgress(ctx(t), name); err != nil || p.Target != "" {
			t.Errorf("PolicyProgress(after SetSweepPolicy) = %+v, %v; want none", p, err)
		}
	})
}

// TestOldestInBucketBeforeWrittenAt: an item written before written_at
// was recorded counts from its expiry less its class's period; an item of
// no retention class is left out.
func TestOldestInBucketBeforeWrittenAt(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		day := time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(time.Now().UnixNano()%1000) * 24 * time.Hour)
		pk := store.SubjectPK(randomID(t))
		s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
		for sk, class := range map[string]string{"msg#legacy": string(retention.ClassSupport), "odd": "not-a-class"} {
			if _, err := f.db.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: &f.data, Item: map[string]types.AttributeValue{
				"pk": s(pk), "sk": s(sk), "class": s(class), "expires_at": &types.AttributeValueMemberN{Value: fmt.Sprint(day.Unix())},
				"exp_bucket": s(retention.Bucket(pk, day))}}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := f.s.OldestInBucket(ctx(t), retention.Bucket(pk, day))
		want := day.Add(-180 * 24 * time.Hour)
		if err != nil || len(got) != 1 || !got[retention.ClassSupport].Equal(want) {
			t.Errorf("OldestInBucket() = %v, %v; want support from %v only", got, err, want)
		}
	})
}
