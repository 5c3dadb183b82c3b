package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/envelope"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/store/storetest"
)

// tableAPI is what the tests call on the data table: *dynamodb.Client on
// the stack, *storetest.DB in memory.
type tableAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

type fixture struct {
	db tableAPI
	// data and audit name the data and audit tables.
	data, audit string
	env         *envelope.Envelope
	s           *store.Store
	now         time.Time
}

// backends runs test on the local stack (skipped without it, failed
// without it under CI, as stacktest.Require does) and on the in-memory
// tables of shared/store/storetest, which run everywhere: the one set of
// assertions holds for both.
func backends(t *testing.T, test func(t *testing.T, f *fixture)) {
	t.Run("memory", func(t *testing.T) { test(t, newMemoryFixture(t)) })
	t.Run("stack", func(t *testing.T) { test(t, newFixture(t)) })
}

// newFixture is a store on the local stack.
func newFixture(t *testing.T) *fixture {
	st := stacktest.Require(t)
	cfg := st.AWS(t)
	db := dynamodb.NewFromConfig(cfg)
	env, err := envelope.New(kms.NewFromConfig(cfg), db, envelope.Config{KeyID: st.KMSKeyID, KeysTable: st.KeysTable})
	if err != nil {
		t.Fatalf("envelope.New() err = %v", err)
	}
	return newStoreFixture(db, env, st.DataTable, st.AuditTable)
}

// newMemoryFixture is a store on storetest's in-memory tables.
func newMemoryFixture(t *testing.T) *fixture {
	e := storetest.New(t)
	return newStoreFixture(e.DB, e.Envelope(t), e.Data, e.Audit)
}

func newStoreFixture(db tableAPI, env *envelope.Envelope, data, audit string) *fixture {
	f := &fixture{db: db, data: data, audit: audit, env: env, now: time.Now().UTC().Truncate(time.Second)}
	f.s = store.New(db, env, store.Config{Table: data, Policy: retention.DefaultPolicy(), Now: func() time.Time { return f.now }})
	return f
}

func randomID(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// scanFor reports whether any item of the data table holds needle in clear.
func (f *fixture) scanFor(t *testing.T, needle []byte) bool {
	in := &dynamodb.ScanInput{TableName: &f.data}
	for {
		out, err := f.db.Scan(ctx(t), in)
		if err != nil {
			t.Fatalf("Scan() err = %v", err)
		}
		for _, it := range out.Items {
			for _, v := range it {
				var b []byte
				switch a := v.(type) {
				case *types.AttributeValueMemberS:
					b = []byte(a.Value)
				case *types.AttributeValueMemberB:
					b = a.Value
				}
				if bytes.Contains(b, needle) {
					return true
				}
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return false
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func TestInboundIsEncryptedAndDeduplicated(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject, lookup := randomID(t), randomID(t)
		body := []byte("body-" + randomID(t))
		phone := "+4477009" + randomID(t)[:5]
		m := store.Inbound{Subject: subject, Lookup: lookup, Phone: phone, ProviderID: "wamid.test" + lookup,
			ProfileName: "Profile " + lookup, Type: "text", Body: body, At: f.now, Class: retention.ClassSupport}
		if err := f.s.PutInbound(ctx(t), m, store.Unit{}); err != nil {
			t.Fatalf("PutInbound() err = %v, want nil", err)
		}
		for i := 0; i < 3; i++ {
			if err := f.s.PutInbound(ctx(t), m, store.Unit{}); !errors.Is(err, store.ErrDuplicate) {
				t.Fatalf("PutInbound(redelivery %d) err = %v, want ErrDuplicate", i, err)
			}
		}
		for _, needle := range [][]byte{body, []byte(phone), []byte("wamid.test" + lookup), []byte("Profile " + lookup)} {
			if f.scanFor(t, needle) {
				t.Errorf("data table holds a personal value in clear")
			}
		}
		p, err := f.s.Profile(ctx(t), subject)
		if err != nil || !p.LastInbound.Equal(f.now) {
			t.Errorf("Profile().LastInbound = %v (err %v), want %v", p.LastInbound, err, f.now)
		}
	})
}

func TestErasedSubjectStoresNothing(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject := randomID(t)
		_, err := f.db.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: &f.data, Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: store.ErasedPK(subject)}, "sk": &types.AttributeValueMemberS{Value: "erased"}}})
		if err != nil {
			t.Fatal(err)
		}
		m := store.Inbound{Subject: subject, Lookup: randomID(t), Phone: "+447700900001", Type: "text", Body: []byte("x"), At: f.now, Class: retention.ClassSupport}
		if err := f.s.PutInbound(ctx(t), m, store.Unit{}); !errors.Is(err, store.ErrErased) {
			t.Fatalf("PutInbound(erased subject) err = %v, want ErrErased", err)
		}
		out, err := f.db.Query(ctx(t), &dynamodb.QueryInput{TableName: &f.data, KeyConditionExpression: aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)}}})
		if err != nil || len(out.Items) != 0 {
			t.Errorf("subject partition has %d items (err %v), want 0", len(out.Items), err)
		}
	})
}

