package main

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/waguard/waguard/devstack/sandbox"
)

// TestRotateProviderRapidAPI: with the second provider configured,
// testSecret checks the staged key the RapidAPI way (X-RapidAPI-Key and
// X-RapidAPI-Host), the way send will use it; a bearer call would be
// refused by the proxy and fail the rotation.
func TestRotateProviderRapidAPI(t *testing.T) {
	e := newEnv(t)
	const host, key = "whatsapp.example.p.rapidapi.com", "rapidapi-key-next"
	sb := sandbox.New(sandbox.Options{RapidAPIHost: host, AccessTokens: []string{key}})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	t.Setenv("WHATSAPP_API_BASE_URL", srv.URL)
	t.Setenv("PROVIDER_RAPIDAPI_HOST", host)
	h, err := newHandler()
	if err != nil {
		t.Fatalf("newHandler() err = %v, want nil", err)
	}
	h.Log, h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard
	e.h = h

	arn := e.newSecret(t, "prov", map[string]any{"kind": "provider-credentials", "primary": "rapidapi-key-old", "fallback": ""})
	e.stageNext(t, arn, map[string]any{"kind": "provider-credentials", "primary": key})
	token := e.startRotation(t, arn)
	e.run(t, arn, token, steps...)
	recs := sb.Messages()
	if len(recs) == 0 || recs[0].Kind != "read" || recs[0].TokenFingerprint != sandbox.Fingerprint(key) {
		t.Errorf("calls the RapidAPI provider accepted = %+v, want testSecret's mark-as-read with the staged key", recs)
	}
}
