package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/coldstart"
)

// TestColdStartWithoutSecretsManager: an instance that could not read its
// keys at cold start answers 503 dependency_unavailable (not the bare 500
// of a failed init), and serves normally once Secrets Manager answers.
func TestColdStartWithoutSecretsManager(t *testing.T) {
	e := newEnv(t) // sets the function's environment
	up := os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1")
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		t.Fatalf("configFromEnv() err = %v", err)
	}
	lazy, err := coldstart.Init(func(ctx context.Context) (*Handler, error) {
		h, err := build(ctx, cfg)
		if err == nil {
			h.Log, h.MetricsOut = log, io.Discard
		}
		return h, err
	})
	if coldstart.Fatal(err) {
		t.Fatalf("coldstart.Init() err = %v, want nil or unavailable", err)
	}
	serve := coldstart.ServeAPI(log, cfg.Core, "send", lazy)
	consent := func() (int, string) {
		to := number(t)
		b, _ := json.Marshal(map[string]string{"phone": to, "purpose": "marketing", "action": "grant", "method": "web_form", "policy_version": "2026-01"})
		resp, err := serve(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/consents", Body: string(b),
			Headers:        map[string]string{"authorization": "Bearer " + e.key},
			RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "test", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.51"}}})
		if err != nil {
			t.Fatalf("handler error = %v, want a response", err)
		}
		return resp.StatusCode, resp.Body
	}
	if status, body := consent(); status != 503 || code(decode(body)) != "dependency_unavailable" {
		t.Errorf("consent with Secrets Manager down at cold start = %d %s, want 503 dependency_unavailable", status, body)
	}
	os.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", up) // t.Setenv restores it after the test too
	if status, body := consent(); status != 201 {
		t.Errorf("consent once Secrets Manager answers = %d %s, want 201", status, body)
	}
}

func decode(body string) map[string]any {
	var out map[string]any
	_ = json.Unmarshal([]byte(body), &out)
	return out
}
