package endpoint

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/waguard/waguard/shared/signature"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// official verifies h and body with the official Standard Webhooks Go
// library configured with secret alone, as a receiver holding only that
// secret does (the library checks the timestamp against time.Now).
func official(t *testing.T, secret string, h signature.Headers, body []byte) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("standardwebhooks.NewWebhook() err = %v, want nil", err)
	}
	hdr := http.Header{}
	for k, v := range h.Map() {
		hdr.Set(k, v)
	}
	return wh.Verify(body, hdr)
}

// TestSignVerifiesWithOfficialLibrary signs with waguard's signer and
// verifies with the official library, each secret alone: a receiver that
// switched to the new secret and one that has not yet both verify during
// the overlap, only the new one after it, and nothing verifies a tampered
// body, timestamp or id.
func TestSignVerifiesWithOfficialLibrary(t *testing.T) {
	now := time.Now()
	body := []byte(`{"type":"message.received","timestamp":"2026-01-01T00:00:00Z","data":{"contact_id":"ct_AAAA"}}`)
	single, _ := Parse("crm", "v", doc(nil))
	overlap, _ := Parse("crm", "v", doc(map[string]any{"previous_secret": testPrevSecret, "previous_until": now.Add(time.Hour).Format(time.RFC3339)}))
	ended, _ := Parse("crm", "v", doc(map[string]any{"previous_secret": testPrevSecret, "previous_until": now.Add(-time.Second).Format(time.RFC3339)}))
	other := "whsec_" + b64(32)
	tests := []struct {
		name       string
		e          Endpoint
		signatures int
		verifies   map[string]bool // secret → verifies alone
	}{
		{"single secret", single, 1, map[string]bool{testSecret: true, testPrevSecret: false, other: false}},
		{"rotation overlap", overlap, 2, map[string]bool{testSecret: true, testPrevSecret: true, other: false}},
		{"overlap ended", ended, 1, map[string]bool{testSecret: true, testPrevSecret: false, other: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := tt.e.Sign("evt_AAAAAAAAAAAAAAAAAAAAAAAAAA", now, body)
			if err != nil {
				t.Fatalf("Sign() err = %v, want nil", err)
			}
			if got := len(strings.Fields(h.Signature)); got != tt.signatures {
				t.Errorf("Sign() gave %d signatures, want %d", got, tt.signatures)
			}
			if h.Timestamp != strconv.FormatInt(now.Unix(), 10) || h.ID != "evt_AAAAAAAAAAAAAAAAAAAAAAAAAA" {
				t.Errorf("Sign() id %q timestamp %q, want the event id and %d", h.ID, h.Timestamp, now.Unix())
			}
			for secret, want := range tt.verifies {
				if err := official(t, secret, h, body); (err == nil) != want {
					t.Errorf("official Verify(secret %s…) err = %v, want verified %v", secret[:10], err, want)
				}
			}
			tampered := map[string]func(signature.Headers, []byte) (signature.Headers, []byte){
				"body": func(h signature.Headers, b []byte) (signature.Headers, []byte) { return h, append(bytes.Clone(b), ' ') },
				"timestamp": func(h signature.Headers, b []byte) (signature.Headers, []byte) {
					h.Timestamp = strconv.FormatInt(now.Unix()-1, 10)
					return h, b
				},
				"id": func(h signature.Headers, b []byte) (signature.Headers, []byte) {
					h.ID = "evt_AAAAAAAAAAAAAAAAAAAAAAAAAB"
					return h, b
				},
			}
			for what, tamper := range tampered {
				th, tb := tamper(h, body)
				for _, secret := range []string{testSecret, testPrevSecret} {
					if err := official(t, secret, th, tb); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
						t.Errorf("official Verify(tampered %s) err = %v, want ErrNoMatchingSignature", what, err)
					}
				}
				if err := tt.e.Verify(th, tb, now); err != signature.ErrBadSignature {
					t.Errorf("Verify(tampered %s) err = %v, want ErrBadSignature", what, err)
				}
			}
			if err := tt.e.Verify(h, body, now); err != nil {
				t.Errorf("Verify(Sign output) err = %v, want nil", err)
			}
		})
	}
}

