package main

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/secrets"
)

const rapidAPIHost = "whatsapp.example.p.rapidapi.com"

// rapidAPIProvider serves the sandbox as a RapidAPI-style proxy that
// accepts the stack's provider token, and points the function's
// configuration at it (PROVIDER_RAPIDAPI_HOST set).
func rapidAPIProvider(t *testing.T, st stacktest.Stack) *sandbox.Sandbox {
	t.Helper()
	f, err := secrets.NewStore(secretsmanager.NewFromConfig(st.AWS(t)), time.Minute).Get(context.Background(), st.ProviderSecretID, secrets.StageCurrent)
	if err != nil {
		t.Fatalf("read provider secret: %v", err)
	}
	sb := sandbox.New(sandbox.Options{RapidAPIHost: rapidAPIHost, AccessTokens: []string{string(f.Get("primary").Reveal())}})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	t.Setenv("WHATSAPP_API_BASE_URL", srv.URL)
	t.Setenv("PROVIDER_RAPIDAPI_HOST", rapidAPIHost)
	return sb
}

// TestKeywordReplyRapidAPI: with the second provider configured, the
// webhook built as main builds it answers a keyword through it,
// authenticated the RapidAPI way (the proxy refuses a bearer token).
func TestKeywordReplyRapidAPI(t *testing.T) {
	st := stacktest.Require(t)
	sb := rapidAPIProvider(t, st)
	t.Setenv("PROVIDER_SECRET_ID", st.ProviderSecretID)
	t.Setenv("HELP_TEXT", "Reply STOP to opt out.")
	h, _, _ := newStackHandler(t)
	p := fillText(t, h, "help")
	if resp, _ := h.Handle(context.Background(), metaRequest(t, h, p.body)); resp.StatusCode != 200 {
		t.Fatalf("Handle() = %d %s", resp.StatusCode, resp.Body)
	}
	if got := len(sb.Messages()); got != 1 {
		t.Errorf("replies accepted by the RapidAPI provider = %d, want 1", got)
	}
	if got := countPrefix(t, h, p.index, "msg#out#"); got != 1 {
		t.Errorf("stored outbound replies = %d, want 1", got)
	}
}
