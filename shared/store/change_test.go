package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// TestRecordChange executes shared/consent's decisions: a STOP suppresses
// for its reason; WhatsApp's setting, limited to the setting's own
// reasons, refuses to replace it (ErrSuppressionChanged, nothing
// written); a redelivered event id is a duplicate; START lifts the
// suppression in every partition of a merged subject.
func TestRecordChange(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		p := newPerson(t)
		f.resolve(t, p.phone)
		other := newPerson(t)
		f.resolve(t, other.user)
		d := f.resolve(t, p.phone, other.user) // merges other's partition into p's subject
		subject := d.Subject
		ev := func() store.ConsentEvent {
			f.now = f.now.Add(time.Second)
			return store.ConsentEvent{ID: "cev_" + lettersID(t), Actor: "webhook", At: f.now}
		}
		suppressed := func() string {
			t.Helper()
			prof, err := f.s.Profile(ctx(t), subject)
			if err != nil {
				t.Fatalf("Profile() err = %v", err)
			}
			return prof.Suppressed["marketing"]
		}
		// The merged partition holds a suppression of its own.
		if err := f.s.RecordChange(ctx(t), other.user.Key, ev(), consent.Decide(consent.KeywordStop, ""), store.Unit{}); err != nil {
			t.Fatalf("RecordChange(STOP, merged partition) err = %v", err)
		}
		stop := ev()
		if err := f.s.RecordChange(ctx(t), subject, stop, consent.Decide(consent.KeywordStop, ""), store.Unit{}); err != nil {
			t.Fatalf("RecordChange(STOP) err = %v", err)
		}
		if got := suppressed(); got != consent.ReasonStopKeyword {
			t.Fatalf("suppressed for %q, want %q", got, consent.ReasonStopKeyword)
		}
		if err := f.s.RecordChange(ctx(t), subject, stop, consent.Decide(consent.KeywordStop, ""), store.Unit{}); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("RecordChange(redelivered STOP) err = %v, want ErrDuplicate", err)
		}
		// A setting's stop decided as if nothing were held: limited to the
		// setting's reasons, it finds the STOP and writes nothing.
		setting := consent.Change{Purpose: "marketing", Action: consent.ActionRevoke, Method: consent.MethodPreferences,
			PolicyVersion: "whatsapp_preferences", Effect: consent.Suppress, Reason: consent.ReasonPreferences, Over: []string{consent.ReasonPreferences}}
		before, _ := f.s.Profile(ctx(t), subject)
		if err := f.s.RecordChange(ctx(t), subject, ev(), setting, store.Unit{}); !errors.Is(err, store.ErrSuppressionChanged) {
			t.Errorf("RecordChange(setting over a STOP) err = %v, want ErrSuppressionChanged", err)
		}
		if after, _ := f.s.Profile(ctx(t), subject); len(after.Ledger) != len(before.Ledger) || suppressed() != consent.ReasonStopKeyword {
			t.Errorf("the refused change wrote: ledger %d → %d entries, suppressed for %q", len(before.Ledger), len(after.Ledger), suppressed())
		}
		start := consent.Decide(consent.KeywordStart, consent.ReasonStopKeyword)
		if err := f.s.RecordChange(ctx(t), subject, ev(), start, store.Unit{}); err != nil {
			t.Fatalf("RecordChange(START) err = %v", err)
		}
		prof, err := f.s.Profile(ctx(t), subject)
		if err != nil || len(prof.Suppressed) != 0 || !prof.Consented("marketing") {
			t.Errorf("after START: suppressed %v, consented %t (err %v); want no suppression in any partition, consented",
				prof.Suppressed, prof.Consented("marketing"), err)
		}
	})
}

