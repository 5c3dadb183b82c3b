package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/signature"
	"github.com/waguard/waguard/shared/store"
)

func signedReq(body []byte, h signature.Headers, ip string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{RouteKey: "POST /webhooks/signed", Body: string(body), Headers: h.Map(),
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "test", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: ip}}}
}

func normalized(t *testing.T, from, id string, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "from": "+" + from, "timestamp": at.Unix(), "type": "text",
		"text": "hello from a provider", "to_phone_number_id": "100000000000001"})
	return b
}

func randomHex(t *testing.T) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestSignedScheme covers the timestamped HMAC scheme in both header
// sets: valid, stale and future timestamps, wrong secrets and replays.
func TestSignedScheme(t *testing.T) {
	h, _, _ := newStackHandler(t)
	keys, err := h.secretKeys(context.Background(), h.Config.SignedSecretID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name    string
		headers func(body []byte) signature.Headers
		status  int
		code    string
	}{
		{"seed", func(b []byte) signature.Headers { return signature.SignSeed(keys[0], now, b) }, 200, ""},
		{"standard webhooks", func(b []byte) signature.Headers {
			return signature.SignStandardWebhooks("msg_"+randomHex(t), now, b, keys[0])
		}, 200, ""},
		{"seed 6 minutes old", func(b []byte) signature.Headers { return signature.SignSeed(keys[0], now.Add(-6*time.Minute), b) }, 401, "stale_timestamp"},
		{"seed 6 minutes ahead", func(b []byte) signature.Headers { return signature.SignSeed(keys[0], now.Add(6*time.Minute), b) }, 401, "stale_timestamp"},
		{"standard webhooks stale", func(b []byte) signature.Headers {
			return signature.SignStandardWebhooks("msg_"+randomHex(t), now.Add(-time.Hour), b, keys[0])
		}, 401, "stale_timestamp"},
		{"seed wrong secret", func(b []byte) signature.Headers { return signature.SignSeed([]byte("not the secret"), now, b) }, 401, "invalid_signature"},
		{"no headers", func([]byte) signature.Headers { return signature.Headers{} }, 401, "invalid_signature"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := normalized(t, testNumber(t), "prov-"+randomHex(t), now)
			r := signedReq(body, tt.headers(body), "203.0.113."+string(rune('1'+i)))
			resp, _ := h.Handle(context.Background(), r)
			if resp.StatusCode != tt.status || (tt.code != "" && errorCode(t, resp.Body) != tt.code) {
				t.Fatalf("Handle() = %d %s, want %d %s", resp.StatusCode, resp.Body, tt.status, tt.code)
			}
			if tt.status != 200 {
				return
			}
			replay, _ := h.Handle(context.Background(), r)
			if replay.StatusCode != 200 || !strings.Contains(replay.Body, `"duplicates":1`) {
				t.Errorf("replay = %d %s, want 200 with duplicates 1", replay.StatusCode, replay.Body)
			}
		})
	}
}

// TestSecretRotationOverlap checks both secrets pass during the overlap
// and the previous one fails once the rotation has settled.
func TestSecretRotationOverlap(t *testing.T) {
	h, _, st := newStackHandler(t)
	sm := secretsmanager.NewFromConfig(st.AWS(t))
	ctx := context.Background()
	name := "waguard/test/rotation-" + randomHex(t)
	oldKey, newKey := "old-"+randomHex(t), "new-"+randomHex(t)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name),
		SecretString: aws.String(`{"kind":"webhook-secret","secret":"` + oldKey + `"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name),
		SecretString: aws.String(`{"kind":"webhook-secret","secret":"` + newKey + `"}`)}); err != nil {
		t.Fatal(err)
	}
	h.Config.MetaSecretID = name
	for _, tc := range []struct {
		name    string
		key     string
		overlap time.Duration
		want    int
	}{
		{"current", newKey, time.Hour, 200},
		{"previous within the overlap", oldKey, time.Hour, 200},
		{"previous after the overlap", oldKey, time.Nanosecond, 401},
		{"current after the overlap", newKey, time.Nanosecond, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.Config.SecretOverlap = tc.overlap
			p := fill(t, h, "text.json", time.Now())
			resp, _ := h.Handle(ctx, req(p.body, sign([]byte(tc.key), p.body), false))
			if resp.StatusCode != tc.want {
				t.Errorf("Handle() = %d %s, want %d", resp.StatusCode, resp.Body, tc.want)
			}
		})
	}
}

// TestFloodControl checks a source with more than 20 failed signatures in
// a minute is refused with 429 and Retry-After before any HMAC work, even
// with a valid signature, and that other sources are unaffected.
func TestFloodControl(t *testing.T) {
	h, c, _ := newStackHandler(t)
	ip := "198.51.100.200"
	p := fill(t, h, "text.json", time.Now())
	bad := req(p.body, sign([]byte("guess"), p.body), false)
	bad.RequestContext.HTTP.SourceIP = ip
	for i := 0; i < 21; i++ {
		if resp, _ := h.Handle(context.Background(), bad); resp.StatusCode != 401 {
			t.Fatalf("failure %d = %d, want 401", i+1, resp.StatusCode)
		}
	}
	keys, _ := h.secretKeys(context.Background(), h.Config.MetaSecretID)
	good := req(p.body, sign(keys[0], p.body), false)
	good.RequestContext.HTTP.SourceIP = ip
	c.Take()
	resp, _ := h.Handle(context.Background(), good)
	if resp.StatusCode != 429 || errorCode(t, resp.Body) != "rate_limited" || resp.Headers["Retry-After"] == "" {
		t.Errorf("valid request from a flooding source = %d %s %v, want 429 rate_limited with Retry-After", resp.StatusCode, resp.Body, resp.Headers)
	}
	if ops := c.Take(); ops["GetSecretValue"] != 0 || ops["TransactWriteItems"] != 0 {
		t.Errorf("a refused source cost %v, want no secret read and no write", ops)
	}
	good.RequestContext.HTTP.SourceIP = "198.51.100.201"
	if resp, _ := h.Handle(context.Background(), good); resp.StatusCode != 200 {
		t.Errorf("another source = %d, want 200", resp.StatusCode)
	}
}

// TestStaleEventDropped checks an event older than the redelivery horizon
// is acknowledged and dropped.
func TestStaleEventDropped(t *testing.T) {
	h, _, _ := newStackHandler(t)
	p := fill(t, h, "text.json", time.Now().Add(-8*24*time.Hour))
	resp, _ := h.Handle(context.Background(), metaRequest(t, h, p.body))
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"ignored":1`) {
		t.Errorf("Handle(8-day-old event) = %d %s, want 200 ignored 1", resp.StatusCode, resp.Body)
	}
	if n := countPrefix(t, h, p.index, "msg#in#"); n != 0 {
		t.Errorf("stored %d stale messages, want 0", n)
	}
}

