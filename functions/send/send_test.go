package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/store"
)

// env is a send handler built as main builds it, on the local stack.
type env struct {
	h   *Handler
	st  stacktest.Stack
	key string // the ops client's presented API key
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st := stacktest.Require(t)
	st.AsFunction(t, "SendFunction")
	stage := strings.TrimSuffix(strings.TrimPrefix(st.DataTable, "waguard-"), "-data")
	for k, v := range map[string]string{"DATA_TABLE": st.DataTable, "KEYS_TABLE": st.KeysTable, "AUDIT_TABLE": st.AuditTable,
		"KMS_KEY_ID": st.KMSKeyID, "INDEX_KEY_SECRET_ID": st.IndexKeySecretID, "PSEUDONYM_KEY_SECRET_ID": st.PseudonymKeySecretID,
		"PROVIDER_SECRET_ID": st.ProviderSecretID, "CLIENT_SECRET_PREFIX": "waguard/" + stage + "/clients/",
		"PHONE_NUMBER_ID": sandbox.DefaultPhoneNumberID, "WHATSAPP_API_BASE_URL": st.SandboxURL, "GRAPH_API_VERSION": "v21.0",
		"RATE_LIMIT_OTP": "3"} {
		t.Setenv(k, v)
	}
	h, err := newHandler()
	if err != nil {
		t.Fatalf("newHandler() err = %v", err)
	}
	h.Log, h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard
	sm := secretsmanager.NewFromConfig(st.AWS(t))
	f, err := secrets.NewStore(sm, time.Minute).Get(context.Background(), "waguard/"+stage+"/clients/ops", secrets.StageCurrent)
	if err != nil {
		t.Fatalf("read ops client: %v", err)
	}
	key := apiauth.PresentedKey("ops", f.Get("key"))
	return &env{h: h, st: st, key: string(key.Reveal())}
}

var numbers = struct {
	sync.Mutex
	next int
}{next: int(time.Now().UnixNano() % 5000)}

// number returns a fresh fictional +1 NXX 555 01xx number.
func number(t testing.TB) string {
	numbers.Lock()
	defer numbers.Unlock()
	for range 5000 {
		i := numbers.next % 5000
		numbers.next++
		n := fmt.Sprintf("+1%d55501%02d", 320+i/100, i%100)
		if _, err := phone.Parse(n); err == nil {
			return n
		}
	}
	t.Fatal("no fictional number left")
	return ""
}

func (e *env) call(t testing.TB, route, key string, body any, headers ...string) (int, map[string]any, map[string]string) {
	t.Helper()
	return e.callCtx(context.Background(), t, route, key, body, headers...)
}