// TestChangeWritesJoinACallersTransaction: the writes of a change commit
// in the caller's own transaction, and a change limited to some reasons
// cancels it when the suppression is held for another.
func TestChangeWritesJoinACallersTransaction(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject := randomID(t)
		ev := store.ConsentEvent{ID: "cev_" + lettersID(t), Actor: "webhook", At: f.now}
		items, err := f.s.ChangeWrites(ctx(t), subject, ev, consent.Decide(consent.StopPromotions, ""))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.TransactWriteItems(ctx(t), &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
			t.Fatalf("TransactWriteItems(change writes) err = %v", err)
		}
		setting := consent.Change{Purpose: "marketing", Action: consent.ActionRevoke, Method: consent.MethodProvider,
			Effect: consent.Suppress, Reason: consent.ReasonMeta131050, Over: []string{consent.ReasonPreferences, consent.ReasonMeta131050}}
		items, err = f.s.ChangeWrites(ctx(t), subject, store.ConsentEvent{ID: "cev_" + lettersID(t), At: f.now}, setting)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.db.TransactWriteItems(ctx(t), &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var tc *types.TransactionCanceledException
		if !errors.As(err, &tc) {
			t.Errorf("TransactWriteItems(131050 over a button stop) err = %v, want cancelled", err)
		}
		if prof, _ := f.s.Profile(ctx(t), subject); prof.Suppressed["marketing"] != consent.ReasonStopButton || len(prof.Ledger) != 1 {
			t.Errorf("profile = %+v, want the button's suppression and one entry", prof)
		}
	})
}

// TestConsentRecordShapes: the audit event and outbox record of a ledger
// entry name it, and the audit event leaves the notice id out.
func TestConsentRecordShapes(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := store.Entry("cev_abc", consent.Decide(consent.KeywordStop, ""))
	ev.NoticeSHA256 = strings.Repeat("0123456789", 6) + "abcd"
	if ev.ID != "cev_abc" || ev.Action != consent.ActionRevoke || ev.Method != consent.MethodKeyword || ev.Purpose != "marketing" {
		t.Errorf("Entry() = %+v, want the STOP's revoke of marketing by keyword", ev)
	}
	a := store.ConsentAudit(ev, "ps", audit.Actor{Caller: "webhook"}, "req-1")
	if a.Type != consent.AuditType(consent.ActionRevoke) || a.Details["consent_event"] != "cev_abc" || a.Details["purpose"] != "marketing" {
		t.Errorf("ConsentAudit() = %+v", a)
	}
	if strings.Contains(fmt.Sprint(a.Details), ev.NoticeSHA256) {
		t.Errorf("ConsentAudit() details name the notice id")
	}
	r := store.ConsentRecord("sub", ev, at)
	if r.Type != events.TypeConsentChanged || r.Subject != "sub" || !r.At.Equal(at) || r.Fields.ConsentEventID != "cev_abc" || r.Fields.NoticeSHA256 != ev.NoticeSHA256 {
		t.Errorf("ConsentRecord() = %+v", r)
	}
}