func TestConsentLedgerIsAppendOnly(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject := randomID(t)
		steps := []struct {
			action string
			change store.SuppressionChange
			want   bool
			supp   bool
		}{
			{store.ActionGrant, store.SuppressionLift, true, false},
			{store.ActionRevoke, store.SuppressionAdd, false, true},
			{store.ActionGrant, store.SuppressionLift, true, false},
		}
		for i, s := range steps {
			f.now = f.now.Add(time.Minute)
			ev := store.ConsentEvent{ID: "cev_" + randomID(t), Purpose: "marketing", Action: s.action, Method: "whatsapp_keyword",
				PolicyVersion: "2026-01", Actor: "webhook", At: f.now}
			if err := f.s.RecordConsent(ctx(t), subject, ev, s.change, "stop_keyword", store.Unit{}); err != nil {
				t.Fatalf("step %d: RecordConsent() err = %v", i, err)
			}
			p, err := f.s.Profile(ctx(t), subject)
			if err != nil {
				t.Fatalf("Profile() err = %v", err)
			}
			if got := p.Consented("marketing"); got != s.want {
				t.Errorf("step %d: Consented = %v, want %v", i, got, s.want)
			}
			if _, got := p.Suppressed["marketing"]; got != s.supp {
				t.Errorf("step %d: suppressed = %v, want %v", i, got, s.supp)
			}
			if len(p.Ledger) != i+1 {
				t.Errorf("step %d: ledger has %d events, want %d (append-only)", i, len(p.Ledger), i+1)
			}
		}
	})
}

func TestStatusesFollowTheOutboundMessage(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject, lookup := randomID(t), randomID(t)
		out := store.Outbound{Subject: subject, ID: "msg_" + randomID(t), Lookup: lookup, Phone: "+447700900002",
			ProviderID: "wamid.out" + lookup, Body: []byte(`{"text":"hi"}`), Purpose: retention.ClassTransactional, Status: "sent", At: f.now}
		if err := f.s.PutOutbound(ctx(t), out, store.Unit{}); err != nil {
			t.Fatalf("PutOutbound() err = %v", err)
		}
		gotSubject, sk, err := f.s.FindOutbound(ctx(t), lookup)
		if err != nil || gotSubject != subject || sk != "msg#out#"+out.ID {
			t.Fatalf("FindOutbound() = %q, %q, %v; want the message", gotSubject, sk, err)
		}
		for _, st := range []string{"delivered", "read", "sent"} { // the late "sent" must not win
			if err := f.s.ApplyStatus(ctx(t), subject, sk, store.Status{Lookup: lookup, Status: st, At: f.now}, store.Unit{}); err != nil {
				t.Fatalf("ApplyStatus(%s) err = %v", st, err)
			}
		}
		if err := f.s.ApplyStatus(ctx(t), subject, sk, store.Status{Lookup: lookup, Status: "read", At: f.now}, store.Unit{}); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("ApplyStatus(redelivered read) err = %v, want ErrDuplicate", err)
		}
		item, err := f.db.GetItem(ctx(t), &dynamodb.GetItemInput{TableName: &f.data, Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)}, "sk": &types.AttributeValueMemberS{Value: sk}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := item.Item["status"].(*types.AttributeValueMemberS).Value; got != "read" {
			t.Errorf("message status = %q, want read", got)
		}
	})
}

