package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// payload is a filled testdata/meta template and the values put in it.
type payload struct {
	body           []byte
	from, wamid    string
	wamid2         string
	subject, index string
}

func fill(t *testing.T, h *Handler, name string, at time.Time) payload {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "meta", name))
	if err != nil {
		t.Fatalf("ReadFile(%s) err = %v", name, err)
	}
	p := payload{from: testNumber(t)}
	p.wamid, p.wamid2 = sandbox.NewWAMID(p.from, false), sandbox.NewWAMID(p.from, false)
	r := strings.NewReplacer("{{FROM}}", p.from, "{{WAMID}}", p.wamid, "{{WAMID2}}", p.wamid2, "{{TS}}", strconv.FormatInt(at.Unix(), 10))
	p.body = []byte(r.Replace(string(raw)))
	n, err := phone.ParseWAID(p.from)
	if err != nil {
		t.Fatalf("test number invalid: %v", err)
	}
	p.index, _ = h.Keys.Index(n)
	return p
}

func sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// TestMetaPayloads sends real-shaped payloads of every kind through the
// production wiring and checks what the API answers and stores.
func TestMetaPayloads(t *testing.T) {
	h, _, _ := newStackHandler(t)
	now := time.Now().UTC()
	tests := []struct {
		file         string
		want         outcome
		wantInbound  int
		wantOutbound bool // create the outbound message the status is about
	}{
		{"text.json", outcome{Received: 1}, 1, false},
		{"button.json", outcome{Received: 1}, 1, false},
		{"interactive_button_reply.json", outcome{Received: 1}, 1, false},
		{"interactive_list_reply.json", outcome{Received: 1}, 1, false},
		{"image.json", outcome{Received: 1}, 1, false},
		{"batch_multi_entry.json", outcome{Received: 2}, 2, false},
		{"other_phone_number_id.json", outcome{Ignored: 1}, 0, false},
		{"status_sent.json", outcome{Received: 1}, 0, true},
		{"status_delivered.json", outcome{Received: 1}, 0, true},
		{"status_read.json", outcome{Received: 1}, 0, true},
		{"status_failed.json", outcome{Received: 1}, 0, true},
		{"status_read.json", outcome{Ignored: 1}, 0, false}, // unknown message, older than the grace period
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			at := now
			if !tt.wantOutbound && strings.HasPrefix(tt.file, "status_") {
				at = now.Add(-time.Hour)
			}
			p := fill(t, h, tt.file, at)
			if tt.wantOutbound {
				putOutbound(t, h, p)
			}
			for i, want := range []outcome{tt.want, redelivered(tt.want)} {
				resp, _ := h.Handle(context.Background(), metaRequest(t, h, p.body))
				var got outcome
				if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &got) != nil || got != want {
					t.Errorf("delivery %d: Handle() = %d %s, want 200 %+v", i, resp.StatusCode, resp.Body, want)
				}
			}
			if got := countPrefix(t, h, p.index, "msg#in#"); got != tt.wantInbound {
				t.Errorf("inbound items = %d, want %d", got, tt.wantInbound)
			}
		})
	}
}

// redelivered is what a second delivery of the same bytes answers.
func redelivered(o outcome) outcome {
	return outcome{Duplicates: o.Received, Ignored: o.Ignored}
}

func putOutbound(t *testing.T, h *Handler, p payload) {
	t.Helper()
	err := h.Store.PutOutbound(context.Background(), store.Outbound{Subject: p.index, ID: "msg_" + p.wamid[len(p.wamid)-12:],
		Lookup: h.Keys.Lookup("wamid", p.wamid), Phone: "+" + p.from, ProviderID: p.wamid, Body: []byte(`{"text":"hi"}`),
		Purpose: retention.ClassTransactional, Status: "accepted", At: time.Now()}, store.Unit{})
	if err != nil {
		t.Fatalf("PutOutbound() err = %v", err)
	}
}

