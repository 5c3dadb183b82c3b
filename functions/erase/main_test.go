package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/waguard/waguard/shared/coldstart"
)

// TestHandleUnreadableEvent: the Lambda entry point refuses an unreadable
// payload with an error it logs without the payload, before anything
// else, whether or not the handler could be built.
func TestHandleUnreadableEvent(t *testing.T) {
	fx := newFixture(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	built := 0
	serve := handle(log, coldstart.Config{}, coldstart.NewLazy(func(context.Context) (*Handler, error) { built++; return fx.h, nil }))
	_, err := serve(context.Background(), json.RawMessage(`{"routeKey":"POST /v1/exports","isBase64Encoded":14155550123}`))
	if !errors.Is(err, errUnreadableEvent) {
		t.Fatalf("handle(unreadable) err = %v, want errUnreadableEvent", err)
	}
	if !strings.Contains(logs.String(), "unreadable event") || strings.Contains(logs.String(), "4155550123") {
		t.Errorf("log = %s, want one unreadable event line without the payload", logs.String())
	}
	if built != 0 || len(fx.gate.log) != 0 {
		t.Errorf("handle(unreadable) built the handler %d times and called the gate %d times, want neither", built, len(fx.gate.log))
	}
}

// TestHandleColdStart: until the handler can be built, an API request
// answers 503 dependency_unavailable and a scheduled run fails; once built,
// both are served.
func TestHandleColdStart(t *testing.T) {
	fx := newFixture(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	down := true
	serve := handle(log, coldstart.Config{}, coldstart.NewLazy(func(context.Context) (*Handler, error) {
		if down {
			return nil, coldstart.ErrUnavailable
		}
		return fx.h, nil
	}))
	api, _ := json.Marshal(events.APIGatewayV2HTTPRequest{RouteKey: "GET /v1/erasure-requests/{id}", PathParameters: map[string]string{"id": "er_X"},
		Headers: map[string]string{"authorization": "Bearer ops"}})
	schedule := json.RawMessage(`{"action":"resume_pending_erasures"}`)

	out, err := serve(context.Background(), api)
	if resp, ok := out.(events.APIGatewayV2HTTPResponse); err != nil || !ok || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("API request before the build = %v, %v; want 503", out, err)
	}
	if _, err := serve(context.Background(), schedule); !errors.Is(err, coldstart.ErrUnavailable) {
		t.Errorf("scheduled run before the build err = %v, want the build's error", err)
	}
	down = false
	out, err = serve(context.Background(), api)
	if resp, ok := out.(events.APIGatewayV2HTTPResponse); err != nil || !ok || resp.StatusCode != http.StatusNotFound {
		t.Errorf("API request once built = %v, %v; want the handler's 404 for an unknown request", out, err)
	}
	if out, err := serve(context.Background(), schedule); err != nil || out == nil {
		t.Errorf("scheduled run once built = %v, %v; want served", out, err)
	}
}
