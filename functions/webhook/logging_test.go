package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/waguard/waguard/shared/redact"
)

// TestWarnLineCarriesRequestIDs makes a keyword reply fail in the middle
// of an invocation and checks that its WARN line, like the summary line,
// carries the Lambda request id (requestId) and the API Gateway request id
// (request_id), both whole, so that an operator can find the invocation
// from either. The API Gateway id holds a run of digits.
func TestWarnLineCarriesRequestIDs(t *testing.T) {
	const lambdaID, apiID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "JKJaX1234567vHc="
	h, _, st := newStackHandler(t)
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100}}`)
	}))
	t.Cleanup(meta.Close)
	setProvider(t, h, st, meta.URL)
	h.Config.Replies = map[Keyword]string{KeywordHelp: "Reply STOP to opt out."}
	var logs bytes.Buffer
	h.Log = redact.NewLogger(&logs, slog.LevelInfo)

	req := metaRequest(t, h, fillText(t, h, "help").body)
	req.RequestContext.RequestID = apiID
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: lambdaID})
	if resp, _ := h.Handle(ctx, req); resp.StatusCode != 200 {
		t.Fatalf("Handle() = %d %s, want 200", resp.StatusCode, resp.Body)
	}
	want := map[string]string{"keyword reply failed": "WARN", "invocation": "INFO"}
	sc := bufio.NewScanner(&logs)
	for sc.Scan() {
		var line struct {
			Level, Message, RequestID string
			APIRequestID              string `json:"request_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %s: %v", sc.Bytes(), err)
		}
		if line.RequestID != lambdaID {
			t.Errorf("log line %s: requestId %q, want %q", sc.Bytes(), line.RequestID, lambdaID)
		}
		if level, ok := want[line.Message]; ok && level == line.Level {
			if line.APIRequestID != apiID {
				t.Errorf("log line %s: request_id %q, want %q", sc.Bytes(), line.APIRequestID, apiID)
			}
			delete(want, line.Message)
		}
	}
	if len(want) > 0 {
		t.Errorf("logs lack %v:\n%s", want, logs.String())
	}
}