func TestOpenErasureIsIdempotentPerSubject(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject := randomID(t)
		first, err := f.s.OpenErasure(ctx(t), store.ErasureRequest{ID: "er_" + lettersID(t), Subject: subject, Reason: "whatsapp_keyword", RequestedAt: f.now}, store.Unit{})
		if err != nil {
			t.Fatalf("OpenErasure() err = %v; want a new request", err)
		}
		if want := f.now.Add(store.ErasureDeadline); !first.DueBy.Equal(want) {
			t.Errorf("DueBy = %v, want %v", first.DueBy, want)
		}
		again, err := f.s.OpenErasure(ctx(t), store.ErasureRequest{ID: "er_" + lettersID(t), Subject: subject, Reason: "user_request", RequestedAt: f.now}, store.Unit{})
		if !errors.Is(err, store.ErrDuplicate) || again.ID != first.ID || again.Status != "pending" {
			t.Errorf("second OpenErasure() = %+v, err %v; want the first request back with ErrDuplicate", again, err)
		}
	})
}

func TestContentRoundTrip(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject, lookup := randomID(t), randomID(t)
		m := store.Inbound{Subject: subject, Lookup: lookup, Phone: "+12015550142", ProviderID: "wamid.x" + lookup,
			ProfileName: "Grace", Type: "text", Body: []byte("hello"), At: f.now, Class: retention.ClassSupport}
		if err := f.s.PutInbound(ctx(t), m, store.Unit{}); err != nil {
			t.Fatal(err)
		}
		item, err := f.db.GetItem(ctx(t), &dynamodb.GetItemInput{TableName: &f.data, Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)}, "sk": &types.AttributeValueMemberS{Value: "msg#in#" + lookup}}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.s.OpenContent(ctx(t), subject, item.Item)
		want := store.Content{Phone: m.Phone, ProviderID: m.ProviderID, ProfileName: "Grace", Body: []byte("hello")}
		if err != nil || got.Phone != want.Phone || got.ProviderID != want.ProviderID || got.ProfileName != want.ProfileName || string(got.Body) != "hello" {
			t.Errorf("OpenContent() = %v, %v; want the stored content", got, err)
		}
		if err := f.env.DeleteSubjectKey(ctx(t), subject); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.OpenContent(ctx(t), subject, item.Item); !errors.Is(err, envelope.ErrSubjectKeyNotFound) {
			t.Errorf("OpenContent() after the key was deleted err = %v, want ErrSubjectKeyNotFound (crypto-shredded)", err)
		}
	})
}

