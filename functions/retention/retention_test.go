package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/envelope"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

func newEnv(t *testing.T) (*Handler, stacktest.Stack, *dynamodb.Client) {
	st := stacktest.Require(t)
	st.AsFunction(t, "RetentionFunction")
	for k, v := range map[string]string{"DATA_TABLE": st.DataTable, "KEYS_TABLE": st.KeysTable, "AUDIT_TABLE": st.AuditTable,
		"KMS_KEY_ID": st.KMSKeyID, "INDEX_KEY_SECRET_ID": st.IndexKeySecretID, "PSEUDONYM_KEY_SECRET_ID": st.PseudonymKeySecretID,
		"AUDIT_SIGNING_KEY_ID": st.AuditSigningKeyID} {
		t.Setenv(k, v)
	}
	h, err := newHandler()
	if err != nil {
		t.Fatalf("newHandler() err = %v", err)
	}
	h.Log, h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard
	h.Cursor = "test-" + hex.EncodeToString(random(6)) // this test's own progress record
	h.Lookback = 45 * 24 * time.Hour
	return h, st, dynamodb.NewFromConfig(st.AWS(t))
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// item is one written item and whether its class has expired 40 days on.
type item struct {
	sk      string
	expired bool
}

// seed writes items of every class as if 40 days ago, through the store,
// so their expiry comes from the same policy as production writes.
func seed(t *testing.T, st stacktest.Stack, db *dynamodb.Client) (string, []item) {
	cfg := st.AWS(t)
	env, err := envelope.New(kms.NewFromConfig(cfg), db, envelope.Config{KeyID: st.KMSKeyID, KeysTable: st.KeysTable})
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-40 * 24 * time.Hour)
	s := store.New(db, env, store.Config{Table: st.DataTable, Policy: retention.DefaultPolicy(), Now: func() time.Time { return past }})
	subject := "retention-" + hex.EncodeToString(random(8))
	ctx := context.Background()
	var items []item
	lookup := hex.EncodeToString(random(8))
	if err := s.PutInbound(ctx, store.Inbound{Subject: subject, Lookup: lookup, Phone: "+12015550177", Type: "text", Body: []byte("x"),
		At: past, Class: retention.ClassSupport}, store.Unit{}); err != nil {
		t.Fatal(err)
	}
	items = append(items, item{"msg#in#" + lookup, false}, item{"window", false}) // support 180 d, metadata 90 d
	for _, p := range []struct {
		class   retention.Class
		expired bool
	}{{retention.ClassOTP, true}, {retention.ClassMarketing, true}, {retention.ClassTransactional, false}} {
		id := "msg_" + hex.EncodeToString(random(6))
		l := hex.EncodeToString(random(8))
		if err := s.PutOutbound(ctx, store.Outbound{Subject: subject, ID: id, Lookup: l, Phone: "+12015550177", ProviderID: "wamid.r" + l,
			Body: []byte("y"), Purpose: p.class, Status: "sent", At: past}, store.Unit{}); err != nil {
			t.Fatal(err)
		}
		items = append(items, item{"msg#out#" + id, p.expired})
		if p.class == retention.ClassTransactional {
			if err := s.ApplyStatus(ctx, subject, "msg#out#"+id, store.Status{Lookup: l, Status: "read", At: past}, store.Unit{}); err != nil {
				t.Fatal(err)
			}
			items = append(items, item{"status#" + l + "#read", true}) // status 30 d
		}
	}
	return subject, items
}

func present(t *testing.T, st stacktest.Stack, db *dynamodb.Client, subject, sk string) bool {
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &st.DataTable, Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)}, "sk": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Item) > 0
}

// TestSweepDeletesExactlyTheExpired writes items of every class 40 days
// ago, stops the first sweep early as a timeout would, and checks the
// resumed sweep deletes exactly the expired ones and a further run nothing.
func TestSweepDeletesExactlyTheExpired(t *testing.T) {
	h, st, db := newEnv(t)
	subject, items := seed(t, st, db)
	run := func(ctx context.Context) Result {
		out, err := h.Handle(ctx, Event{Action: ActionSweep})
		if err != nil {
			t.Fatalf("sweep err = %v", err)
		}
		return out.(Result)
	}
	ctx, restore := stopAfterBuckets(h, 5)
	if first := run(ctx); first.Finished || first.OverdueHours <= 0 {
		t.Fatalf("interrupted sweep = %+v, want unfinished and overdue", first)
	}
	restore()
	second := run(context.Background())
	if !second.Finished || second.OverdueHours != 0 {
		t.Fatalf("resumed sweep = %+v, want finished", second)
	}
	for _, it := range items {
		if got := present(t, st, db, subject, it.sk); got == it.expired {
			t.Errorf("%s present = %v, want %v", it.sk, got, !it.expired)
		}
	}
	third := run(context.Background())
	total := 0
	for _, n := range third.Deleted {
		total += n
	}
	if total != 0 {
		t.Errorf("a further sweep deleted %v, want nothing", third.Deleted)
	}
}

