package iamguard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/logging"
)

// recordingLogger keeps what the SDK logs (its warnings, such as a body
// that failed its checksum on close).
type recordingLogger struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *recordingLogger) Logf(c logging.Classification, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.buf, "%s "+format+"\n", append([]any{c}, v...)...)
}

func (l *recordingLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestProxyChecksum: DynamoDB Local answers errors (and the target here
// every call) without the X-Amz-Crc32 header DynamoDB sends, and the
// SDK's DynamoDB client then checks the body against 0 and logs "failed
// to close HTTP response body … response did not match expected
// checksum" (aws/aws-sdk-go-v2#3545). Through the proxy, no answer — the
// target's success, its error, the proxy's own AccessDeniedException —
// may make the SDK log anything.
func TestProxyChecksum(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.DescribeTable" {
			w.WriteHeader(http.StatusBadRequest) // as DynamoDB Local answers a missing table, without X-Amz-Crc32
			_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","Message":"Cannot do operations on a non-existent table"}`)
			return
		}
		_, _ = io.WriteString(w, `{"Item":{"pk":{"S":"x"}}}`)
	}))
	defer target.Close()
	u, _ := url.Parse(target.URL)
	roles := &Roles{}
	roles.Set(map[string]Policy{"role-a": {{Actions: []string{"dynamodb:GetItem"}, Resources: []string{DefaultTablePrefix + "d"}}}})
	srv := httptest.NewServer(&Proxy{Target: u, SharedKey: "local", Roles: roles})
	defer srv.Close()
	log := &recordingLogger{}
	client := func(key string) *dynamodb.Client {
		return dynamodb.New(dynamodb.Options{Region: "eu-west-2", BaseEndpoint: aws.String(srv.URL), Logger: log,
			Credentials: credentials.NewStaticCredentialsProvider(key, "secret", ""), RetryMaxAttempts: 1})
	}
	ctx := context.Background()
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "x"}}
	if _, err := client("role-a").GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("d"), Key: key}); err != nil {
		t.Errorf("GetItem err = %v, want nil", err)
	}
	var nf *types.ResourceNotFoundException
	if _, err := client("local").DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("missing")}); !errors.As(err, &nf) {
		t.Errorf("DescribeTable(missing) err = %v, want ResourceNotFoundException", err)
	}
	if _, err := client("role-a").PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("d"), Item: key}); err == nil {
		t.Error("refused PutItem err = nil, want AccessDeniedException")
	}
	if got := log.String(); got != "" {
		t.Errorf("the SDK logged %q, want nothing", got)
	}
}
