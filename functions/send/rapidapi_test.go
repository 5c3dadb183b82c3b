package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/shared/secrets"
)

// TestSendRapidAPI: with the second provider configured, the send
// function built as main builds it sends through it, authenticated the
// RapidAPI way.
func TestSendRapidAPI(t *testing.T) {
	e := newEnv(t)
	const host = "whatsapp.example.p.rapidapi.com"
	f, err := secrets.NewStore(secretsmanager.NewFromConfig(e.st.AWS(t)), time.Minute).Get(context.Background(), e.st.ProviderSecretID, secrets.StageCurrent)
	if err != nil {
		t.Fatal(err)
	}
	sb := sandbox.New(sandbox.Options{RapidAPIHost: host, AccessTokens: []string{string(f.Get("primary").Reveal())}})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	t.Setenv("WHATSAPP_API_BASE_URL", srv.URL)
	t.Setenv("PROVIDER_RAPIDAPI_HOST", host)
	h, err := newHandler()
	if err != nil {
		t.Fatalf("newHandler() err = %v", err)
	}
	h.Log, h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard
	e.h = h
	to := number(t)
	e.grant(t, to, "marketing")
	if status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing")); status != 202 {
		t.Fatalf("send = %d %q, want 202", status, code(out))
	}
	if got := len(sb.Messages()); got != 1 {
		t.Errorf("messages accepted by the RapidAPI provider = %d, want 1", got)
	}
}
