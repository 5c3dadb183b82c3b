package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/subject"
)

// api calls the local gateway with the ops key.
type api struct {
	t   *testing.T
	st  stacktest.Stack
	key string
}

func newAPI(t *testing.T, st stacktest.Stack) api {
	stage := strings.TrimSuffix(strings.TrimPrefix(st.DataTable, "waguard-"), "-data")
	f, err := secrets.NewStore(secretsmanager.NewFromConfig(st.AWS(t)), time.Minute).Get(context.Background(), "waguard/"+stage+"/clients/ops", secrets.StageCurrent)
	if err != nil {
		t.Fatalf("read the ops client secret: %v", err)
	}
	return api{t: t, st: st, key: string(apiauth.PresentedKey("ops", f.Get("key")).Reveal())}
}

func (a api) post(path string, body any) (int, map[string]any) {
	a.t.Helper()
	b, _ := json.Marshal(body)
	return a.do(http.MethodPost, path, bytes.NewReader(b))
}

// awaitErasure reads erasure request id until it completes: the stack's
// events function told the person's recipients (the bus, the sandbox
// endpoint), so the request stays pending until they acknowledged, and a
// GET completes it (docs/gdpr.md).
func (a api) awaitErasure(id string) map[string]any {
	a.t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		status, out := a.do(http.MethodGet, "/v1/erasure-requests/"+id, nil)
		if status == 200 && out["status"] == "completed" {
			return out
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("erasure request = %d %v, want completed within a minute", status, out)
		}
	}
}

func (a api) do(method, path string, body io.Reader) (int, map[string]any) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.st.GatewayURL+path, body)
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s err = %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestGatewayBSUIDOnlyUser follows a person WhatsApp shows only by their
// BSUID and username, through the local gateway and the deployed
// functions: inbound, STOP, a send to the BSUID refused, START, a send
// allowed (to Meta's "recipient"), a message showing their number too, an
// export by BSUID with every identifier, and an erasure by BSUID that
// removes everything, including what was stored under the number, and
// leaves no identifier in clear in any table.
func TestGatewayBSUIDOnlyUser(t *testing.T) {
	h, _, st := newStackHandler(t)
	a := newAPI(t, st)
	u, from, username := testUserID(t), testNumber(t), fmt.Sprintf("grace.h%d", time.Now().UnixNano()%1e6)
	inbound := func(text string, withNumber bool) {
		t.Helper()
		req := map[string]any{"kind": "text", "user_id": u, "username": username, "text": text, "withhold_phone": true}
		if withNumber {
			req["from"], req["withhold_phone"] = from, false
		}
		if at := deliver(t, st, req)[0]; at.Status != 200 || at.Body["received"] != 1.0 {
			t.Fatalf("deliver(%q) = %d %v, want 200 received 1", text, at.Status, at.Body)
		}
	}
	send := map[string]any{"to_user_id": u, "purpose": "marketing", "template": map[string]any{"name": "order_update", "language": "en_US"}}
	inbound("hello, no number", false)
	inbound("STOP", false)
	if status, out := a.post("/v1/messages", send); status != 403 || out["error"].(map[string]any)["code"] != "recipient_suppressed" {
		t.Fatalf("send after STOP = %d %v, want 403 recipient_suppressed", status, out)
	}
	inbound("START", false)
	if status, out := a.post("/v1/messages", send); status != 202 {
		t.Fatalf("send after START = %d %v, want 202", status, out)
	}
	if n := st.SandboxSends(t, u); n != 1 {
		t.Errorf("Meta received %d messages for the BSUID, want 1", n)
	}
	inbound("now with my number", true)
	status, out := a.post("/v1/exports", map[string]string{"user_id": u})
	msgs, _ := out["messages"].([]any)
	if status != 200 || len(msgs) != 5 { // four inbound, one outbound
		t.Fatalf("export by BSUID = %d with %d messages, want 200 with 5", status, len(msgs))
	}
	kinds := map[string]string{}
	for _, id := range out["identifiers"].([]any) {
		m := id.(map[string]any)
		kinds[m["kind"].(string)] = m["value"].(string)
	}
	if kinds["user_id"] != u || kinds["phone"] != "+"+from || kinds["username"] != username {
		t.Errorf("exported identifiers = %v, want the BSUID, the number and the username", kinds)
	}
	status, out = a.post("/v1/erasure-requests", map[string]string{"user_id": u, "reason": "user_request"})
	if id, _ := out["id"].(string); status != 202 || id == "" {
		t.Fatalf("erasure by BSUID = %d %v, want 202 and its id", status, out)
	} else if out["status"] != "completed" { // its recipients are told first
		a.awaitErasure(id)
	}
	_, out = a.post("/v1/exports", map[string]string{"phone": "+" + from})
	if msgs, _ := out["messages"].([]any); len(msgs) != 0 || out["suppression"].(map[string]any)["erased"] != true {
		t.Errorf("export by number after the erasure = %v, want nothing and erased", out)
	}
	n, _ := phone.ParseWAID(from)
	for _, who := range []subject.Who{{User: mustUser(t, u)}, {Phone: n}} {
		sub, err := h.Subjects.Find(context.Background(), who)
		if err != nil {
			t.Fatal(err)
		}
		if items := partition(t, st, sub.Key); len(items) != 0 {
			t.Errorf("%d items left under an identifier of the erased person", len(items))
		}
	}
	for _, needle := range []string{u, username, from} {
		if scanFor(t, st, []byte(needle)) {
			t.Errorf("a table holds an identifier in clear (%d bytes)", len(needle))
		}
	}
}

