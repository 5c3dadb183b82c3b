package chaos

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// fakeDynamoDB answers every call with an empty GetItem result and counts
// the calls that reached it.
func fakeDynamoDB(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestThrottlerShare(t *testing.T) {
	tests := []struct {
		name          string
		share         float64
		target        string
		calls, refuse int
	}{
		{"none", 0, "DynamoDB_20120810.GetItem", 12, 0},
		{"every call", 1, "DynamoDB_20120810.PutItem", 12, 12},
		{"one in three", 1.0 / 3, "DynamoDB_20120810.TransactWriteItems", 12, 4},
		{"a quarter", 0.25, "DynamoDB_20120810.Query", 12, 3},
		{"control plane passes", 1, "DynamoDB_20120810.DescribeTable", 12, 0},
		{"other services pass", 1, "TrentService.Decrypt", 12, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up, reached := fakeDynamoDB(t)
			th, err := NewThrottler(up.URL)
			if err != nil {
				t.Fatal(err)
			}
			th.SetShare(tc.share)
			srv := httptest.NewServer(th)
			defer srv.Close()
			refused := 0
			for range tc.calls {
				req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{}`))
				req.Header.Set("X-Amz-Target", tc.target)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusBadRequest {
					refused++
					if string(body) != ThrottleBody || resp.Header.Get("X-Amz-Crc32") == "" {
						t.Errorf("refusal = %q (crc %q), want DynamoDB's throttling answer", body, resp.Header.Get("X-Amz-Crc32"))
					}
				}
			}
			if refused != tc.refuse || int(reached.Load()) != tc.calls-tc.refuse {
				t.Errorf("refused %d and forwarded %d of %d calls, want %d refused", refused, reached.Load(), tc.calls, tc.refuse)
			}
		})
	}
}

// TestThrottleIsAThrottleToTheSDK checks the AWS SDK reads the injected
// answer as DynamoDB's ProvisionedThroughputExceededException, classes it
// as a throttle, and retries it.
func TestThrottleIsAThrottleToTheSDK(t *testing.T) {
	tests := []struct {
		name        string
		share       float64
		wantErr     bool
		wantReached int32
	}{
		{"every attempt throttled", 1, true, 0},
		{"first of two throttled, the retry succeeds", 0.5, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up, reached := fakeDynamoDB(t)
			th, _ := NewThrottler(up.URL)
			th.SetShare(tc.share)
			srv := httptest.NewServer(th)
			defer srv.Close()
			db := dynamodb.New(dynamodb.Options{Region: "eu-west-2", BaseEndpoint: aws.String(srv.URL),
				Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
				Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
					o.MaxAttempts = 4
					o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				})})
			_, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"),
				Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}}})
			var pte *types.ProvisionedThroughputExceededException
			if got := errors.As(err, &pte); got != tc.wantErr {
				t.Fatalf("GetItem err = %v, want ProvisionedThroughputExceededException: %v", err, tc.wantErr)
			}
			if tc.wantErr && retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
				t.Errorf("the SDK does not class %v as a throttle", err)
			}
			calls, throttled := th.Counts()
			if tc.wantErr && calls != 4 {
				t.Errorf("the SDK made %d attempts, want 4 (it retries throttles)", calls)
			}
			if reached.Load() != tc.wantReached || calls-throttled != int(tc.wantReached) {
				t.Errorf("%d calls reached DynamoDB, want %d", reached.Load(), tc.wantReached)
			}
		})
	}
}

func TestNewThrottlerRejectsBadUpstream(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8000", "http://"} {
		if _, err := NewThrottler(u); err == nil {
			t.Errorf("NewThrottler(%q) err = nil, want an error", u)
		}
	}
}
