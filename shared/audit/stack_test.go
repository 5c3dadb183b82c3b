package audit

import (
	"context"
	"crypto/rand"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/waguard/waguard/devstack/stacktest"
)

// TestStack runs writers, the digest and the verifier against DynamoDB
// Local and local-kms, then tampers with the table directly. Events are
// dated on a random day in the 22nd century so that runs never share a
// day with each other or with real events.
func TestStack(t *testing.T) {
	st := stacktest.Require(t)
	cfg := st.AWS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, kc := dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg)

	n, err := rand.Int(rand.Reader, big.NewInt(70000))
	if err != nil {
		t.Fatalf("rand.Int() err = %v", err)
	}
	day1 := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n.Int64()))
	// Days one and two are written and digested; day three only receives
	// the digest of a run that catches up.
	days := []string{day1.Format(dayLayout), day1.AddDate(0, 0, 1).Format(dayLayout), day1.AddDate(0, 0, 2).Format(dayLayout)}
	t.Cleanup(func() { deleteDays(t, db, st.AuditTable, days) })

	clock := newClock(day1.Add(10 * time.Hour))
	var ws []*Writer
	for range 3 {
		w, err := NewWriter(db, WriterConfig{Table: st.AuditTable, Function: "waguard-stacktest", Retention: time.Hour, Now: clock.now})
		if err != nil {
			t.Fatalf("NewWriter() err = %v, want nil", err)
		}
		ws = append(ws, w)
	}
	appendConcurrently(ctx, t, ws, 4, 5)
	transact(ctx, t, db, st.DataTable, ws[0])
	clock.set(day1.Add(33 * time.Hour))
	appendConcurrently(ctx, t, ws, 1, 3)

	dg, err := NewDigester(db, kc, DigesterConfig{Table: st.AuditTable, KeyID: st.AuditSigningKeyID, LookBack: 3, Now: clock.now})
	if err != nil {
		t.Fatalf("NewDigester() err = %v, want nil", err)
	}
	for i, d := range days[:2] {
		clock.set(day1.AddDate(0, 0, i+1).Add(15 * time.Minute)) // the scheduled run
		if made, err := dg.Create(ctx, d); err != nil || made[0].Late {
			t.Fatalf("Create(%s) = %v, err %v, want an on-time digest", d, made, err)
		}
	}
	pk, err := kc.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(st.AuditSigningKeyID)})
	if err != nil || pk.KeySpec != kmstypes.KeySpecEccNistP256 {
		t.Fatalf("GetPublicKey() = %v, err %v, want an ECC_NIST_P256 key", pk, err)
	}
	pub, err := ParsePublicKey(pk.PublicKey)
	if err != nil {
		t.Fatalf("ParsePublicKey() err = %v, want nil", err)
	}

	verify := func(t *testing.T) *Report {
		t.Helper()
		rep, err := Verify(loadDays(ctx, t, db, st.AuditTable, days), pub, VerifyOptions{From: days[0], To: days[1], SealedThrough: days[1]})
		if err != nil {
			t.Fatalf("Verify() err = %v, want nil", err)
		}
		return rep
	}
	if rep := verify(t); !rep.OK() || rep.Events != 3*20+1+3*3 || rep.Chains != 3 || rep.Digests != 2 {
		t.Fatalf("Verify() = %+v, want OK with 70 events, 3 chains, 2 digests", rep)
	}

	w0, w1 := chainPrefix+ws[0].chain, chainPrefix+ws[1].chain
	tests := []struct {
		name   string
		tamper func(t *testing.T, orig items) // orig: the items before tampering
		want   Reason
	}{
		{"delete an event", func(t *testing.T, _ items) { deleteItem(ctx, t, db, st.AuditTable, w0, seqKey(5)) }, ReasonDeleted},
		{"alter an event", func(t *testing.T, _ items) {
			_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(st.AuditTable),
				Key:                       map[string]types.AttributeValue{attrPK: strAV(w1), attrSK: strAV(seqKey(3))},
				UpdateExpression:          aws.String("SET details.purpose = :p"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": strAV("marketing")}})
			if err != nil {
				t.Fatalf("UpdateItem() err = %v", err)
			}
		}, ReasonAltered},
		{"insert an event", func(t *testing.T, orig items) {
			for _, it := range insertAt(t, slices.Clone(orig), ws[2], 4, false) {
				putItem(ctx, t, db, st.AuditTable, it)
			}
		}, ReasonInserted},
		{"reorder events", func(t *testing.T, orig items) {
			a, b := orig[find(t, orig, w0, seqKey(2))], orig[find(t, orig, w0, seqKey(3))]
			putItem(ctx, t, db, st.AuditTable, withSK(a, seqKey(3)))
			putItem(ctx, t, db, st.AuditTable, withSK(b, seqKey(2)))
		}, ReasonReordered},
		{"forge a digest", func(t *testing.T, orig items) {
			for _, it := range forgeDigest(t, slices.Clone(orig), days[0]) {
				if itemKey(it) == digestPrefix+days[0]+"\x00"+digestSK {
					putItem(ctx, t, db, st.AuditTable, it)
				}
			}
		}, ReasonBadDigest},
		{"delete a digest", func(t *testing.T, _ items) {
			deleteItem(ctx, t, db, st.AuditTable, digestPrefix+days[1], digestSK)
		}, ReasonBadDigest},
		{"delete the newest digest whole", func(t *testing.T, _ items) {
			deleteItem(ctx, t, db, st.AuditTable, digestPrefix+days[1], digestSK)
			deleteItem(ctx, t, db, st.AuditTable, digestPrefix+days[1], partKey(1))
		}, ReasonDigestMissing},
		{"delete the newest digest and a chain's tail, then the next run", func(t *testing.T, _ items) {
			deleteItem(ctx, t, db, st.AuditTable, digestPrefix+days[1], digestSK)
			deleteItem(ctx, t, db, st.AuditTable, digestPrefix+days[1], partKey(1))
			deleteItem(ctx, t, db, st.AuditTable, w1, seqKey(ws[1].seq))
			clock.set(day1.AddDate(0, 0, 3).Add(15 * time.Minute))
			made, err := dg.Create(ctx, days[2])
			if err != nil || len(made) != 2 || made[0].Day != days[1] || !made[0].Late || made[1].Late {
				t.Fatalf("Create(%s) = %v, err %v, want a late digest of %s, then an on-time one", days[2], made, err, days[1])
			}
		}, ReasonLateDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := loadDays(ctx, t, db, st.AuditTable, days)
			tt.tamper(t, orig)
			rep := verify(t)
			if got, _ := rep.First(); got.Reason != tt.want {
				t.Errorf("Verify() after %s: first break %v, want %q (all: %v)", tt.name, got, tt.want, rep.Breaks)
			}
			restore(ctx, t, db, st.AuditTable, days, orig)
			if rep := verify(t); !rep.OK() {
				t.Fatalf("Verify() after restoring = %v, want OK", rep.Breaks)
			}
		})
	}
}

