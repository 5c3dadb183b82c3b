package stacktest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/secrets"
)

// TestFunctionLogs runs an acceptance-like workload through the gateway
// (consent, send, consent query, erasure request and its state, the Meta
// handshake, refused requests), then reads the stack log. Each answer's
// apigw-requestid must be found whole in the summary line of the
// invocation that served it, with that invocation's Lambda requestId; and
// no function line of the whole run so far (every test's traffic through
// this stack) may have an id cut by the redactor or be written inside an
// invocation without its requestId.
func TestFunctionLogs(t *testing.T) {
	st := stacktest.Require(t)
	st.RequireLog(t)
	ids := workload(t, st)

	var lines []stacktest.FunctionLine
	missing := map[string]bool{}
	for deadline := time.Now().Add(15 * time.Second); ; {
		lines = readFunctionLines(t, st.Log)
		for _, id := range ids {
			missing[id] = true
		}
		for _, l := range lines {
			if id, _ := l.Fields["request_id"].(string); missing[id] && l.Fields["message"] != nil && l.Invocation != "" &&
				l.Fields["requestId"] == l.Invocation {
				delete(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for id := range missing {
		t.Errorf("no line with request_id %q whole and its invocation's requestId in %s", id, st.Log)
	}
	for _, p := range stacktest.LogProblems(lines) {
		t.Error(p)
	}
	t.Logf("%d function lines checked, %d requests followed", len(lines), len(ids))
}

// workload makes the requests and returns the API Gateway request id of
// each answer (the apigw-requestid header).
func workload(t *testing.T, st stacktest.Stack) []string {
	t.Helper()
	ctx := ctxT(t)
	sm := secrets.NewStore(secretsmanager.NewFromConfig(st.AWS(t)), time.Minute)
	ops, err := sm.Get(ctx, "waguard/"+stage(st)+"/clients/ops", secrets.StageCurrent)
	if err != nil {
		t.Fatalf("read the ops client secret: %v", err)
	}
	meta, err := sm.Get(ctx, st.MetaWebhookSecretID, secrets.StageCurrent)
	if err != nil {
		t.Fatalf("read the verify token: %v", err)
	}
	key := string(apiauth.PresentedKey("ops", ops.Get("key")).Reveal())
	to := fictionalNumber(t)
	var ids []string
	do := func(method, path, auth string, body any) map[string]any {
		t.Helper()
		var r bytes.Buffer
		if body != nil {
			_ = json.NewEncoder(&r).Encode(body)
		}
		req, _ := http.NewRequestWithContext(ctx, method, st.GatewayURL+path, &r)
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s err = %v", method, path, err)
		}
		defer resp.Body.Close()
		id := resp.Header.Get("apigw-requestid")
		if id == "" {
			t.Fatalf("%s %s: no apigw-requestid header", method, path)
		}
		ids = append(ids, id)
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	do("POST", "/v1/consents", key, map[string]string{"phone": to, "purpose": "transactional", "action": "grant",
		"method": "web_form", "policy_version": "2026-01"})
	do("POST", "/v1/messages", key, map[string]any{"to": to, "purpose": "transactional",
		"template": map[string]string{"name": "hello_world", "language": "en_US"}})
	do("POST", "/v1/consents/query", key, map[string]string{"phone": to})
	do("POST", "/v1/consents", key, map[string]string{"phone": to, "purpose": "marketing", "action": "grant", // double opt-in: a template
		"method": "web_form", "policy_version": "2026-01", "confirm": "whatsapp"})
	er := do("POST", "/v1/erasure-requests", key, map[string]string{"phone": to, "reason": "user_request"})
	if id, ok := er["id"].(string); ok {
		do("GET", "/v1/erasure-requests/"+url.PathEscape(id), key, nil)
	}
	q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {string(meta.Get("verify_token").Reveal())}, "hub.challenge": {"8675309"}}
	do("GET", "/webhooks/meta?"+q.Encode(), "", nil)
	do("POST", "/webhooks/meta", "", map[string]string{"object": "whatsapp_business_account"}) // unsigned
	do("POST", "/v1/messages", "wg_ops_wrong", map[string]string{"to": to})
	for range 8 { // more ids, so that digit runs in them are likely
		do("GET", "/v1/erasure-requests/er_NOSUCHREQUEST234567ABCDEF", key, nil)
	}
	return ids
}

// fictionalNumber returns a valid +1 NXX 555 01xx number in area codes
// 700-799, which no other test uses.
func fictionalNumber(t *testing.T) string {
	for range 1000 {
		n := fmt.Sprintf("+1%d55501%02d", 700+rand.IntN(100), rand.IntN(100))
		if _, err := phone.Parse(n); err == nil {
			return n
		}
	}
	t.Fatal("no fictional number")
	return ""
}

// stage is read back from a table name, e.g. waguard-dev-data → dev.
func stage(st stacktest.Stack) string {
	return strings.TrimSuffix(strings.TrimPrefix(st.DataTable, "waguard-"), "-data")
}

func readFunctionLines(t *testing.T, path string) []stacktest.FunctionLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, err := stacktest.FunctionLines(f)
	if err != nil {
		t.Fatalf("FunctionLines(%s) err = %v", path, err)
	}
	return lines
}
