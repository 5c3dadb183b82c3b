package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	wgevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// TestEventLeadsToTheReadAPI: the read API returns what an event
// references. An inbound message's message.received event, delivered to
// the bus, carries a message_id that GET /v1/messages/{id} reads and a
// contact_id that POST /v1/messages/query finds the person by, with no
// read before it (the delivery records the contact id it hands out).
func TestEventLeadsToTheReadAPI(t *testing.T) {
	r := newReadEnv(t)
	e := newEnv(t)
	n := r.number(t)
	sub, a, err := subject.New(r.webhook.Keys, r.webhook.Store).ForWrite(context.Background(), subject.Who{Phone: n})
	if err != nil {
		t.Fatal(err)
	}
	id, lookup := auditID(), hex.EncodeToString(randBytes(10))
	outbox := store.Unit{Events: []store.EventRecord{{AuditID: id, Type: wgevents.TypeMessageReceived, Subject: sub.Key,
		MessageSK: "msg#in#" + lookup, At: time.Now(), Fields: wgevents.Data{Direction: "in", MessageType: "text", Purpose: "support"}}}}
	if err := r.webhook.Store.PutInbound(context.Background(), store.Inbound{Subject: sub.Key, Lookup: lookup, Phone: n.E164(),
		ProviderID: "wamid.ev" + lookup, Type: "text", Body: []byte("hello"), At: time.Now(), Class: retention.ClassSupport,
		Also: sub.Keys, Attach: a}, outbox); err != nil {
		t.Fatal(err)
	}
	if resp := e.stream(t, streamRecord(id, "message_received")); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("stream failures = %v", resp.BatchItemFailures)
	}
	bus := e.bus.got()
	if len(bus) != 1 {
		t.Fatalf("bus events = %d, want 1", len(bus))
	}
	var ev wgevents.Event
	if err := json.Unmarshal([]byte(bus[0]["detail"]), &ev); err != nil {
		t.Fatal(err)
	}
	if want := store.InboundMessageID(lookup); ev.Data.MessageID != want {
		t.Fatalf("event message_id = %q, want %q", ev.Data.MessageID, want)
	}
	got := r.get(t, ev.Data.MessageID)
	if got.status != 200 || got.body["id"] != ev.Data.MessageID || got.body["contact_id"] != ev.Data.ContactID || got.body["text"] != "hello" {
		t.Errorf("GET the event's message = %d %s, want it, under the event's contact id", got.status, got.raw)
	}
	// A fresh person: no read has recorded the contact id before this one.
	n2 := r.number(t)
	sub2, a2, err := subject.New(r.webhook.Keys, r.webhook.Store).ForWrite(context.Background(), subject.Who{Phone: n2})
	if err != nil {
		t.Fatal(err)
	}
	id2, lookup2 := auditID(), hex.EncodeToString(randBytes(10))
	outbox2 := store.Unit{Events: []store.EventRecord{{AuditID: id2, Type: wgevents.TypeMessageReceived, Subject: sub2.Key,
		MessageSK: "msg#in#" + lookup2, At: time.Now(), Fields: wgevents.Data{Direction: "in", MessageType: "text", Purpose: "support"}}}}
	if err := r.webhook.Store.PutInbound(context.Background(), store.Inbound{Subject: sub2.Key, Lookup: lookup2, Phone: n2.E164(),
		ProviderID: "wamid.ev" + lookup2, Type: "text", Body: []byte("hi"), At: time.Now(), Class: retention.ClassSupport,
		Also: sub2.Keys, Attach: a2}, outbox2); err != nil {
		t.Fatal(err)
	}
	e.stream(t, streamRecord(id2, "message_received"))
	var ev2 wgevents.Event
	_ = json.Unmarshal([]byte(e.bus.got()[1]["detail"]), &ev2)
	q := r.query(t, map[string]any{"contact_id": ev2.Data.ContactID})
	if diff := cmp.Diff([]string{store.InboundMessageID(lookup2)}, messageIDs(q)); q.status != 200 || diff != "" {
		t.Errorf("query by the event's contact id = %d %s, want the message (-want +got):\n%s", q.status, q.raw, diff)
	}
}
