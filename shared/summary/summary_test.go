package summary

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/redact"
)

// requestID is a Lambda request id.
const requestID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"

func TestDone(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantLevel string
		wantDep   bool
	}{
		{"success", nil, `"level":"INFO"`, false},
		{"dependency failure", errors.New("dynamodb unreachable"), `"level":"ERROR"`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs, emf bytes.Buffer
			rec, err := metrics.NewRecorder("test")
			if err != nil {
				t.Fatal(err)
			}
			rec.Add(metrics.MessagesSent, 1)
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: requestID})
			Done(ctx, redact.NewLogger(&logs, slog.LevelInfo), rec, &emf, tc.err, "route", "POST /v1/messages", "status", 202)
			if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), tc.wantLevel) ||
				!strings.Contains(logs.String(), `"route":"POST /v1/messages"`) ||
				!strings.Contains(logs.String(), `"requestId":"`+requestID+`"`) {
				t.Errorf("log = %q, want one %s line with the route and the Lambda request id", logs.String(), tc.wantLevel)
			}
			if !strings.Contains(emf.String(), `"MessagesSent":1`) || strings.Contains(emf.String(), "DependencyFailures") != tc.wantDep {
				t.Errorf("EMF = %q, want MessagesSent and DependencyFailures %v", emf.String(), tc.wantDep)
			}
		})
	}
}