// TestErasureKeywordOpensOneRequest checks the erasure phrase opens an
// erasure request for the sender, once, even across redeliveries and a
// second request.
func TestErasureKeywordOpensOneRequest(t *testing.T) {
	h, _, _ := newStackHandler(t)
	now := time.Now()
	from := testNumber(t)
	var ids []string
	for _, text := range []string{"delete my data", "  DELETE   MY DATA. "} {
		body := normalizedText(from, "prov-"+randomHex(t), text, now)
		keys, _ := h.secretKeys(context.Background(), h.Config.SignedSecretID)
		r := signedReq(body, signature.SignSeed(keys[0], now, body), "203.0.113.77")
		for i := 0; i < 2; i++ { // the second is a replay
			if resp, _ := h.Handle(context.Background(), r); resp.StatusCode != 200 {
				t.Fatalf("Handle(%q) = %d %s, want 200", text, resp.StatusCode, resp.Body)
			}
		}
		n, _ := phone.ParseWAID(from)
		subject, _ := h.Keys.Index(n)
		open, err := h.Store.OpenErasure(context.Background(), store.ErasureRequest{ID: "er_probe" + randomHex(t), Subject: subject, Reason: "other", RequestedAt: now}, store.Unit{})
		if !errors.Is(err, store.ErrDuplicate) || open.Reason != "whatsapp_keyword" || open.Status != "pending" {
			t.Fatalf("open request = %+v (err %v), want the keyword's pending request", open, err)
		}
		ids = append(ids, open.ID)
	}
	if ids[0] != ids[1] {
		t.Errorf("two erasure phrases opened %v, want one request", ids)
	}
}

func normalizedText(from, id, text string, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "from": "+" + from, "timestamp": at.Unix(), "type": "text",
		"text": text, "to_phone_number_id": "100000000000001"})
	return b
}

// TestKeywordReplies checks a configured confirmation is sent once through
// the provider (the sandbox), stored encrypted and not repeated on a
// redelivery; an unconfigured keyword sends nothing.
func TestKeywordReplies(t *testing.T) {
	h, _, st := newStackHandler(t)
	setProvider(t, h, st, st.SandboxURL)
	h.Config.Replies = map[Keyword]string{KeywordHelp: "Reply STOP to opt out. Help: example.com/help"}
	for _, tc := range []struct {
		text      string
		wantSends int
	}{{"help", 1}, {"STOP", 0}} {
		t.Run(tc.text, func(t *testing.T) {
			p := fillText(t, h, tc.text)
			before := st.SandboxSends(t, p.from)
			for i := 0; i < 2; i++ {
				if resp, _ := h.Handle(context.Background(), metaRequest(t, h, p.body)); resp.StatusCode != 200 {
					t.Fatalf("Handle() = %d %s", resp.StatusCode, resp.Body)
				}
			}
			if got := st.SandboxSends(t, p.from) - before; got != tc.wantSends {
				t.Errorf("provider sends = %d, want %d", got, tc.wantSends)
			}
			if got := countPrefix(t, h, p.index, "msg#out#"); got != tc.wantSends {
				t.Errorf("stored outbound replies = %d, want %d", got, tc.wantSends)
			}
		})
	}
}

