package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	waevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// gateway calls the local API gateway (the deployed functions under the
// Lambda emulator) with the ops key.
func (e *readEnv) gateway(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	status, out, _ := e.gatewayCall(t, method, path, body)
	return status, out
}

// gatewayCall is gateway that also returns the API Gateway request id
// (what the audit events record).
func (e *readEnv) gatewayCall(t *testing.T, method, path string, body any) (int, map[string]any, string) {
	t.Helper()
	var r bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&r).Encode(body)
	}
	req, _ := http.NewRequest(method, e.st.GatewayURL+path, &r)
	req.Header.Set("Authorization", "Bearer "+e.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s err = %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header.Get("apigw-requestid")
}

// deliver has the WhatsApp sandbox sign and deliver a webhook to the
// gateway, and returns the wamid it used.
func (e *readEnv) deliver(t *testing.T, req map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(req)
	resp, err := http.Post(e.st.SandboxURL+"/_sandbox/deliver", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("deliver err = %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Status int    `json:"status"`
		WAMID  string `json:"wamid"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Status != 200 {
		t.Fatalf("deliver(%v) = %d, %v; want 200", req["kind"], out.Status, err)
	}
	return out.WAMID
}

// TestGatewayReadAPI follows a message stored by the webhook (signed by
// the sandbox as Meta would) and one sent by the send API, with its
// delivery status, through the local gateway: both are readable by id
// with the exact shape; the queries by number, by user id and by contact
// id return them newest first; after an erasure both answer 404 and the
// queries nothing.
func TestGatewayReadAPI(t *testing.T) {
	e := newReadEnv(t)
	n, u := e.number(t), newUserID(t).Reveal()
	digits := strings.TrimPrefix(n.E164(), "+")
	wamidIn := e.deliver(t, map[string]any{"kind": "text", "from": digits, "user_id": u, "username": "ada.l", "name": "Ada L",
		"text": "where is my order?"})
	in := store.InboundMessageID(e.h.Keys.Lookup("wamid", wamidIn))
	time.Sleep(1100 * time.Millisecond) // the reply is a second newer
	if status, out := e.gateway(t, "POST", "/v1/consents", map[string]string{"phone": n.E164(), "purpose": "transactional",
		"action": "grant", "method": "web_form", "policy_version": "2026-01"}); status != 201 {
		t.Fatalf("grant = %d %v", status, out)
	}
	status, sent := e.gateway(t, "POST", "/v1/messages", map[string]any{"to": n.E164(), "purpose": "transactional",
		"template": map[string]any{"name": "order_update", "language": "en_US"}})
	if status != 202 {
		t.Fatalf("send = %d %v", status, sent)
	}
	out, wamidOut := sent["id"].(string), sent["provider_message_id"].(string)
	e.deliver(t, map[string]any{"kind": "status", "wamid": wamidOut, "status": "delivered"})

	contact := waevents.ContactID(e.h.ContactKey, e.subjectOf(t, subject.Who{Phone: n}))
	times := map[string]time.Time{}
	read := func(id string) map[string]any {
		t.Helper()
		status, got := e.gateway(t, "GET", "/v1/messages/"+id, nil)
		if status != 200 {
			t.Fatalf("GET %s = %d %v", id, status, got)
		}
		at, err := time.Parse(time.RFC3339, got["time"].(string))
		if err != nil || time.Since(at) > time.Minute || time.Until(at) > time.Second {
			t.Errorf("GET %s: time %v, want now", id, got["time"])
		}
		times[id] = at
		delete(got, "time")
		for _, s := range got["statuses"].([]any) {
			delete(s.(map[string]any), "time")
		}
		return got
	}
	wantIn := map[string]any{"id": in, "direction": "in", "type": "text", "purpose": "support", "contact_id": contact, "phone": n.E164(),
		"user_id": u, "text": "where is my order?", "profile_name": "Ada L", "username": "ada.l", "provider_message_id": wamidIn,
		"status": "received", "statuses": []any{}}
	if diff := cmp.Diff(wantIn, read(in)); diff != "" {
		t.Errorf("GET inbound (-want +got):\n%s", diff)
	}
	wantOut := map[string]any{"id": out, "direction": "out", "type": "template", "purpose": "transactional", "contact_id": contact,
		"phone": n.E164(), "template": map[string]any{"name": "order_update", "language": "en_US"}, "provider_message_id": wamidOut,
		"status": "delivered", "statuses": []any{map[string]any{"status": "delivered"}}}
	if diff := cmp.Diff(wantOut, read(out)); diff != "" {
		t.Errorf("GET outbound (-want +got):\n%s", diff)
	}
	if !times[out].After(times[in]) {
		t.Fatalf("the reply is not newer than the message: %v, %v", times[out], times[in])
	}
	for _, q := range []map[string]any{{"phone": n.E164()}, {"user_id": u}, {"contact_id": contact}} {
		status, got := e.gateway(t, "POST", "/v1/messages/query", q)
		if ids := messageIDs(response{body: got}); status != 200 || !cmp.Equal(ids, []string{out, in}) {
			t.Errorf("query %v = %d %v, want [%s %s]", q, status, ids, out, in)
		}
	}
	// The export shows the same ids (an inbound message's used to be its
	// lookup there).
	status, export := e.gateway(t, "POST", "/v1/exports", map[string]string{"phone": n.E164()})
	if ids := messageIDs(response{body: export}); status != 200 || len(ids) != 2 || !cmp.Equal(map[string]bool{ids[0]: true, ids[1]: true},
		map[string]bool{in: true, out: true}) {
		t.Errorf("export ids = %d %v, want %s and %s", status, ids, in, out)
	}

	// The erasure is idempotent per person: asking again resumes it. (A
	// concurrent resume by another package's tests on this stack can leave
	// the first answer pending.)
	for attempt := 0; ; attempt++ {
		status, got := e.gateway(t, "POST", "/v1/erasure-requests", map[string]string{"user_id": u, "reason": "user_request"})
		if status == 202 && got["status"] == "completed" {
			break
		}
		if attempt == 5 {
			t.Fatalf("erasure = %d %v, want 202 completed", status, got)
		}
		time.Sleep(time.Second)
	}
	for _, id := range []string{in, out} {
		if status, got := e.gateway(t, "GET", "/v1/messages/"+id, nil); status != 404 || got["error"].(map[string]any)["code"] != "not_found" {
			t.Errorf("GET after the erasure = %d %v, want 404 not_found", status, got)
		}
	}
	for _, q := range []map[string]any{{"phone": n.E164()}, {"contact_id": contact}} {
		if status, got := e.gateway(t, "POST", "/v1/messages/query", q); status != 200 || len(got["messages"].([]any)) != 0 {
			t.Errorf("query %v after the erasure = %d %v, want no messages", q, status, got)
		}
	}
}
