package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// recordingPreparer is the real audit writer, noting the events it
// prepared (their ids are what the unit keys event records by).
type recordingPreparer struct {
	w    *audit.Writer
	last []audit.Event
}

func (r *recordingPreparer) Prepare(ctx context.Context, ev audit.Event, more ...audit.Event) (*audit.Pending, error) {
	p, err := r.w.Prepare(ctx, ev, more...)
	if err == nil {
		r.last = p.Events()
	}
	return p, err
}

// TestUnitCommitsTogether writes a message with a unit of an audit event
// and an event record: the record is keyed by the audit event's id and
// both are stored. A second write that fails (a redelivery) stores
// neither, and leaves the audit writer free for the next write (every
// prepared batch is settled, even on failure).
func TestUnitCommitsTogether(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		w, err := audit.NewWriter(f.db, audit.WriterConfig{Table: f.audit, Function: "store-test"})
		if err != nil {
			t.Fatal(err)
		}
		rp := &recordingPreparer{w: w}
		s := store.New(f.db, f.env, store.Config{Table: f.data, Policy: retention.DefaultPolicy(), Now: func() time.Time { return f.now }, Audit: rp})
		subject, lookup := "unit-"+randomID(t), randomID(t)
		m := store.Inbound{Subject: subject, Lookup: lookup, Phone: "+447700900123", ProviderID: "wamid.unit" + lookup, Type: "text",
			Body: []byte("unit"), At: f.now, Class: retention.ClassSupport}
		unit := func() store.Unit {
			return store.Unit{Audit: []audit.Event{{Type: audit.EventMessageReceived, Subject: "ps-unit", Actor: audit.Actor{Caller: "test"}}},
				Events: []store.EventRecord{{Type: events.TypeMessageReceived, Subject: subject, MessageSK: "msg#in#" + lookup, At: f.now}}}
		}
		if err := s.PutInbound(ctx(t), m, unit()); err != nil {
			t.Fatalf("PutInbound() err = %v", err)
		}
		first := rp.last[0].ID
		if rec, err := s.Event(ctx(t), first); err != nil || rec.AuditID != first || rec.Type != events.TypeMessageReceived {
			t.Fatalf("event record of %s = %+v, %v; want it, keyed by the audit event", first, rec, err)
		}
		if err := s.PutInbound(ctx(t), m, unit()); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("PutInbound(again) err = %v, want ErrDuplicate", err)
		}
		if second := rp.last[0].ID; second == first {
			t.Fatal("the second write prepared no audit event of its own")
		} else if _, err := s.Event(ctx(t), second); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the failed write's event record: %v, want ErrNotFound (nothing of it stored)", err)
		}
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := w.Append(c, audit.Event{Type: audit.EventMessageReceived, Subject: "ps-unit", Actor: audit.Actor{Caller: "test"}}); err != nil {
			t.Errorf("Append() after a failed unit err = %v: the prepared batch was never settled", err)
		}
	})
}

// TestUnitWithoutAuditWriter: a unit with audit events on a store built
// without a writer is refused, never written unaudited.
func TestUnitWithoutAuditWriter(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		err := f.s.PutInbound(ctx(t), store.Inbound{Subject: "unit-" + randomID(t), Lookup: randomID(t), Phone: "+447700900124",
			Type: "text", Body: []byte("x"), At: f.now, Class: retention.ClassSupport},
			store.Unit{Audit: []audit.Event{{Type: audit.EventMessageReceived, Subject: "ps-unit", Actor: audit.Actor{Caller: "test"}}}})
		if err == nil || !strings.Contains(err.Error(), "no audit writer") {
			t.Fatalf("PutInbound() with audit events and no writer err = %v, want it refused for want of a writer", err)
		}
	})
}