func countPrefix(t *testing.T, h *Handler, subject, prefix string) int {
	st := stacktestStack(t)
	n := 0
	for _, it := range partition(t, st, subject) {
		if sk, ok := it["sk"].(*types.AttributeValueMemberS); ok && strings.HasPrefix(sk.Value, prefix) {
			n++
		}
	}
	return n
}

// TestMetaSignatures checks every way a signature can be wrong is refused
// with 401 invalid_signature before anything is stored, that upper-case
// hex and base64 bodies pass, and that no error can serve as a signing
// oracle.
func TestMetaSignatures(t *testing.T) {
	h, _, _ := newStackHandler(t)
	keys, err := h.secretKeys(context.Background(), h.Config.MetaSecretID)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(p payload) events.APIGatewayV2HTTPRequest
		status int
		code   string
	}{
		{"valid", func(p payload) events.APIGatewayV2HTTPRequest { return req(p.body, sign(keys[0], p.body), false) }, 200, ""},
		{"upper-case hex", func(p payload) events.APIGatewayV2HTTPRequest {
			return req(p.body, "sha256="+strings.ToUpper(strings.TrimPrefix(sign(keys[0], p.body), "sha256=")), false)
		}, 200, ""},
		{"base64 body", func(p payload) events.APIGatewayV2HTTPRequest {
			return req([]byte(base64.StdEncoding.EncodeToString(p.body)), sign(keys[0], p.body), true)
		}, 200, ""},
		{"forged", func(p payload) events.APIGatewayV2HTTPRequest {
			return req(p.body, sign([]byte("guess"), p.body), false)
		}, 401, "invalid_signature"},
		{"truncated", func(p payload) events.APIGatewayV2HTTPRequest { return req(p.body, sign(keys[0], p.body)[:40], false) }, 401, "invalid_signature"},
		{"empty", func(p payload) events.APIGatewayV2HTTPRequest { return req(p.body, "", false) }, 401, "invalid_signature"},
		{"no prefix", func(p payload) events.APIGatewayV2HTTPRequest {
			return req(p.body, strings.TrimPrefix(sign(keys[0], p.body), "sha256="), false)
		}, 401, "invalid_signature"},
		{"non-hex", func(p payload) events.APIGatewayV2HTTPRequest {
			return req(p.body, "sha256="+strings.Repeat("zz", 32), false)
		}, 401, "invalid_signature"},
		{"body altered by one byte", func(p payload) events.APIGatewayV2HTTPRequest {
			b := append([]byte(nil), p.body...)
			b[len(b)/2] ^= 1
			return req(b, sign(keys[0], p.body), false)
		}, 401, "invalid_signature"},
		{"signed over re-serialised JSON", func(p payload) events.APIGatewayV2HTTPRequest {
			var v any
			_ = json.Unmarshal(p.body, &v)
			re, _ := json.Marshal(v)
			return req(p.body, sign(keys[0], re), false)
		}, 401, "invalid_signature"},
		{"malformed JSON, valid signature", func(p payload) events.APIGatewayV2HTTPRequest {
			b := p.body[:len(p.body)-3]
			return req(b, sign(keys[0], b), false)
		}, 400, "malformed_payload"},
		{"oversized", func(p payload) events.APIGatewayV2HTTPRequest {
			b := append(append([]byte(nil), p.body...), make([]byte, h.Config.MaxBodyBytes)...)
			return req(b, sign(keys[0], b), false)
		}, 413, "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fill(t, h, "text.json", time.Now())
			r := tt.mutate(p)
			r.RequestContext.HTTP.SourceIP = "198.51.100." + strconv.Itoa(len(tt.name)) // own flood counter
			resp, _ := h.Handle(context.Background(), r)
			if resp.StatusCode != tt.status || (tt.code != "" && errorCode(t, resp.Body) != tt.code) {
				t.Fatalf("Handle() = %d %s, want %d %s", resp.StatusCode, resp.Body, tt.status, tt.code)
			}
			stored := countPrefix(t, h, p.index, "msg#in#")
			if want := map[bool]int{true: 1, false: 0}[tt.status == 200]; stored != want {
				t.Errorf("stored %d messages, want %d", stored, want)
			}
			expected := strings.TrimPrefix(sign(keys[0], p.body), "sha256=")
			if strings.Contains(strings.ToLower(resp.Body), expected[:16]) || strings.Contains(resp.Body, p.from) {
				t.Errorf("response leaks the expected signature or the payload: %s", resp.Body)
			}
		})
	}
}