// callCtx is call under ctx (a deadline bounds an idempotency lease, as
// Lambda's does).
func (e *env) callCtx(ctx context.Context, t testing.TB, route, key string, body any, headers ...string) (int, map[string]any, map[string]string) {
	t.Helper()
	b, _ := json.Marshal(body)
	if s, ok := body.(string); ok {
		b = []byte(s)
	}
	h := map[string]string{}
	if key != "" {
		h["authorization"] = "Bearer " + key
	}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	resp, _ := e.h.Handle(ctx, events.APIGatewayV2HTTPRequest{RouteKey: route, Body: string(b), Headers: h,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "test", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.50"}}})
	var out map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &out)
	return resp.StatusCode, out, resp.Headers
}

func code(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (e *env) grant(t testing.TB, to, purpose string) {
	t.Helper()
	if status, out, _ := e.call(t, "POST /v1/consents", e.key, map[string]string{"phone": to, "purpose": purpose, "action": "grant",
		"method": "web_form", "policy_version": "2026-01"}); status != 201 {
		t.Fatalf("grant consent = %d %v", status, out)
	}
}

func template(to, purpose string) map[string]any {
	return map[string]any{"to": to, "purpose": purpose, "template": map[string]any{"name": "order_update", "language": "en_US"}}
}

// TestSendChecks walks the documented checks in order.
func TestSendChecks(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		setup  func(to string)
		key    string
		body   func(to string) any
		status int
		code   string
	}{
		{"no key", nil, "-", func(to string) any { return template(to, "marketing") }, 401, "unauthenticated"},
		{"wrong key", nil, "wg_ops_" + strings.Repeat("x", 48), func(to string) any { return template(to, "marketing") }, 401, "unauthenticated"},
		{"malformed JSON", nil, "", func(string) any { return `{"to":` }, 400, "invalid_request"},
		{"unknown field", nil, "", func(to string) any { return map[string]any{"to": to, "purpose": "otp", "text": "x", "cc": 1} }, 400, "invalid_request"},
		{"text and template", nil, "", func(to string) any {
			return map[string]any{"to": to, "purpose": "otp", "text": "x", "template": map[string]any{"name": "a", "language": "en"}}
		}, 400, "invalid_request"},
		{"text too long", nil, "", func(to string) any {
			return map[string]any{"to": to, "purpose": "otp", "text": strings.Repeat("x", 4097)}
		}, 400, "invalid_request"},
		{"invalid phone", nil, "", func(string) any { return template("+1555", "marketing") }, 400, "invalid_phone"},
		{"no consent", nil, "", func(to string) any { return template(to, "marketing") }, 403, "consent_required"},
		{"consent for another purpose", func(to string) { e.grant(t, to, "otp") }, "", func(to string) any { return template(to, "marketing") }, 403, "consent_required"},
		{"text outside the window", func(to string) { e.grant(t, to, "transactional") }, "", func(to string) any {
			return map[string]any{"to": to, "purpose": "transactional", "text": "your parcel is on its way"}
		}, 422, "template_required"},
		{"revoked through the API", func(to string) {
			e.grant(t, to, "marketing")
			e.call(t, "POST /v1/consents", e.key, map[string]string{"phone": to, "purpose": "marketing", "action": "revoke", "method": "web_form", "policy_version": "2026-01"})
		}, "", func(to string) any { return template(to, "marketing") }, 403, "consent_required"},
		{"STOP via WhatsApp", func(to string) {
			e.grant(t, to, "marketing")
			n, _ := phone.Parse(to)
			subject, _ := e.h.Keys.Index(n)
			if err := e.h.Store.RecordConsent(context.Background(), subject, store.ConsentEvent{ID: "cev_stop" + to[1:], Purpose: "marketing",
				Action: store.ActionRevoke, Method: "whatsapp_keyword", PolicyVersion: "k", Actor: "webhook", At: time.Now()}, store.SuppressionAdd, "stop_keyword", store.Unit{}); err != nil {
				t.Fatal(err)
			}
		}, "", func(to string) any { return template(to, "marketing") }, 403, "recipient_suppressed"},
		{"sent", func(to string) { e.grant(t, to, "marketing") }, "", func(to string) any { return template(to, "marketing") }, 202, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := number(t)
			if tc.setup != nil {
				tc.setup(to)
			}
			key := e.key
			if tc.key == "-" {
				key = ""
			} else if tc.key != "" {
				key = tc.key
			}
			status, out, _ := e.call(t, "POST /v1/messages", key, tc.body(to))
			if status != tc.status || code(out) != tc.code {
				t.Fatalf("POST /v1/messages = %d %v, want %d %q", status, out, tc.status, tc.code)
			}
			if status == 202 && (!strings.HasPrefix(fmt.Sprint(out["id"]), "msg_") || !strings.HasPrefix(fmt.Sprint(out["provider_message_id"]), "wamid.")) {
				t.Errorf("202 body = %v, want msg_ id and wamid", out)
			}
			if strings.Contains(fmt.Sprint(out["error"]), to[2:]) {
				t.Errorf("error body contains the number")
			}
		})
	}
}