// TestEraseSubject erases one subject among others: the suppression comes
// first and refuses new messages, every partition item goes in pages, the
// subject key goes last and with it every copy of the ciphertext, and the
// other subject is untouched.
func TestEraseSubject(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		victim, other := randomID(t), randomID(t)
		var kept map[string]types.AttributeValue
		for i := 0; i < 30; i++ {
			for _, subject := range []string{victim, other} {
				lookup := randomID(t)
				m := store.Inbound{Subject: subject, Lookup: lookup, Phone: "+12015550199", ProviderID: "wamid.e" + lookup, Type: "text",
					Body: []byte("message " + lookup), At: f.now, Class: retention.ClassSupport}
				if err := f.s.PutInbound(ctx(t), m, store.Unit{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := f.s.RecordConsent(ctx(t), victim, store.ConsentEvent{ID: "cev_" + randomID(t), Purpose: "marketing", Action: store.ActionGrant,
			Method: "api", PolicyVersion: "1", Actor: "test", At: f.now}, store.SuppressionLift, "", store.Unit{}); err != nil {
			t.Fatal(err)
		}
		for _, it := range partitionItems(t, f, victim) {
			if strings.HasPrefix(it["sk"].(*types.AttributeValueMemberS).Value, "msg#") {
				kept = it // a copy of a ciphertext, as a backup or stream would hold
			}
		}
		req, err := f.s.OpenErasure(ctx(t), store.ErasureRequest{ID: "er_" + lettersID(t), Subject: victim, Reason: "user_request", RequestedAt: f.now}, store.Unit{})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.s.MarkErased(ctx(t), victim, req.ID, f.now); err != nil {
			t.Fatal(err)
		}
		if err := f.s.PutInbound(ctx(t), store.Inbound{Subject: victim, Lookup: randomID(t), Phone: "+12015550199", Type: "text",
			Body: []byte("late"), At: f.now, Class: retention.ClassSupport}, store.Unit{}); !errors.Is(err, store.ErrErased) {
			t.Fatalf("PutInbound during erasure err = %v, want ErrErased", err)
		}
		var total store.Counts
		for pages := 0; ; pages++ {
			c, more, err := f.s.ErasePage(ctx(t), req.ID, victim)
			if err != nil {
				t.Fatalf("ErasePage() err = %v", err)
			}
			total = total.Add(c)
			if !more {
				break
			}
			if pages > 10 {
				t.Fatal("ErasePage never finished")
			}
		}
		if total.Messages != 30 || total.ConsentEvents != 1 {
			t.Errorf("erased %+v, want 30 messages and 1 consent event", total)
		}
		if got, err := f.s.ErasureRequest(ctx(t), req.ID); err != nil || got.Counts != total {
			t.Errorf("request counts = %+v (err %v), want %+v", got.Counts, err, total)
		}
		if err := f.env.DeleteSubjectKey(ctx(t), victim); err != nil {
			t.Fatal(err)
		}
		if n := len(partitionItems(t, f, victim)); n != 0 {
			t.Errorf("victim partition has %d items after erasure, want 0", n)
		}
		if _, err := f.s.OpenContent(ctx(t), victim, kept); !errors.Is(err, envelope.ErrSubjectKeyNotFound) {
			t.Errorf("old ciphertext after erasure: err = %v, want ErrSubjectKeyNotFound", err)
		}
		others := partitionItems(t, f, other)
		if len(others) != 31 { // 30 messages + window
			t.Fatalf("other subject has %d items, want 31", len(others))
		}
		for _, it := range others {
			if strings.HasPrefix(it["sk"].(*types.AttributeValueMemberS).Value, "msg#") {
				if _, err := f.s.OpenContent(ctx(t), other, it); err != nil {
					t.Fatalf("other subject's message no longer decrypts: %v", err)
				}
			}
		}
	})
}

func partitionItems(t *testing.T, f *fixture, subject string) []map[string]types.AttributeValue {
	out, err := f.db.Query(ctx(t), &dynamodb.QueryInput{TableName: &f.data, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// lettersID is a random id without digit runs (audit details refuse long
// digit runs as possible phone numbers).
func lettersID(t *testing.T) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return 'g' + (r - '0')
		}
		return r
	}, randomID(t))
}

// TestStatusAfterErasureIsRefused checks a delivery status arriving during
// an erasure cannot recreate data in the subject's partition.
func TestStatusAfterErasureIsRefused(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject, lookup := randomID(t), randomID(t)
		if err := f.s.PutOutbound(ctx(t), store.Outbound{Subject: subject, ID: "msg_" + lettersID(t), Lookup: lookup, Phone: "+12015550143",
			ProviderID: "wamid.s" + lookup, Body: []byte("x"), Purpose: retention.ClassTransactional, Status: "sent", At: f.now}, store.Unit{}); err != nil {
			t.Fatal(err)
		}
		_, sk, err := f.s.FindOutbound(ctx(t), lookup)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.s.MarkErased(ctx(t), subject, "er_status", f.now); err != nil {
			t.Fatal(err)
		}
		if err := f.s.ApplyStatus(ctx(t), subject, sk, store.Status{Lookup: lookup, Status: "read", At: f.now}, store.Unit{}); !errors.Is(err, store.ErrErased) {
			t.Errorf("ApplyStatus during erasure err = %v, want ErrErased", err)
		}
		for _, it := range partitionItems(t, f, subject) {
			if strings.HasPrefix(it["sk"].(*types.AttributeValueMemberS).Value, "status#") {
				t.Errorf("a status item was written during the erasure")
			}
		}
	})
}

