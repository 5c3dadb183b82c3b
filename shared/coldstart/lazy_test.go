package coldstart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/waguard/waguard/shared/redact"
)

// TestLazy builds until a build succeeds, then never again.
func TestLazy(t *testing.T) {
	builds := 0
	l := NewLazy(func(context.Context) (*int, error) {
		builds++
		if builds < 3 {
			return nil, fmt.Errorf("index key: %w: connection refused", ErrUnavailable)
		}
		v := builds
		return &v, nil
	})
	for i := range 2 {
		if h, err := l.Get(context.Background()); h != nil || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get() %d = %v, %v; want nil, ErrUnavailable", i, h, err)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if h, err := l.Get(context.Background()); err != nil || h == nil || *h != 3 {
				t.Errorf("Get() after recovery = %v, %v; want the third build", h, err)
			}
		})
	}
	wg.Wait()
	if builds != 3 {
		t.Errorf("builds = %d, want 3", builds)
	}
}

// TestUnavailable answers 503 dependency_unavailable, logs the failure
// without personal data and counts it.
func TestUnavailable(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	resp := Unavailable(context.Background(), log, Config{Stage: "dev"}, "send", fmt.Errorf("index key: %w: timeout", ErrUnavailable), "route", "POST /v1/messages")
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || resp.StatusCode != 503 || body.Error.Code != "dependency_unavailable" {
		t.Errorf("Unavailable() = %d %s, want 503 dependency_unavailable", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), "dependency unavailable") {
		t.Errorf("log = %s, want an error line naming the failure", logs.String())
	}
}

type noHandler struct{}

func (noHandler) Handle(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return events.APIGatewayV2HTTPResponse{}, errors.New("not built")
}

// TestServeAPIUnavailableLogsRequestIDs checks that the error line of a
// request answered before the handler could be built carries the Lambda
// request id and the API Gateway request id, whole.
func TestServeAPIUnavailableLogsRequestIDs(t *testing.T) {
	const lambdaID, apiID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "JKJaX1234567vHc="
	var logs bytes.Buffer
	l := NewLazy(func(context.Context) (noHandler, error) {
		return noHandler{}, fmt.Errorf("index key: %w", ErrUnavailable)
	})
	serve := ServeAPI(redact.NewLogger(&logs, slog.LevelInfo), Config{}, "send", l)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: lambdaID})
	req := events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/messages",
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: apiID}}
	if resp, _ := serve(ctx, req); resp.StatusCode != 503 {
		t.Fatalf("serve() = %d, want 503", resp.StatusCode)
	}
	var line struct {
		Level, RequestID string
		APIRequestID     string `json:"request_id"`
	}
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line.Level != "ERROR" || line.RequestID != lambdaID || line.APIRequestID != apiID {
		t.Errorf("log = %s, want an ERROR line with requestId %s and request_id %s", logs.String(), lambdaID, apiID)
	}
}
