package redact

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// TestAPIRequestID: a context carrying an API Gateway request id gives
// every line logged with it (or a context derived from it) request_id,
// once, next to the Lambda requestId; a line that sets request_id itself
// keeps its own; a value that is no id is scanned like any other.
func TestAPIRequestID(t *testing.T) {
	const lambdaID, apiID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "JKJaX1234567vHc="
	var logs bytes.Buffer
	log := NewLogger(&logs, slog.LevelInfo)
	base := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: lambdaID})
	ctx, cancel := context.WithCancel(WithAPIRequestID(base, apiID))
	defer cancel()
	tests := []struct {
		name string
		log  func()
		want []string
		not  []string
	}{
		{"derived context", func() { log.WarnContext(ctx, "step failed") },
			[]string{`"requestId":"` + lambdaID + `"`, `"request_id":"` + apiID + `"`}, nil},
		{"set by the line", func() { log.InfoContext(ctx, "invocation", "request_id", apiID) },
			[]string{`"request_id":"` + apiID + `"`}, nil},
		{"no API request", func() { log.InfoContext(base, "invocation") },
			[]string{`"requestId":"` + lambdaID + `"`}, []string{"request_id"}},
		{"empty id", func() { log.InfoContext(WithAPIRequestID(base, ""), "invocation") }, nil, []string{"request_id"}},
		{"not an id", func() { log.InfoContext(WithAPIRequestID(base, "+44 7700 900123"), "invocation") },
			[]string{`"request_id":"[phone]"`}, []string{"7700"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			tt.log()
			line := logs.String()
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("log = %s, want %s", line, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(line, n) {
					t.Errorf("log = %s, want no %s", line, n)
				}
			}
			if strings.Count(line, `"request_id"`) > 1 {
				t.Errorf("log = %s, want request_id once", line)
			}
		})
	}
}