// barrierTable holds the first n Queries until all n have been read, so
// that concurrent erasure runs see the same page before either deletes.
type barrierTable struct {
	tableAPI
	wg *sync.WaitGroup
	n  atomic.Int32
}

func (b *barrierTable) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := b.tableAPI.Query(ctx, in, opts...)
	if b.n.Add(1) <= 2 {
		b.wg.Done()
		b.wg.Wait()
	}
	return out, err
}

// TestConcurrentErasureRunsCountOnce runs two erasures of one request at
// once (the POST's inline run and the scheduled resume) over 10
// messages: both read the same page, and the request must count each
// item once, by what each delete actually removed.
func TestConcurrentErasureRunsCountOnce(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		victim := randomID(t)
		for range 10 {
			lookup := randomID(t)
			if err := f.s.PutInbound(ctx(t), store.Inbound{Subject: victim, Lookup: lookup, Phone: "+12015550199", ProviderID: "wamid.c" + lookup,
				Type: "text", Body: []byte("m"), At: f.now, Class: retention.ClassSupport}, store.Unit{}); err != nil {
				t.Fatal(err)
			}
		}
		req, err := f.s.OpenErasure(ctx(t), store.ErasureRequest{ID: "er_" + lettersID(t), Subject: victim, Reason: "user_request", RequestedAt: f.now}, store.Unit{})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		bs := store.New(&barrierTable{tableAPI: f.db, wg: &wg}, f.env, store.Config{Table: f.data, Policy: retention.DefaultPolicy()})
		var runs sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			runs.Add(1)
			go func() {
				defer runs.Done()
				for more := true; more; {
					var err error
					if _, more, err = bs.ErasePage(ctx(t), req.ID, victim); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		runs.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("ErasePage() err = %v, want nil", err)
		}
		got, err := f.s.ErasureRequest(ctx(t), req.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Counts.Messages != 10 || got.Counts.Other != 1 { // 10 messages and the service window
			t.Errorf("request counts after two concurrent runs = %+v, want 10 messages and 1 other", got.Counts)
		}
		if n := len(partitionItems(t, f, victim)); n != 0 {
			t.Errorf("%d items left in the partition, want 0", n)
		}
	})
}