// TestGatewayConsentSignals follows one person through every consent
// signal WhatsApp gives, end to end: the sandbox delivers Meta's shapes to
// the deployed webhook, and the send API refuses or allows a marketing
// template accordingly; the consent query shows the ledger in arrival
// order.
func TestGatewayConsentSignals(t *testing.T) {
	_, _, st := newStackHandler(t)
	a := newAPI(t, st)
	from := testNumber(t)
	send := map[string]any{"to": "+" + from, "purpose": "marketing", "template": map[string]any{"name": "order_update", "language": "en_US"}}
	grant := map[string]any{"phone": "+" + from, "purpose": "marketing", "action": "grant", "method": "web_form",
		"notice": "Yes, send me offers by WhatsApp. Reply STOP to stop."}
	lastWAMID := "" // of the last marketing template sent
	step := func(what string, deliverReq map[string]any, wantStatus int, wantCode string) {
		t.Helper()
		if deliverReq != nil {
			if at := deliver(t, st, deliverReq)[0]; at.Status != 200 {
				t.Fatalf("%s: deliver = %d %v, want 200", what, at.Status, at.Body)
			}
		}
		status, out := a.post("/v1/messages", send)
		code := ""
		if e, ok := out["error"].(map[string]any); ok {
			code, _ = e["code"].(string)
		}
		if id, ok := out["provider_message_id"].(string); ok {
			lastWAMID = id
		}
		if status != wantStatus || code != wantCode {
			t.Fatalf("%s: send = %d %v, want %d %s", what, status, out, wantStatus, wantCode)
		}
	}
	granted := func() {
		t.Helper()
		if status, out := a.post("/v1/consents", grant); status != 201 {
			t.Fatalf("grant = %d %v, want 201", status, out)
		}
	}
	granted()
	step("granted", nil, 202, "")
	step("WhatsApp setting stop", map[string]any{"kind": "preference", "preference": "stop", "from": from}, 403, "recipient_suppressed")
	step("WhatsApp setting resume", map[string]any{"kind": "preference", "preference": "resume", "from": from}, 403, "consent_required")
	granted()
	step("granted again", nil, 202, "")
	step("Stop promotions button", map[string]any{"kind": "button", "from": from, "button_text": "Stop promotions"}, 403, "recipient_suppressed")
	// Meta's preference timestamps are in seconds, and two identical items
	// of one second are one event (a redelivery): the second resume must
	// carry a later second, as a person's would.
	for start := time.Now().Unix(); time.Now().Unix() == start; {
		time.Sleep(50 * time.Millisecond)
	}
	step("resume keeps the person's own stop", map[string]any{"kind": "preference", "preference": "resume", "from": from}, 403, "recipient_suppressed")
	granted()
	step("granted a third time", nil, 202, "")
	// The status names this test's send: the sandbox's newest send may be
	// another package's, running at the same time.
	step("131050 in a failed status", map[string]any{"kind": "status", "status": "failed", "error_code": 131050, "wamid": lastWAMID},
		403, "recipient_suppressed")

	status, out := a.post("/v1/consents/query", map[string]string{"phone": "+" + from})
	if status != 200 {
		t.Fatalf("consent query = %d %v", status, out)
	}
	var got []string
	for _, e := range out["ledger"].([]any) {
		m := e.(map[string]any)
		entry := m["method"].(string) + ":" + m["action"].(string)
		if m["notice_sha256"] != nil {
			entry += "+notice"
		}
		got = append(got, entry)
	}
	want := []string{"web_form:grant+notice", "whatsapp_preferences:revoke", "whatsapp_preferences:resume", "web_form:grant+notice",
		"whatsapp_button:revoke", "whatsapp_preferences:resume", "web_form:grant+notice", "provider_131050:revoke"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ledger = %v\nwant     %v", got, want)
	}
	if m := out["purposes"].(map[string]any)["marketing"].(map[string]any); m["state"] != "revoked" || m["suppressed"] != true {
		t.Errorf("marketing = %v, want revoked and suppressed", m)
	}
}