// TestSignVector pins the signer to the Standard Webhooks reference
// vector (the secret, id, timestamp, body and signature of the official
// libraries' tests).
func TestSignVector(t *testing.T) {
	e, err := Parse("ref", "v", doc(map[string]any{"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}))
	if err != nil {
		t.Fatalf("Parse() err = %v, want nil", err)
	}
	h, err := e.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil || h.Signature != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" || h.Timestamp != "1614265330" {
		t.Errorf("Sign() = %q %q, %v; want v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= 1614265330, nil", h.Signature, h.Timestamp, err)
	}
	wh, _ := standardwebhooks.NewWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	want, _ := wh.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if h.Signature != want {
		t.Errorf("Sign() = %q, official Sign() = %q; want equal", h.Signature, want)
	}
}

func TestSignRefuses(t *testing.T) {
	e, _ := Parse("crm", "v", doc(nil))
	for _, id := range []string{"", "evt.1", "evt 1", strings.Repeat("a", 257), "evt_é"} {
		if _, err := e.Sign(id, testNow, nil); err != ErrBadID {
			t.Errorf("Sign(id %q) err = %v, want ErrBadID", id, err)
		}
	}
	if _, err := (Endpoint{}).Sign("evt_1", testNow, nil); err == nil {
		t.Errorf("zero Endpoint Sign() err = nil, want an error")
	}
}

func TestVerifyStale(t *testing.T) {
	e, _ := Parse("crm", "v", doc(nil))
	h, _ := e.Sign("evt_1", testNow, []byte("{}"))
	if err := e.Verify(h, []byte("{}"), testNow.Add(6*time.Minute)); err != signature.ErrStaleTimestamp {
		t.Errorf("Verify(6 minutes later) err = %v, want ErrStaleTimestamp", err)
	}
}

func TestNewRequest(t *testing.T) {
	e, _ := Parse("crm", "v", doc(nil))
	body := []byte(`{"type":"subject.erased"}`)
	req, err := e.NewRequest(context.Background(), "evt_1", testNow, body)
	if err != nil {
		t.Fatalf("NewRequest() err = %v, want nil", err)
	}
	got, _ := io.ReadAll(req.Body)
	h := signature.HeadersFrom(req.Header.Get)
	if req.Method != http.MethodPost || req.URL.String() != testURL || !bytes.Equal(got, body) ||
		req.Header.Get("Content-Type") != "application/json" || e.Verify(h, got, testNow) != nil {
		t.Errorf("NewRequest() = %s %s content-type %q, body kept %v, verifies %v; want POST, the URL, application/json, true, true",
			req.Method, req.URL.Redacted(), req.Header.Get("Content-Type"), bytes.Equal(got, body), e.Verify(h, got, testNow) == nil)
	}
	if _, err := e.NewRequest(context.Background(), "evt.1", testNow, body); err != ErrBadID {
		t.Errorf("NewRequest(bad id) err = %v, want ErrBadID", err)
	}
}

func TestGenerateSecret(t *testing.T) {
	a, b := GenerateSecret(), GenerateSecret()
	for _, s := range []string{a, b} {
		k, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(s, "whsec_"))
		if !strings.HasPrefix(s, "whsec_") || err != nil || len(k) != 32 {
			t.Errorf("GenerateSecret() = whsec_ prefix %v, decodes %v, %d bytes; want true, true, 32", strings.HasPrefix(s, "whsec_"), err == nil, len(k))
		}
		if _, err := standardwebhooks.NewWebhook(s); err != nil {
			t.Errorf("official NewWebhook(GenerateSecret()) err = %v, want nil", err)
		}
	}
	if a == b {
		t.Errorf("GenerateSecret() twice gave the same secret")
	}
}

func TestNewSecretDocument(t *testing.T) {
	d, err := NewSecretDocument("http://127.0.0.1:4604/_sandbox/endpoint", nil, true)
	if err != nil {
		t.Fatalf("NewSecretDocument() err = %v, want nil", err)
	}
	e, err := Parse("sandbox", "v", d)
	if err != nil || !e.IncludeContent() || len(e.Types()) != 0 || e.URL() != "http://127.0.0.1:4604/_sandbox/endpoint" {
		t.Errorf("Parse(NewSecretDocument()) = %v, %v; want the sandbox with content and every type", e, err)
	}
	if _, err := NewSecretDocument("http://example.com/", nil, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewSecretDocument(http URL) err = %v, want ErrInvalid", err)
	}
}
