package main

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestResponsesOwnTheirHeaders: concurrent invocations (Lambda's
// AWS_LAMBDA_MAX_CONCURRENCY) must not share a response's Headers map,
// or one invocation adding a header races with another's (run with
// -race). The webhook's fixed refusals were package-level responses, so
// every refusal of a kind carried the same map.
func TestResponsesOwnTheirHeaders(t *testing.T) {
	big := events.APIGatewayV2HTTPRequest{RouteKey: "POST /webhooks/meta", Body: strings.Repeat("x", 64)}
	big.RequestContext.HTTP.SourceIP = testSourceIP
	for _, tc := range []struct {
		name  string
		req   func(t *testing.T) events.APIGatewayV2HTTPRequest
		smErr error
		want  int
	}{
		{"verification failed", func(t *testing.T) events.APIGatewayV2HTTPRequest { return loadEvent(t, "verify_wrong_token.json") }, nil, 403},
		{"dependency unavailable", func(t *testing.T) events.APIGatewayV2HTTPRequest { return loadEvent(t, "verify_ok.json") }, errors.New("down"), 503},
		{"payload too large", func(*testing.T) events.APIGatewayV2HTTPRequest { return big }, nil, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.sm.err = tc.smErr
			e.h.Config.MaxBodyBytes = 16
			req := tc.req(t)
			var wg sync.WaitGroup
			resps := make([]events.APIGatewayV2HTTPResponse, 2)
			for i := range resps {
				wg.Go(func() {
					resp, _ := e.h.Handle(context.Background(), req)
					resp.Headers["X-Invocation"] = strconv.Itoa(i) // what a wrapper adding a header does
					resps[i] = resp
				})
			}
			wg.Wait()
			for i, r := range resps {
				if r.StatusCode != tc.want {
					t.Fatalf("Handle() #%d status = %d, want %d", i, r.StatusCode, tc.want)
				}
				if got := r.Headers["X-Invocation"]; got != strconv.Itoa(i) {
					t.Errorf("Handle() #%d X-Invocation = %q, want %q: the responses share a header map", i, got, strconv.Itoa(i))
				}
			}
			if reflect.ValueOf(resps[0].Headers).UnsafePointer() == reflect.ValueOf(resps[1].Headers).UnsafePointer() {
				t.Errorf("two invocations returned the same Headers map")
			}
		})
	}
}
