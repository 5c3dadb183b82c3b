package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/coldstart"
	waevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// subjectOf is the subject key (canonical partition) of who.
func (e *readEnv) subjectOf(t testing.TB, who subject.Who) string {
	t.Helper()
	s, err := e.h.Subjects.Find(context.Background(), who)
	if err != nil || !s.Known {
		t.Fatalf("Find() = %+v, %v; want a known subject", s, err)
	}
	return s.Key
}

// TestGetMessageShape reads an inbound and an outbound message by id and
// compares the whole answer: every field, decrypted, with the person's
// contact id and the outbound message's status history.
func TestGetMessageShape(t *testing.T) {
	e := newReadEnv(t)
	n, u := e.number(t), newUserID(t)
	who := subject.Who{Phone: n, User: u}
	at := time.Now().UTC().Truncate(time.Second)
	in := e.inbound(t, msgIn{who: who, username: "ada.l", profileName: "Ada L", text: "where is my order?", at: at.Add(-time.Minute)})
	out := e.outbound(t, subject.Who{Phone: n}, "on its way", at)
	sub := e.subjectOf(t, who)
	for _, st := range []store.Status{{Status: "sent", At: at.Add(time.Second)}, {Status: "failed", ErrorCode: 131026, At: at.Add(2 * time.Second)}} {
		st.Lookup = e.stored[out].lookup
		if err := e.webhook.Store.ApplyStatus(context.Background(), sub, "msg#out#"+out, st, store.Unit{}); err != nil {
			t.Fatal(err)
		}
	}
	contact := waevents.ContactID(e.h.ContactKey, sub)
	ts := func(d time.Duration) string { return at.Add(d).Format(time.RFC3339) }
	tests := []struct {
		name string
		id   string
		want map[string]any
	}{
		{"inbound", in, map[string]any{"id": in, "direction": "in", "type": "text", "purpose": "support", "contact_id": contact,
			"phone": n.E164(), "user_id": u.Reveal(), "text": "where is my order?", "profile_name": "Ada L", "username": "ada.l",
			"provider_message_id": e.stored[in].providerID, "time": ts(-time.Minute),
			"status": "received", "statuses": []any{}}},
		{"outbound", out, map[string]any{"id": out, "direction": "out", "type": "text", "purpose": "support", "contact_id": contact,
			"phone": n.E164(), "text": "on its way", "provider_message_id": e.stored[out].providerID, "time": ts(0), "status": "failed",
			"error_code": 131026.0, "statuses": []any{
				map[string]any{"status": "sent", "time": ts(time.Second)},
				map[string]any{"status": "failed", "time": ts(2 * time.Second), "error_code": 131026.0}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(t, tc.id)
			if r.status != 200 {
				t.Fatalf("GET = %d %s", r.status, r.raw)
			}
			if diff := cmp.Diff(tc.want, r.body); diff != "" {
				t.Errorf("GET %s mismatch (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

// TestGetMessageNotFound: an unknown id, a malformed one and a message
// whose subject is being erased answer the same 404, and audit nothing.
func TestGetMessageNotFound(t *testing.T) {
	e := newReadEnv(t)
	n := e.number(t)
	erasing := e.inbound(t, msgIn{who: subject.Who{Phone: n}, text: "erase me"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	erase, _, err := coldstart.Load(ctx, os.Getenv, "erase", config.WithCredentialsProvider(e.st.FunctionCredentials("EraseFunction")))
	if err != nil {
		t.Fatal(err)
	}
	if err := erase.Store.MarkErased(ctx, e.subjectOf(t, subject.Who{Phone: n}), "er_TEST", time.Now()); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, id := range []string{"msg_" + testIDs.EncodeToString(randBytes(15)), "msg_short", "..%2F", erasing} {
		r := e.call(t, "GET /v1/messages/{id}", e.key, rid("notfound"), nil, map[string]string{"id": id})
		if r.status != 404 || r.code() != "not_found" {
			t.Errorf("GET %q = %d %s, want 404 not_found", id, r.status, r.raw)
		}
		bodies = append(bodies, r.raw)
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("404 answers differ: %s and %s", bodies[0], b)
		}
	}
}

// TestQueryAcrossPartitions follows a person who first wrote by BSUID
// alone and was written to by number, then wrote with both: the two
// subjects merge, and a query by the number, by the BSUID, by the contact
// id or by the contact id handed out before the merge returns the same
// messages from both partitions, newest first, all under the canonical
// subject's contact id.
func TestQueryAcrossPartitions(t *testing.T) {
	e := newReadEnv(t)
	n, u := e.number(t), newUserID(t)
	now := time.Now().UTC().Truncate(time.Second)
	first := e.inbound(t, msgIn{who: subject.Who{User: u}, username: "ada.l", text: "hello by username", at: now.Add(-3 * time.Second)})
	before := e.get(t, first)
	oldContact, _ := before.body["contact_id"].(string)
	if before.status != 200 || oldContact != waevents.ContactID(e.h.ContactKey, e.subjectOf(t, subject.Who{User: u})) {
		t.Fatalf("GET before the merge = %d %v", before.status, before.body)
	}
	second := e.outbound(t, subject.Who{Phone: n}, "to the number", now.Add(-2*time.Second))
	third := e.inbound(t, msgIn{who: subject.Who{Phone: n, User: u}, text: "now with both", at: now.Add(-time.Second)})
	canonical := e.subjectOf(t, subject.Who{Phone: n})
	if e.subjectOf(t, subject.Who{User: u}) != canonical {
		t.Fatal("the BSUID's subject is not the number's after the merge")
	}
	contact := waevents.ContactID(e.h.ContactKey, canonical)
	want := []string{third, second, first}
	for _, body := range []map[string]any{{"phone": n.E164()}, {"user_id": u.Reveal()}, {"contact_id": contact}, {"contact_id": oldContact}} {
		r := e.query(t, body)
		if r.status != 200 || r.body["next_cursor"] != nil {
			t.Fatalf("query %v = %d %s", body, r.status, r.raw)
		}
		if diff := cmp.Diff(want, messageIDs(r)); diff != "" {
			t.Errorf("query %v ids (-want +got):\n%s", body, diff)
		}
		for _, m := range r.body["messages"].([]any) {
			if got := m.(map[string]any)["contact_id"]; got != contact {
				t.Errorf("query %v: contact_id %v, want the canonical subject's", body, got)
			}
		}
	}
	if r := e.get(t, first); r.body["contact_id"] != contact {
		t.Errorf("GET after the merge: contact_id %v, want the canonical subject's", r.body["contact_id"])
	}
	if r := e.query(t, map[string]any{"phone": n.E164(), "direction": "out"}); fmt.Sprint(messageIDs(r)) != fmt.Sprint([]string{second}) {
		t.Errorf("query direction out = %v, want only the outbound message", messageIDs(r))
	}
	if r := e.query(t, map[string]any{"user_id": u.Reveal(), "since": now.Add(-2 * time.Second).Format(time.RFC3339)}); fmt.Sprint(messageIDs(r)) != fmt.Sprint([]string{third, second}) {
		t.Errorf("query since = %v, want the two newest", messageIDs(r))
	}
}

// TestQueryPages pages through a person's messages of 4,096 characters
// that JSON escapes twice, with a budget of 100 kB a page: every page
// stays within it (the first message of a page excepted, which always
// fits a real budget), the pages chain by cursor, newest first, and hold
// every message once.
func TestQueryPages(t *testing.T) {
	e := newReadEnv(t)
	e.h.pageBudget = 100_000
	n := e.number(t)
	who := subject.Who{Phone: n}
	now := time.Now().UTC().Truncate(time.Second)
	text := strings.Repeat("<", 4096) // 1 byte stored, 7 on the wire
	var want []string
	for i := range 8 {
		at := now.Add(time.Duration(i-8) * time.Second)
		var id string
		if i%2 == 0 {
			id = e.inbound(t, msgIn{who: who, text: text, at: at})
		} else {
			id = e.outbound(t, who, text, at)
		}
		want = append([]string{id}, want...)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		body := map[string]any{"phone": n.E164()}
		if cursor != "" {
			body["cursor"] = cursor
		}
		r := e.query(t, body)
		if r.status != 200 {
			t.Fatalf("page %d = %d %s", pages, r.status, r.raw)
		}
		ids := messageIDs(r)
		size := 0
		for _, m := range r.body["messages"].([]any) {
			b, _ := json.Marshal(m)
			q, _ := json.Marshal(string(b))
			size += len(q) + 1
		}
		if len(ids) > 1 && size > e.h.pageBudget {
			t.Errorf("page %d: %d messages take %d bytes on the wire, want at most %d", pages, len(ids), size, e.h.pageBudget)
		}
		if len(ids) == 0 || len(ids) > 3 {
			t.Errorf("page %d holds %d messages, want 1 to 3 (about 29 kB each)", pages, len(ids))
		}
		t.Logf("page %d: %d messages, %d bytes on the wire", pages, len(ids), size)
		got = append(got, ids...)
		next, _ := r.body["next_cursor"].(string)
		if cursor = next; cursor == "" {
			break
		}
		if pages > 10 {
			t.Fatal("the pages never end")
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages over all pages (-want +got):\n%s", diff)
	}
}

// TestQueryRefusals: both, neither or all of the identifiers, a malformed
// cursor, contact id, number, direction or date answer 400 and audit
// nothing; a key without messages:read answers 403 on both routes; no key
// 401.
func TestQueryRefusals(t *testing.T) {
	e := newReadEnv(t)
	n, u := e.number(t), newUserID(t)
	ct := waevents.ContactID(e.h.ContactKey, "x")
	tests := []struct {
		name string
		body any
		code string
	}{
		{"neither", map[string]any{}, "invalid_request"},
		{"phone and user id", map[string]any{"phone": n.E164(), "user_id": u.Reveal()}, "invalid_request"},
		{"phone and contact id", map[string]any{"phone": n.E164(), "contact_id": ct}, "invalid_request"},
		{"all three", map[string]any{"phone": n.E164(), "user_id": u.Reveal(), "contact_id": ct}, "invalid_request"},
		{"malformed cursor", map[string]any{"phone": n.E164(), "cursor": "msg#in#abc"}, "invalid_request"},
		{"forged cursor", map[string]any{"phone": n.E164(), "cursor": "MXwxfG1zZ19BQUFB"}, "invalid_request"},
		{"malformed contact id", map[string]any{"contact_id": "ct_" + strings.Repeat("a", 26)}, "invalid_request"},
		{"malformed number", map[string]any{"phone": "0044"}, "invalid_phone"},
		{"bad direction", map[string]any{"phone": n.E164(), "direction": "sideways"}, "invalid_request"},
		{"bad since", map[string]any{"phone": n.E164(), "since": "2026-13-01"}, "invalid_request"},
		{"unknown field", map[string]any{"phone": n.E164(), "limit": 10}, "invalid_request"},
		{"not JSON", "{", "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := rid("refused")
			r := e.call(t, "POST /v1/messages/query", e.key, id, tc.body, nil)
			if r.status != 400 || r.code() != tc.code {
				t.Errorf("query = %d %s, want 400 %s", r.status, r.raw, tc.code)
			}
			if got := e.st.AuditEvents(t, id, string(audit.EventDataAccess)); len(got) != 0 {
				t.Errorf("a refused query wrote %d data_access events, want 0", len(got))
			}
		})
	}
	reader := e.createClient(t, `["consents:read"]`)
	msg := e.inbound(t, msgIn{who: subject.Who{Phone: n}, text: "hi"})
	for _, c := range []struct {
		route string
		body  any
		path  map[string]string
	}{{"POST /v1/messages/query", map[string]any{"phone": n.E164()}, nil}, {"GET /v1/messages/{id}", nil, map[string]string{"id": msg}}} {
		if r := e.call(t, c.route, reader, rid("scope"), c.body, c.path); r.status != 403 || r.code() != "insufficient_scope" {
			t.Errorf("%s without messages:read = %d %s, want 403 insufficient_scope", c.route, r.status, r.raw)
		}
		if r := e.call(t, c.route, "", rid("nokey"), c.body, c.path); r.status != 401 || r.code() != "unauthenticated" {
			t.Errorf("%s without a key = %d %s, want 401 unauthenticated", c.route, r.status, r.raw)
		}
	}
}

// TestReadsAreAudited: each read route writes exactly one data_access
// event per answer, naming the client, the person's pseudonym, the route
// and how many messages the answer held (none for a person nothing is
// stored about); a 404 writes none.
func TestReadsAreAudited(t *testing.T) {
	e := newReadEnv(t)
	n, stranger := e.number(t), e.number(t)
	who := subject.Who{Phone: n}
	now := time.Now()
	ids := []string{e.inbound(t, msgIn{who: who, text: "one", at: now.Add(-2 * time.Second)}), e.outbound(t, who, "two", now.Add(-time.Second)),
		e.inbound(t, msgIn{who: who, text: "three", at: now})}
	sub, err := e.h.Subjects.Find(context.Background(), who)
	if err != nil {
		t.Fatal(err)
	}
	strangerSub, err := e.h.Subjects.Find(context.Background(), subject.Who{Phone: stranger})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		route     string
		body      any
		path      map[string]string
		status    int
		events    int
		pseudonym string
		details   map[string]string
	}{
		{"get", "GET /v1/messages/{id}", nil, map[string]string{"id": ids[1]}, 200, 1, sub.Pseudonym,
			map[string]string{"route": "GET /v1/messages/{id}", "count": "1", "message": ids[1]}},
		{"query by phone", "POST /v1/messages/query", map[string]any{"phone": n.E164()}, nil, 200, 1, sub.Pseudonym,
			map[string]string{"route": "POST /v1/messages/query", "count": "3", "by": "phone"}},
		{"query a page", "POST /v1/messages/query", map[string]any{"phone": n.E164(), "direction": "in"}, nil, 200, 1, sub.Pseudonym,
			map[string]string{"route": "POST /v1/messages/query", "count": "2", "by": "phone"}},
		{"query by contact id", "POST /v1/messages/query", map[string]any{"contact_id": waevents.ContactID(e.h.ContactKey, sub.Key)}, nil, 200, 1,
			sub.Pseudonym, map[string]string{"route": "POST /v1/messages/query", "count": "3", "by": "contact_id"}},
		{"query a stranger", "POST /v1/messages/query", map[string]any{"phone": stranger.E164()}, nil, 200, 1, strangerSub.Pseudonym,
			map[string]string{"route": "POST /v1/messages/query", "count": "0", "by": "phone"}},
		{"get unknown", "GET /v1/messages/{id}", nil, map[string]string{"id": "msg_" + testIDs.EncodeToString(randBytes(15))}, 404, 0, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := rid("audited")
			if r := e.call(t, tc.route, e.key, id, tc.body, tc.path); r.status != tc.status {
				t.Fatalf("%s = %d %s, want %d", tc.route, r.status, r.raw, tc.status)
			}
			got := e.st.AuditEvents(t, id, string(audit.EventDataAccess))
			if len(got) != tc.events {
				t.Fatalf("data_access events = %d, want %d", len(got), tc.events)
			}
			if tc.events == 0 {
				return
			}
			want := struct {
				Caller, Subject string
				Details         map[string]string
			}{"ops", tc.pseudonym, tc.details}
			gotEv := struct {
				Caller, Subject string
				Details         map[string]string
			}{got[0].Caller, got[0].Subject, got[0].Details}
			if diff := cmp.Diff(want, gotEv); diff != "" {
				t.Errorf("data_access event mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
