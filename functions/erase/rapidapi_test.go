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

// TestFinalConfirmationRapidAPI: with the second provider configured,
// the erase function built as main builds it sends the final
// confirmation through it, authenticated the RapidAPI way.
func TestFinalConfirmationRapidAPI(t *testing.T) {
	e := newEnv(t)
	const host = "whatsapp.example.p.rapidapi.com"
	f, err := secrets.NewStore(secretsmanager.NewFromConfig(e.st.AWS(t)), time.Minute).Get(context.Background(), e.st.ProviderSecretID, secrets.StageCurrent)
	if err != nil {
		t.Fatal(err)
	}
	sb := sandbox.New(sandbox.Options{RapidAPIHost: host, AccessTokens: []string{string(f.Get("primary").Reveal())}})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{"WHATSAPP_API_BASE_URL": srv.URL, "PROVIDER_RAPIDAPI_HOST": host, "GRAPH_API_VERSION": "v21.0",
		"PHONE_NUMBER_ID": sandbox.DefaultPhoneNumberID, "PROVIDER_SECRET_ID": e.st.ProviderSecretID, "ERASURE_FINAL_TEXT": "Your data is being erased."} {
		t.Setenv(k, v)
	}
	h, err := newHandler()
	if err != nil {
		t.Fatalf("newHandler() err = %v", err)
	}
	h.Log, h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard
	e.h = h
	victim, _ := number(t)
	e.seed(t, victim, 2)
	if status, out := e.call(t, "POST /v1/erasure-requests", map[string]string{"phone": victim, "reason": "user_request"}, nil); status != 202 || out["status"] != "completed" {
		t.Fatalf("erasure = %d %v", status, out)
	}
	if got := len(sb.Messages()); got != 1 {
		t.Errorf("confirmations accepted by the RapidAPI provider = %d, want 1", got)
	}
}
