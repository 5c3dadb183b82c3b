package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/waguard/waguard/internal/apispec"
	waevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// TestOpenAPIResponses checks the read API's real responses, on the
// local stack, against docs/openapi.yaml: every status it answers is
// documented for the route and every body matches its schema.
func TestOpenAPIResponses(t *testing.T) {
	e := newReadEnv(t)
	s := apispec.Load(t, "../../docs/openapi.yaml")
	const get, query = "GET /v1/messages/{id}", "POST /v1/messages/query"
	n, u := e.number(t), newUserID(t)
	who := subject.Who{Phone: n, User: u}
	in := e.inbound(t, msgIn{who: who, username: "ada.l", profileName: "Ada", text: "hello", at: time.Now().Add(-time.Minute)})
	out := e.outbound(t, subject.Who{Phone: n}, "hi there", time.Now())
	button := e.inbound(t, msgIn{who: who, typ: "button", body: []byte(`{"reply_id":"yes","reply_title":"Yes"}`), at: time.Now().Add(-time.Second)})
	sub := e.subjectOf(t, who)
	if err := e.webhook.Store.ApplyStatus(context.Background(), sub, "msg#out#"+out,
		store.Status{Lookup: e.stored[out].lookup, Status: "failed", ErrorCode: 131026, At: time.Now()}, store.Unit{}); err != nil {
		t.Fatal(err)
	}
	reader := e.createClient(t, `["consents:read"]`)
	tests := []struct {
		name   string
		route  string
		key    string // "" the ops key, "-" none, else the key
		body   any
		id     string
		status int
		code   string
	}{
		{name: "get inbound", route: get, id: in, status: 200},
		{name: "get outbound", route: get, id: out, status: 200},
		{name: "get reply", route: get, id: button, status: 200},
		{name: "get unknown", route: get, id: "msg_" + strings.Repeat("A", 24), status: 404, code: "not_found"},
		{name: "get no key", route: get, key: "-", id: in, status: 401, code: "unauthenticated"},
		{name: "get without the scope", route: get, key: reader, id: in, status: 403, code: "insufficient_scope"},
		{name: "query by phone", route: query, body: map[string]any{"phone": n.E164()}, status: 200},
		{name: "query by user id", route: query, body: map[string]any{"user_id": u.Reveal(), "direction": "in"}, status: 200},
		{name: "query by contact id", route: query, body: map[string]any{"contact_id": waevents.ContactID(e.h.ContactKey, sub)}, status: 200},
		{name: "query a stranger", route: query, body: map[string]any{"phone": e.number(t).E164()}, status: 200},
		{name: "query both", route: query, body: map[string]any{"phone": n.E164(), "user_id": u.Reveal()}, status: 400, code: "invalid_request"},
		{name: "query bad number", route: query, body: map[string]any{"phone": "0044"}, status: 400, code: "invalid_phone"},
		{name: "query bad cursor", route: query, body: map[string]any{"phone": n.E164(), "cursor": "x"}, status: 400, code: "invalid_request"},
		{name: "query no key", route: query, key: "-", body: map[string]any{"phone": n.E164()}, status: 401, code: "unauthenticated"},
		{name: "query without the scope", route: query, key: reader, body: map[string]any{"phone": n.E164()}, status: 403, code: "insufficient_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := e.key
			switch tc.key {
			case "":
			case "-":
				key = ""
			default:
				key = tc.key
			}
			var path map[string]string
			if tc.id != "" {
				path = map[string]string{"id": tc.id}
			}
			r := e.call(t, tc.route, key, rid("oas"), tc.body, path)
			if r.status != tc.status || apispec.Code(r.body) != tc.code {
				t.Fatalf("%s = %d %s, want %d %q", tc.route, r.status, r.raw, tc.status, tc.code)
			}
			s.Check(t, tc.route, r.status, r.body, r.headers)
		})
	}
}

// TestOpenAPISpec checks that every documented response of the read
// routes has a schema that compiles.
func TestOpenAPISpec(t *testing.T) {
	s := apispec.Load(t, "../../docs/openapi.yaml")
	for _, route := range []string{"GET /v1/messages/{id}", "POST /v1/messages/query"} {
		s.CheckCompiles(t, route)
	}
}
