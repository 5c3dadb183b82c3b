package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/bsuid"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

func newUserID(t testing.TB) bsuid.ID {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1e18))
	if err != nil {
		t.Fatal(err)
	}
	id, err := bsuid.Parse(fmt.Sprintf("US.%020d", n))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// inbound stores a message from who as the webhook does: found by its
// identifiers, attached in the message's transaction.
func (e *env) inbound(t testing.TB, who subject.Who, username, text string) {
	t.Helper()
	sub, a, err := subject.New(e.webhook.Keys, e.webhook.Store).ForWrite(context.Background(), who)
	if err != nil {
		t.Fatal(err)
	}
	l := hex.EncodeToString(randBytes(10))
	if err := e.webhook.Store.PutInbound(context.Background(), store.Inbound{Subject: sub.Key, Lookup: l, Phone: who.Phone.E164(),
		UserID: who.User.Reveal(), Username: username, ProviderID: "wamid.u" + l, Type: "text", Body: []byte(text), At: time.Now(),
		Class: retention.ClassSupport, Also: sub.Keys, Attach: a}, store.Unit{}); err != nil {
		t.Fatalf("PutInbound() err = %v", err)
	}
}

// TestExportAndEraseByUserID follows a person who first wrote without a
// phone number (username), then once with both identifiers: the export by
// either identifier shows every message and every identifier, decrypted,
// and an erasure requested by the user id removes both partitions and
// suppresses the phone number too.
func TestExportAndEraseByUserID(t *testing.T) {
	e := newEnv(t)
	num, _ := number(t)
	n, _ := phone.Parse(num)
	u := newUserID(t)
	e.inbound(t, subject.Who{User: u}, "grace.h", "first, by username")
	e.inbound(t, subject.Who{Phone: n}, "", "by phone, separately")
	e.inbound(t, subject.Who{Phone: n, User: u}, "grace.h", "both: the subjects merge")
	for _, by := range []map[string]string{{"user_id": u.Reveal()}, {"phone": num}} {
		status, out := e.call(t, "POST /v1/exports", by, nil)
		msgs, _ := out["messages"].([]any)
		if status != 200 || len(msgs) != 3 {
			t.Fatalf("export by %v = %d with %d messages, want 200 with 3", by, status, len(msgs))
		}
		var ids []string
		for _, id := range out["identifiers"].([]any) {
			m := id.(map[string]any)
			ids = append(ids, fmt.Sprint(m["kind"], "=", m["value"]))
		}
		slices.Sort(ids)
		want := []string{"phone=" + num, "user_id=" + u.Reveal(), "username=grace.h"}
		if !slices.Equal(ids, want) {
			t.Errorf("export by %v identifiers = %v, want %v", by, ids, want)
		}
	}
	status, out := e.call(t, "POST /v1/erasure-requests", map[string]string{"user_id": u.Reveal(), "reason": "user_request"}, nil)
	if status != 202 || out["status"] != "completed" {
		t.Fatalf("erasure by user_id = %d %v", status, out)
	}
	for _, by := range []map[string]string{{"user_id": u.Reveal()}, {"phone": num}} {
		_, out := e.call(t, "POST /v1/exports", by, nil)
		if msgs, _ := out["messages"].([]any); len(msgs) != 0 || out["suppression"].(map[string]any)["erased"] != true {
			t.Errorf("export by %v after the erasure = %v, want no messages and erased", by, out)
		}
	}
	for _, who := range []subject.Who{{User: u}, {Phone: n}} {
		sub, err := e.h.Subjects.Find(context.Background(), who)
		if err != nil {
			t.Fatal(err)
		}
		if items := e.partition(t, sub.Key); len(items) != 0 {
			t.Errorf("%d items left for an identifier of the erased person", len(items))
		}
	}
	if strings.Contains(fmt.Sprint(out), u.Reveal()) {
		t.Errorf("an erasure answer holds the user id")
	}
}

// TestExportShowsMessageIDs: the export names every message by the id
// the read API and the events use (msg_…): an outbound message's own, an
// inbound message's derived from its lookup. Before, an inbound message
// was exported under its lookup, an id nothing else knew.
func TestExportShowsMessageIDs(t *testing.T) {
	e := newEnv(t)
	num, _ := number(t)
	subject := e.subject(t, num)
	lookup := hex.EncodeToString(randBytes(10))
	if err := e.webhook.Store.PutInbound(context.Background(), store.Inbound{Subject: subject, Lookup: lookup, Phone: num,
		ProviderID: "wamid.id" + lookup, Type: "text", Body: []byte("hi"), At: time.Now(), Class: retention.ClassSupport}, store.Unit{}); err != nil {
		t.Fatal(err)
	}
	status, out := e.call(t, "POST /v1/exports", map[string]string{"phone": num}, nil)
	msgs, _ := out["messages"].([]any)
	if status != 200 || len(msgs) != 1 {
		t.Fatalf("export = %d with %d messages, want 200 with 1", status, len(msgs))
	}
	if got, want := msgs[0].(map[string]any)["id"], store.InboundMessageID(lookup); got != want {
		t.Errorf("exported id = %v, want %s", got, want)
	}
}