// TestConsentLedgerSortsInArrivalOrder records, in one second, a keyword
// grant whose own time is the whole second (as Meta's timestamps are) and
// then an API revoke: the ledger's order, and so the decision, must
// follow arrival. (RFC3339Nano keys sorted "…:00.5Z" before "…:00Z".)
func TestConsentLedgerSortsInArrivalOrder(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject := randomID(t)
		second := f.now.Truncate(time.Second)
		record := func(id, action string, at, arrival time.Time) {
			t.Helper()
			f.now = arrival
			change := store.SuppressionLift
			if action == store.ActionRevoke {
				change = store.SuppressionAdd
			}
			if err := f.s.RecordConsent(ctx(t), subject, store.ConsentEvent{ID: id, Purpose: "marketing", Action: action,
				Method: "test", PolicyVersion: "1", Actor: "test", At: at}, change, "test", store.Unit{}); err != nil {
				t.Fatalf("RecordConsent(%s) err = %v", id, err)
			}
		}
		record("cev_aaaa", store.ActionGrant, second, second.Add(100*time.Millisecond))
		record("cev_zzzz", store.ActionRevoke, second.Add(500*time.Millisecond), second.Add(500*time.Millisecond))
		p, err := f.s.Profile(ctx(t), subject)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Ledger) != 2 || p.Ledger[1].ID != "cev_zzzz" || p.Consented("marketing") {
			t.Errorf("ledger = %+v, want the grant then the revoke that arrived after it (not consented)", p.Ledger)
		}
		// Two entries with the same own time sort by arrival, not by id.
		subject3 := randomID(t)
		subject = subject3
		record("cev_zzzz", store.ActionRevoke, second, second.Add(200*time.Millisecond))
		record("cev_aaaa", store.ActionGrant, second, second.Add(300*time.Millisecond))
		if p, err = f.s.Profile(ctx(t), subject3); err != nil || !p.Consented("marketing") {
			t.Errorf("revoke then grant in one second: consented = %v (err %v), want true", p.Consented("marketing"), err)
		}
		// A trailing-zero second must not sort after its own fractions.
		subject2 := randomID(t)
		subject, f.now = subject2, second
		record("cev_bbbb", store.ActionGrant, second.Add(500*time.Millisecond), second.Add(500*time.Millisecond))
		record("cev_cccc", store.ActionRevoke, second.Add(time.Second), second.Add(time.Second))
		if p, err = f.s.Profile(ctx(t), subject2); err != nil || p.Consented("marketing") {
			t.Errorf("revoke a second after a grant: consented = %v (err %v), want false", p.Consented("marketing"), err)
		}
	})
}

// TestConsentFromTheFutureIsBounded records a keyword grant dated a year
// ahead, then a revoke now: the revoke must win, because the grant counts
// from when it arrived.
func TestConsentFromTheFutureIsBounded(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject := randomID(t)
		if err := f.s.RecordConsent(ctx(t), subject, store.ConsentEvent{ID: "cev_" + randomID(t), Purpose: "marketing", Action: store.ActionGrant,
			Method: "whatsapp_keyword", PolicyVersion: "1", Actor: "webhook", At: f.now.Add(365 * 24 * time.Hour)}, store.SuppressionLift, "", store.Unit{}); err != nil {
			t.Fatal(err)
		}
		f.now = f.now.Add(time.Minute)
		if err := f.s.RecordConsent(ctx(t), subject, store.ConsentEvent{ID: "cev_" + randomID(t), Purpose: "marketing", Action: store.ActionRevoke,
			Method: "api", PolicyVersion: "1", Actor: "test", At: f.now}, store.SuppressionAdd, "test", store.Unit{}); err != nil {
			t.Fatal(err)
		}
		p, err := f.s.Profile(ctx(t), subject)
		if err != nil || p.Consented("marketing") {
			t.Errorf("after a future-dated grant and a revoke now: consented = %v (err %v), want false", p.Consented("marketing"), err)
		}
		if len(p.Ledger) == 2 && p.Ledger[0].At.After(f.now) {
			t.Errorf("future-dated grant recorded at %v, after now (%v)", p.Ledger[0].At, f.now)
		}
	})
}

// TestServiceWindowOnlyMovesForward stores a message a minute old, then a
// 26-hour-old redelivery of an earlier one, then one dated in the future:
// the window stays at the newest real message, and the future one counts
// from its arrival.
func TestServiceWindowOnlyMovesForward(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject := randomID(t)
		put := func(at time.Time) {
			t.Helper()
			lookup := randomID(t)
			if err := f.s.PutInbound(ctx(t), store.Inbound{Subject: subject, Lookup: lookup, Phone: "+12015550199", ProviderID: "wamid.w" + lookup,
				Type: "text", Body: []byte("w"), At: at, Class: retention.ClassSupport}, store.Unit{}); err != nil {
				t.Fatalf("PutInbound(%v) err = %v", at, err)
			}
		}
		last := func() time.Time {
			t.Helper()
			p, err := f.s.Profile(ctx(t), subject)
			if err != nil {
				t.Fatal(err)
			}
			return p.LastInbound
		}
		recent := f.now.Add(-time.Minute)
		put(recent)
		put(f.now.Add(-26 * time.Hour))
		if got := last(); !got.Equal(recent) {
			t.Errorf("window after a late redelivery = %v, want %v (it must only move forward)", got, recent)
		}
		put(f.now.Add(365 * 24 * time.Hour))
		if got := last(); !got.Equal(f.now) {
			t.Errorf("window after a message dated a year ahead = %v, want its arrival %v", got, f.now)
		}
		if n := len(partitionItems(t, f, subject)); n != 4 { // three messages and the window
			t.Errorf("partition has %d items, want 4: every message stored", n)
		}
	})
}