// TestIdempotentSends checks 20 concurrent identical requests make one
// provider call and all answer the same; a different body conflicts.
func TestIdempotentSends(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	e.grant(t, to, "marketing")
	before := e.st.SandboxSends(t, to)
	key := "order-42-" + to[1:]
	var wg sync.WaitGroup
	ids := make([]string, 20)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing"), "idempotency-key", key)
			if status != 202 {
				t.Errorf("request %d = %d %v, want 202", i, status, out)
			}
			ids[i] = fmt.Sprint(out["id"], out["provider_message_id"])
		}()
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("responses differ: %q vs %q", ids[i], ids[0])
		}
	}
	if got := e.st.SandboxSends(t, to) - before; got != 1 {
		t.Errorf("provider calls = %d, want exactly 1", got)
	}
	other := template(to, "marketing")
	other["template"].(map[string]any)["name"] = "another"
	if status, out, _ := e.call(t, "POST /v1/messages", e.key, other, "idempotency-key", key); status != 409 || code(out) != "idempotency_conflict" {
		t.Errorf("different body, same key = %d %v, want 409 idempotency_conflict", status, out)
	}
}

// TestRateLimit checks the per-purpose limit (otp set to 3 per 15 min).
func TestRateLimit(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	e.grant(t, to, "otp")
	for i := 0; i < 3; i++ {
		if status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "otp")); status != 202 {
			t.Fatalf("send %d = %d %v, want 202", i, status, out)
		}
	}
	status, out, hdr := e.call(t, "POST /v1/messages", e.key, template(to, "otp"))
	if status != 429 || code(out) != "rate_limited" || hdr["Retry-After"] == "" {
		t.Errorf("4th otp = %d %v %v, want 429 rate_limited with Retry-After", status, out, hdr)
	}
}

// TestProviderErrors maps Meta's errors, and 131050 suppresses marketing.
func TestProviderErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		fault  map[string]any
		status int
		code   string
		after  string // code of the next send, "" for 202
	}{
		{map[string]any{"code": 131026}, 422, "undeliverable", ""},
		{map[string]any{"code": 131049}, 422, "not_delivered", ""},
		{map[string]any{"code": 131047}, 422, "template_required", ""},
		{map[string]any{"code": 131050}, 403, "recipient_suppressed", "recipient_suppressed"},
		{map[string]any{"code": 130429, "count": 4}, 429, "upstream_rate_limited", ""},
		{map[string]any{"status": 500, "count": 4}, 502, "provider_error", ""},
		{map[string]any{"status": 500, "count": 1}, 202, "", ""}, // retried once, then sent
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.fault), func(t *testing.T) {
			to := number(t)
			e.grant(t, to, "marketing")
			tc.fault["to"] = to
			e.fault(t, tc.fault)
			if status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing")); status != tc.status || code(out) != tc.code {
				t.Fatalf("send = %d %v, want %d %q", status, out, tc.status, tc.code)
			}
			status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing"))
			if code(out) != tc.after || (tc.after == "" && status != 202) {
				t.Errorf("next send = %d %v, want %q", status, out, tc.after)
			}
		})
	}
}

// fault queues a sandbox fault (see devstack/sandbox).
func (e *env) fault(t testing.TB, f map[string]any) {
	t.Helper()
	b, _ := json.Marshal(f)
	resp, err := http.Post(e.st.SandboxURL+"/_sandbox/faults", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("inject fault: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("inject fault: %s", resp.Status)
	}
}

// TestConsentQuery checks the ledger is append-only and the state per
// purpose follows it.
func TestConsentQuery(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	e.grant(t, to, "marketing")
	e.call(t, "POST /v1/consents", e.key, map[string]string{"phone": to, "purpose": "marketing", "action": "revoke", "method": "web_form", "policy_version": "2026-01"})
	status, out, _ := e.call(t, "POST /v1/consents/query", e.key, map[string]string{"phone": to})
	if status != 200 {
		t.Fatalf("query = %d %v", status, out)
	}
	ledger, _ := out["ledger"].([]any)
	purposes, _ := out["purposes"].(map[string]any)
	marketing, _ := purposes["marketing"].(map[string]any)
	if len(ledger) != 2 || marketing["state"] != "revoked" || marketing["suppressed"] != false {
		t.Errorf("query = %v, want 2 ledger entries and marketing revoked, not suppressed", out)
	}
	if strings.Contains(fmt.Sprint(out), to[2:]) {
		t.Errorf("query answer contains the number")
	}
}