// TestAuditDigest signs yesterday's digest once. Its clock is at the
// scheduled time on a day after 2500, which no other test uses: a digest
// of a real day, made after 06:00 UTC, would be late.
func TestAuditDigest(t *testing.T) {
	h, _, _ := newEnv(t)
	now := time.Date(2500+int(random(1)[0]), 1, 1, 0, 15, 0, 0, time.UTC)
	h.Now = func() time.Time { return now }
	for i := 0; i < 2; i++ {
		if _, err := h.Handle(context.Background(), Event{Action: ActionAuditDigest}); err != nil {
			t.Fatalf("audit_digest run %d err = %v", i, err)
		}
	}
}

// TestShortenedPolicyReachesExistingItems shortens marketing from 30 to 7
// days and checks items written under the old policy follow the new one:
// older than 7 days deleted, younger ones re-expired, other classes kept.
func TestShortenedPolicyReachesExistingItems(t *testing.T) {
	h, st, db := newEnv(t)
	cfg := st.AWS(t)
	env, err := envelope.New(kms.NewFromConfig(cfg), db, envelope.Config{KeyID: st.KMSKeyID, KeysTable: st.KeysTable})
	if err != nil {
		t.Fatal(err)
	}
	subject := "policy-" + hex.EncodeToString(random(8))
	write := func(class retention.Class, age time.Duration) string {
		at := time.Now().Add(-age)
		s := store.New(db, env, store.Config{Table: st.DataTable, Policy: retention.DefaultPolicy(), Now: func() time.Time { return at }})
		id := "msg_" + hex.EncodeToString(random(6))
		l := hex.EncodeToString(random(8))
		if err := s.PutOutbound(context.Background(), store.Outbound{Subject: subject, ID: id, Lookup: l, Phone: "+12015550178",
			ProviderID: "wamid.p" + l, Body: []byte("z"), Purpose: class, Status: "sent", At: at}, store.Unit{}); err != nil {
			t.Fatal(err)
		}
		return "msg#out#" + id
	}
	old := write(retention.ClassMarketing, 10*24*time.Hour)
	young := write(retention.ClassMarketing, 2*24*time.Hour)
	other := write(retention.ClassTransactional, 10*24*time.Hour)
	raw := Event{Action: ActionSweep}
	if _, err := h.Handle(context.Background(), raw); err != nil { // records the policy in force
		t.Fatal(err)
	}
	h.Policy, err = retention.PolicyFromEnv(func(k string) string {
		if k == "RETENTION_DAYS_MARKETING" {
			return "7"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Handle(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	if present(t, st, db, subject, old) {
		t.Errorf("a 10-day-old marketing message survived the 7-day policy")
	}
	if !present(t, st, db, subject, young) || !present(t, st, db, subject, other) {
		t.Errorf("a 2-day-old marketing or a transactional message was deleted")
	}
	out, _ := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &st.DataTable, Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)}, "sk": &types.AttributeValueMemberS{Value: young}}})
	exp, _ := out.Item["expires_at"].(*types.AttributeValueMemberN)
	if want := time.Now().Add(5 * 24 * time.Hour).Unix(); exp == nil || absDiff(exp.Value, want) > 120 {
		t.Errorf("young message expires_at = %v, want about now + 5 days", exp)
	}
}

func absDiff(v string, want int64) int64 {
	var n int64
	_, _ = fmt.Sscan(v, &n)
	if n > want {
		return n - want
	}
	return want - n
}

// TestOldestSurvivingItemPerClass checks the per-class age the alarm
// watches: a marketing item 12 hours from expiry is reported with its age
// and no excess after a sweep, and as outliving its policy when measured
// four days later without a sweep in between.
func TestOldestSurvivingItemPerClass(t *testing.T) {
	h, st, db := newEnv(t)
	cfg := st.AWS(t)
	env, err := envelope.New(kms.NewFromConfig(cfg), db, envelope.Config{KeyID: st.KMSKeyID, KeysTable: st.KeysTable})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	written := now.Add(-(30*24 - 12) * time.Hour) // marketing keeps 30 days
	s := store.New(db, env, store.Config{Table: st.DataTable, Policy: retention.DefaultPolicy(), Now: func() time.Time { return written }})
	l := hex.EncodeToString(random(8))
	if err := s.PutOutbound(context.Background(), store.Outbound{Subject: "oldest-" + l, ID: "msg_" + l, Lookup: l, Phone: "+12015550178",
		ProviderID: "wamid.o" + l, Body: []byte("z"), Purpose: retention.ClassMarketing, Status: "sent", At: written}, store.Unit{}); err != nil {
		t.Fatal(err)
	}
	raw := Event{Action: ActionSweep}
	out, err := h.Handle(context.Background(), raw)
	if err != nil {
		t.Fatalf("sweep err = %v", err)
	}
	res := out.(Result)
	if got := res.OldestAgeHours[retention.ClassMarketing]; got < 30*24-12-0.1 || got > 30*24 {
		t.Errorf("oldest marketing age = %.1f h, want between %d and %d", got, 30*24-12, 30*24)
	}
	if res.ExcessHours != 0 {
		t.Errorf("excess after a finished sweep = %.1f h, want 0", res.ExcessHours)
	}
	today := now.UTC().Truncate(24 * time.Hour)
	oldest, err := h.probe(context.Background(), today)
	if err != nil {
		t.Fatal(err)
	}
	later := h.Policy.Assess(retention.Outcome{Now: now.Add(4 * 24 * time.Hour), StoppedAt: today, Finished: true, Oldest: oldest})
	if later.ExcessHours < 3*24+12-0.1 {
		t.Errorf("excess four days on = %.1f h, want at least %d (the breach alarm fires above 48)", later.ExcessHours, 3*24+12)
	}
}