// TestRedeliveryAfterErasureStaysErased erases a subject, lifts the
// suppression with a fresh grant, and then receives a redelivery (Meta
// retries for 7 days) of a message from before the erasure: it must not
// bring erased data back, while a message written after the erasure is
// stored as usual.
func TestRedeliveryAfterErasureStaysErased(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject := randomID(t)
		before := f.now.Add(-time.Hour)
		msg := func(at time.Time) store.Inbound {
			lookup := randomID(t)
			return store.Inbound{Subject: subject, Lookup: lookup, Phone: "+12015550199", ProviderID: "wamid.r" + lookup, Type: "text",
				Body: []byte("STOP"), At: at, Class: retention.ClassSupport}
		}
		old := msg(before)
		if err := f.s.PutInbound(ctx(t), old, store.Unit{}); err != nil {
			t.Fatal(err)
		}
		eraseSubject(t, f, subject)
		f.now = f.now.Add(time.Minute)
		if err := f.s.RecordConsent(ctx(t), subject, store.ConsentEvent{ID: "cev_" + randomID(t), Purpose: "marketing", Action: store.ActionGrant,
			Method: "api", PolicyVersion: "1", Actor: "test", At: f.now}, store.SuppressionLift, "", store.Unit{Items: []types.TransactWriteItem{f.s.LiftErasure(subject)}}); err != nil {
			t.Fatalf("fresh grant err = %v", err)
		}
		if p, err := f.s.Profile(ctx(t), subject); err != nil || p.Erased {
			t.Fatalf("after a fresh grant: erased = %v (err %v), want false", p.Erased, err)
		}
		if err := f.s.PutInbound(ctx(t), old, store.Unit{}); !errors.Is(err, store.ErrErased) {
			t.Errorf("redelivery of a message from before the erasure: err = %v, want ErrErased", err)
		}
		for _, it := range partitionItems(t, f, subject) {
			if sk := it["sk"].(*types.AttributeValueMemberS).Value; strings.HasPrefix(sk, "msg#") {
				t.Errorf("erased message %s is back after a redelivery", sk)
			}
		}
		if err := f.s.PutInbound(ctx(t), msg(f.now), store.Unit{}); err != nil {
			t.Errorf("a message written after the erasure: err = %v, want nil", err)
		}
		// A second erasure suppresses again, whatever the first lift did.
		if err := f.s.MarkErased(ctx(t), subject, "er_"+lettersID(t), f.now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if p, err := f.s.Profile(ctx(t), subject); err != nil || !p.Erased {
			t.Errorf("after a second erasure: erased = %v (err %v), want true", p.Erased, err)
		}
	})
}

// eraseSubject erases subject as the erase function does: open the
// request, suppress, delete every page.
func eraseSubject(t *testing.T, f *fixture, subject string) {
	t.Helper()
	req, err := f.s.OpenErasure(ctx(t), store.ErasureRequest{ID: "er_" + lettersID(t), Subject: subject, Reason: "user_request", RequestedAt: f.now}, store.Unit{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.MarkErased(ctx(t), subject, req.ID, f.now); err != nil {
		t.Fatal(err)
	}
	for more := true; more; {
		if _, more, err = f.s.ErasePage(ctx(t), req.ID, subject); err != nil {
			t.Fatal(err)
		}
	}
}