func appendConcurrently(ctx context.Context, t *testing.T, ws []*Writer, goroutines, each int) {
	t.Helper()
	var wg sync.WaitGroup
	for _, w := range ws {
		for range goroutines {
			wg.Go(func() {
				for range each {
					if _, err := w.Append(ctx, testEvent(EventMessageReceived)); err != nil {
						t.Errorf("Append() err = %v, want nil", err)
					}
				}
			})
		}
	}
	wg.Wait()
}

// transact writes one audit event inside a cross-table transaction and
// shows that a cancelled transaction does not advance the chain.
func transact(ctx context.Context, t *testing.T, db *dynamodb.Client, dataTable string, w *Writer) {
	t.Helper()
	id, _ := randomID(rand.Reader, "audittest#", 10)
	check := func(cond string) types.TransactWriteItem {
		return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(dataTable),
			Key:                 map[string]types.AttributeValue{attrPK: strAV(id), attrSK: strAV("x")},
			ConditionExpression: aws.String(cond)}}
	}
	for i, cond := range []string{"attribute_exists(pk)", "attribute_not_exists(pk)"} {
		p, err := w.Prepare(ctx, testEvent(EventConsentGranted))
		if err != nil {
			t.Fatalf("Prepare() err = %v, want nil", err)
		}
		_, err = db.TransactWriteItems(ctx, p.TransactWriteItemsInput(check(cond)))
		p.Commit(err)
		if (err != nil) != (i == 0) {
			t.Fatalf("TransactWriteItems(%s) err = %v", cond, err)
		}
	}
}

func loadDays(ctx context.Context, t *testing.T, db *dynamodb.Client, table string, days []string) items {
	t.Helper()
	var out items
	for _, d := range days {
		p := dynamodb.NewQueryPaginator(db, &dynamodb.QueryInput{TableName: aws.String(table), IndexName: aws.String(ByDayIndex),
			KeyConditionExpression:    aws.String("#d = :d"),
			ExpressionAttributeNames:  map[string]string{"#d": attrDay},
			ExpressionAttributeValues: map[string]types.AttributeValue{":d": strAV(d)}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("Query(%s) err = %v", d, err)
			}
			out = append(out, page.Items...)
		}
	}
	return out
}

func putItem(ctx context.Context, t *testing.T, db *dynamodb.Client, table string, it map[string]types.AttributeValue) {
	t.Helper()
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
		t.Fatalf("PutItem() err = %v", err)
	}
}

func deleteItem(ctx context.Context, t testing.TB, db *dynamodb.Client, table, pk, sk string) {
	t.Helper()
	_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{attrPK: strAV(pk), attrSK: strAV(sk)}})
	if err != nil {
		t.Fatalf("DeleteItem() err = %v", err)
	}
}

func withSK(it map[string]types.AttributeValue, sk string) map[string]types.AttributeValue {
	c := make(map[string]types.AttributeValue, len(it))
	for k, v := range it {
		c[k] = v
	}
	c[attrSK] = strAV(sk)
	return c
}

// restore puts the original items back and deletes any others.
func restore(ctx context.Context, t *testing.T, db *dynamodb.Client, table string, days []string, orig items) {
	t.Helper()
	keep := map[string]bool{}
	for _, it := range orig {
		keep[itemKey(it)] = true
		putItem(ctx, t, db, table, it)
	}
	for _, it := range loadDays(ctx, t, db, table, days) {
		if !keep[itemKey(it)] {
			deleteItem(ctx, t, db, table, it[attrPK].(*types.AttributeValueMemberS).Value, it[attrSK].(*types.AttributeValueMemberS).Value)
		}
	}
}

func deleteDays(t *testing.T, db *dynamodb.Client, table string, days []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, it := range loadDays(ctx, t, db, table, days) {
		deleteItem(ctx, t, db, table, it[attrPK].(*types.AttributeValueMemberS).Value, it[attrSK].(*types.AttributeValueMemberS).Value)
	}
}