// fillText fills text.json with another message text.
func fillText(t *testing.T, h *Handler, text string) payload {
	p := fill(t, h, "text.json", time.Now())
	repl, _ := json.Marshal(text)
	p.body = []byte(strings.Replace(string(p.body), `Where is my order? \ud83d\udce6`, string(repl[1:len(repl)-1]), 1))
	return p
}

// TestRedeliveredStopAfterErasureIsIgnored erases a subject after their
// STOP, records a fresh grant (which lifts the erasure suppression), and
// then gets Meta's redelivery of that STOP: it is acknowledged and
// ignored, stores nothing and does not revoke the fresh grant.
func TestRedeliveredStopAfterErasureIsIgnored(t *testing.T) {
	h, _, _ := newStackHandler(t)
	ctx := context.Background()
	p := fill(t, h, "text.json", time.Now().Add(-2*time.Minute))
	p.body = []byte(strings.Replace(string(p.body), `Where is my order? \ud83d\udce6`, "STOP", 1))
	if resp, _ := h.Handle(ctx, metaRequest(t, h, p.body)); resp.StatusCode != 200 || !strings.Contains(resp.Body, `"received":1`) {
		t.Fatalf("STOP = %d %s, want 200 received 1", resp.StatusCode, resp.Body)
	}
	req, err := h.Store.OpenErasure(ctx, store.ErasureRequest{ID: "er_redeliver" + randomHex(t), Subject: p.index, Reason: "user_request", RequestedAt: time.Now()}, store.Unit{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Store.MarkErased(ctx, p.index, req.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	for more := true; more; {
		if _, more, err = h.Store.ErasePage(ctx, req.ID, p.index); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Store.RecordConsent(ctx, p.index, store.ConsentEvent{ID: "cev_" + randomHex(t), Purpose: "marketing", Action: store.ActionGrant,
		Method: "api", PolicyVersion: "1", Actor: "test", At: time.Now()}, store.SuppressionLift, "", store.Unit{Items: []types.TransactWriteItem{h.Store.LiftErasure(p.index)}}); err != nil {
		t.Fatal(err)
	}
	resp, _ := h.Handle(ctx, metaRequest(t, h, p.body))
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"ignored":1`) {
		t.Errorf("redelivered STOP after erasure = %d %s, want 200 ignored 1", resp.StatusCode, resp.Body)
	}
	if n := countPrefix(t, h, p.index, "msg#in#"); n != 0 {
		t.Errorf("the erased message is stored again (%d)", n)
	}
	prof, err := h.Store.Profile(ctx, p.index)
	if err != nil || !prof.Consented("marketing") || prof.Erased {
		t.Errorf("after the redelivery: consented %v, erased %v (err %v); want the fresh grant to stand", prof.Consented("marketing"), prof.Erased, err)
	}
}

// TestKeywordReplyRecordedBeforeSent has the provider check, when the
// keyword reply reaches it, that waguard already holds the reply's
// record (status sending) under the id sent as callback data: a reply
// must never go out without its record and audit event. The reply is then
// confirmed (sent, with the provider's id).
func TestKeywordReplyRecordedBeforeSent(t *testing.T) {
	h, _, st := newStackHandler(t)
	p := fillText(t, h, "help")
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	wamid := "wamid.reply" + hex.EncodeToString(b)
	var recorded, called bool
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Callback string `json:"biz_opaque_callback_data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		m, err := h.Store.SendingOutbound(r.Context(), p.index, body.Callback)
		called, recorded = true, err == nil && m.ID == body.Callback
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"`+wamid+`"}]}`)
	}))
	t.Cleanup(meta.Close)
	setProvider(t, h, st, meta.URL)
	h.Config.Replies = map[Keyword]string{KeywordHelp: "Reply STOP to opt out."}
	if resp, _ := h.Handle(context.Background(), metaRequest(t, h, p.body)); resp.StatusCode != 200 {
		t.Fatalf("Handle() = %d %s", resp.StatusCode, resp.Body)
	}
	if !called || !recorded {
		t.Fatalf("provider called %v, reply recorded before the call %v; want both", called, recorded)
	}
	if got := countPrefix(t, h, p.index, "msg#out#"); got != 1 {
		t.Errorf("stored replies = %d, want 1", got)
	}
}

// setProvider makes h send keyword replies through the provider at
// baseURL (the sandbox, or a test's own Graph API double).
func setProvider(t *testing.T, h *Handler, st stacktest.Stack, baseURL string) {
	t.Helper()
	p, err := provider.New(h.Secrets, provider.Config{SecretID: st.ProviderSecretID, BaseURL: baseURL,
		Version: "v21.0", PhoneNumberID: h.Config.PhoneNumberID})
	if err != nil {
		t.Fatal(err)
	}
	h.Outbound.Provider = p
}