// TestOutboundLifecycle: a message recorded before the provider call is
// confirmed once, or withdrawn; statuses build its history; its content
// reads back while it lives.
func TestOutboundLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject, lookup := randomID(t), randomID(t)
		id, withdrawn := "msg_"+lettersID(t), "msg_"+lettersID(t)
		for _, mid := range []string{id, withdrawn} {
			if err := f.s.PutOutbound(ctx(t), store.Outbound{Subject: subject, ID: mid, Phone: "+447700900004", Body: []byte("hello"), Type: store.OutboundText,
				Purpose: retention.ClassTransactional, Status: store.StatusSending, At: f.now}, store.Unit{}); err != nil {
				t.Fatalf("PutOutbound() err = %v", err)
			}
		}
		if err := f.s.WithdrawOutbound(ctx(t), subject, withdrawn, store.Unit{}); err != nil {
			t.Fatalf("WithdrawOutbound() err = %v", err)
		}
		if _, err := f.s.SendingOutbound(ctx(t), subject, withdrawn); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SendingOutbound(withdrawn) err = %v, want ErrNotFound", err)
		}
		m, err := f.s.SendingOutbound(ctx(t), subject, id)
		if err != nil {
			t.Fatal(err)
		}
		m.Status, m.ProviderID, m.Lookup = "sent", "wamid.o"+lookup, lookup
		c, err := f.s.PrepareConfirm(ctx(t), m)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.s.Confirm(ctx(t), c, store.Unit{}); err != nil {
			t.Fatalf("Confirm() err = %v", err)
		}
		if err := f.s.Confirm(ctx(t), c, store.Unit{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Confirm(again) err = %v, want ErrNotFound (no longer sending)", err)
		}
		if got, err := f.s.OutboundContent(ctx(t), subject, id); err != nil || string(got.Body) != "hello" || got.ProviderID != m.ProviderID {
			t.Errorf("OutboundContent() = %v, %v", got, err)
		}
		if _, err := f.s.OutboundContent(ctx(t), subject, withdrawn); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("OutboundContent(withdrawn) err = %v, want ErrNotFound", err)
		}
		sk := "msg#out#" + id
		for i, st := range []store.Status{{Lookup: lookup, Status: "delivered"}, {Lookup: lookup, Status: "failed", ErrorCode: 131026}, {Lookup: lookup, Status: "sent"}} {
			st.At = f.now.Add(time.Duration(i) * time.Second)
			if err := f.s.ApplyStatus(ctx(t), subject, sk, st, store.Unit{}); err != nil {
				t.Fatalf("ApplyStatus(%s) err = %v", st.Status, err)
			}
		}
		h, err := f.s.StatusHistory(ctx(t), subject, lookup)
		want := []store.StatusEntry{{Status: "delivered", At: f.now}, {Status: "failed", ErrorCode: 131026, At: f.now.Add(time.Second)},
			{Status: "sent", At: f.now.Add(2 * time.Second)}}
		if err != nil || fmt.Sprint(h) != fmt.Sprint(want) {
			t.Errorf("StatusHistory() = %v, %v; want %v", h, err, want)
		}
		if got, err := f.s.ContentAt(ctx(t), subject, sk); err != nil || string(got.Body) != "hello" {
			t.Errorf("ContentAt() = %v, %v", got, err)
		}
		msgs, _, err := f.s.Messages(ctx(t), subject, "", 10)
		if err != nil || len(msgs) != 1 || msgs[0].Status != "failed" || msgs[0].ErrorCode != 131026 {
			t.Errorf("Messages() = %+v, %v; want the message, failed with 131026 (the late sent does not win)", msgs, err)
		}
	})
}

// TestContentNeverPrints: a message's content formats as its shape only.
func TestContentNeverPrints(t *testing.T) {
	c := store.Content{Phone: "+447700900005", Body: []byte("secret body"), ProfileName: "Ann", ProviderID: "wamid.x"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		got := fmt.Sprintf(verb, c)
		for _, leak := range []string{c.Phone, "secret", "Ann", c.ProviderID} {
			if strings.Contains(got, leak) {
				t.Errorf("Sprintf(%s, content) = %q, leaks %q", verb, got, leak)
			}
		}
	}
}

// TestEraseEventRecords: the undelivered event records of an erased
// person go; another person's stay.
func TestEraseEventRecords(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject, other := randomID(t), randomID(t)
		var ids []string
		for _, s := range []string{subject, subject, other} {
			id := "aud_" + lettersID(t)
			ids = append(ids, id)
			if _, err := f.db.TransactWriteItems(ctx(t), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				f.s.EventWrite(store.EventRecord{AuditID: id, Type: events.TypeMessageReceived, Subject: s, At: f.now})}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.s.EraseEventRecords(ctx(t), subject); err != nil {
			t.Fatalf("EraseEventRecords() err = %v", err)
		}
		for i, id := range ids {
			_, err := f.s.Event(ctx(t), id)
			if gone := errors.Is(err, store.ErrNotFound); gone != (i < 2) {
				t.Errorf("Event(%d) err = %v; want gone only for the erased person", i, err)
			}
		}
	})
}