// TestShortenedPolicyWalksPastOtherClasses fills one expiry bucket with
// more than a page of another class's items ahead of the shortened
// class's: DynamoDB applies Limit before the filter, so the first pages
// hold no match and the walk must go on with ExclusiveStartKey. Before,
// it re-read the first page until the deadline and never recorded the
// new policy. A first run stops early, as a timeout would: the change is
// pending (and shown in the excess the alarm watches) and the next run
// goes on from the saved progress.
func TestShortenedPolicyWalksPastOtherClasses(t *testing.T) {
	h, st, db := newEnv(t)
	now := time.Now().UTC()
	exp := now.Truncate(24 * time.Hour).Add(20*24*time.Hour + 12*time.Hour) // one bucket, 20 days ahead
	pk := store.SubjectPK("pages-" + hex.EncodeToString(random(8)))
	n := func(v int64) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(v)} }
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	write := func(sk string, class retention.Class, days int, expires time.Time) {
		t.Helper()
		_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &st.DataTable, Item: map[string]types.AttributeValue{
			"pk": s(pk), "sk": s(sk), "class": s(string(class)), "expires_at": n(expires.Unix()),
			"written_at": n(expires.Add(-time.Duration(days) * 24 * time.Hour).Unix()), "exp_bucket": s(retention.Bucket(pk, expires))}})
		if err != nil {
			t.Fatalf("PutItem() err = %v", err)
		}
	}
	for i := range 230 { // more than two pages of transactional items, expiring first
		write(fmt.Sprintf("msg#out#t%03d", i), retention.ClassTransactional, 90, exp.Add(time.Duration(i-300)*time.Second))
	}
	var marketing []string
	for i := range 3 {
		sk := fmt.Sprintf("msg#out#m%03d", i)
		write(sk, retention.ClassMarketing, 30, exp.Add(time.Duration(i)*time.Second))
		marketing = append(marketing, sk)
	}
	raw := Event{Action: ActionSweep}
	if _, err := h.Handle(context.Background(), raw); err != nil { // records the policy in force
		t.Fatal(err)
	}
	var err error
	h.Policy, err = retention.PolicyFromEnv(func(k string) string {
		return map[string]string{"RETENTION_DAYS_MARKETING": "7"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	stopCtx, restore := stopAfterBuckets(h, retention.Shards+20) // today's sweep, then 20 of the walk's buckets
	out, err := h.Handle(stopCtx, raw)
	if err != nil {
		t.Fatalf("interrupted sweep err = %v", err)
	}
	if res := out.(Result); !res.PolicyPending || res.Finished || res.ExcessHours < (30-7)*24 {
		t.Errorf("interrupted sweep = finished %v, policy pending %v, excess %.0f h; want unfinished, pending, excess ≥ %d h",
			res.Finished, res.PolicyPending, res.ExcessHours, (30-7)*24)
	}
	if !present(t, st, db, strings.TrimPrefix(pk, "sub#"), marketing[0]) {
		t.Fatalf("the interrupted walk reached a bucket 20 days ahead")
	}
	prog, err := h.Store.PolicyProgress(context.Background(), h.Cursor)
	if wantDay := now.Truncate(24 * time.Hour).Add(24 * time.Hour).Format(time.DateOnly); err != nil || prog.Day != wantDay || prog.Shard != 4 {
		t.Errorf("saved progress = day %s shard %d (err %v), want day %s shard 4", prog.Day, prog.Shard, err, wantDay)
	}
	restore()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err = h.Handle(ctx, raw)
	if err != nil {
		t.Fatalf("sweep with the shortened policy err = %v", err)
	}
	if res := out.(Result); res.PolicyPending || !res.Finished {
		t.Errorf("sweep = finished %v, policy pending %v; want finished, nothing pending", res.Finished, res.PolicyPending)
	}
	for _, sk := range marketing { // written about 9.5 days ago: past the 7-day period
		if present(t, st, db, strings.TrimPrefix(pk, "sub#"), sk) {
			t.Errorf("%s survived the shortened marketing period", sk)
		}
	}
	if !present(t, st, db, strings.TrimPrefix(pk, "sub#"), "msg#out#t229") {
		t.Errorf("a transactional item was deleted by a marketing policy change")
	}
	applied, err := h.Store.SweepPolicy(context.Background(), h.Cursor)
	if err != nil || applied[retention.ClassMarketing] != 7 {
		t.Errorf("recorded policy = %v, %v; want marketing 7", applied, err)
	}
}