func req(body []byte, sig string, b64 bool) events.APIGatewayV2HTTPRequest {
	r := events.APIGatewayV2HTTPRequest{RouteKey: "POST /webhooks/meta", Body: string(body), IsBase64Encoded: b64,
		Headers:        map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "test", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.20"}}}
	if sig != "" {
		r.Headers["x-hub-signature-256"] = sig
	}
	return r
}

func TestMessageID(t *testing.T) {
	for v, want := range map[string]bool{
		"msg_ABCDEFGHIJKLMNOPQRSTUV23":  true,
		"msg_ABCDEFGHIJKLMNOPQRSTUV2":   false, // 23 characters
		"msg_abcdefghijklmnopqrstuv23":  false, // lower case
		"msg_ABCDEFGHIJKLMNOPQRSTUV18":  false, // 1 and 8 are not base32
		"cev_ABCDEFGHIJKLMNOPQRSTUV23":  false,
		"":                              false,
		"msg_ABCDEFGHIJKLMNOPQRSTUV23 ": false,
	} {
		if got := messageID(v); got != want {
			t.Errorf("messageID(%q) = %v, want %v", v, got, want)
		}
	}
}

// FuzzMessageID: whatever messageID accepts is a msg_ id of 28 characters
// that is safe to put in a DynamoDB sort key.
func FuzzMessageID(f *testing.F) {
	f.Add("msg_ABCDEFGHIJKLMNOPQRSTUV23")
	f.Add("msg_#")
	f.Fuzz(func(t *testing.T, v string) {
		if messageID(v) && (len(v) != 28 || v[:4] != "msg_" || strings.ContainsAny(v, "#/ \x00")) {
			t.Fatalf("messageID(%q) = true", v)
		}
	})
}

// TestUnknownStatusesDoNotHoldUpDeliveries sends fresh statuses about
// messages waguard never stored: without callback data (another tool on
// the same number, the erasure confirmation) or with callback data that
// is not a waguard message id, the status is acknowledged and ignored at
// once, not answered 503 for minutes (Meta would redeliver the whole
// batch). A status naming a waguard message id that is not stored yet is
// still retried within the grace period: its send may be in flight.
func TestUnknownStatusesDoNotHoldUpDeliveries(t *testing.T) {
	h, _, _ := newStackHandler(t)
	withCallback := func(p payload, data string) []byte {
		return []byte(strings.Replace(string(p.body), `"recipient_id"`, `"biz_opaque_callback_data":"`+data+`","recipient_id"`, 1))
	}
	tests := []struct {
		name       string
		body       func(payload) []byte
		wantStatus int
		wantBody   string
	}{
		{"no callback data", func(p payload) []byte { return p.body }, 200, `"ignored":1`},
		{"foreign callback data", func(p payload) []byte { return withCallback(p, "crm-ticket-4711") }, 200, `"ignored":1`},
		{"waguard id not stored yet", func(p payload) []byte { return withCallback(p, "msg_ABCDEFGHIJKLMNOPQRSTUVWX") }, 503, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := fill(t, h, "status_delivered.json", time.Now())
			resp, _ := h.Handle(context.Background(), metaRequest(t, h, tc.body(p)))
			if resp.StatusCode != tc.wantStatus || !strings.Contains(resp.Body, tc.wantBody) {
				t.Errorf("Handle(fresh status, %s) = %d %s, want %d %s", tc.name, resp.StatusCode, resp.Body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}
