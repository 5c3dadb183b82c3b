package stacktest_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/logging"

	"github.com/waguard/waguard/devstack/stacktest"
)

// sdkWarning is what the SDK logs when a DynamoDB answer's body does not
// match its X-Amz-Crc32 header, or the header is missing.
const sdkWarning = "failed to close HTTP response body"

// recordingLogger keeps what the SDK logs.
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

// TestDynamoDBAnswersVerify: an error answer of the stack's DynamoDB (a
// missing table, a failed condition) carries a matching X-Amz-Crc32, so
// the SDK logs nothing; and nothing in the stack log so far (the stack's
// start, which provisions the tables after a DescribeTable that finds
// none, and every function's calls) logged the SDK's checksum warning.
func TestDynamoDBAnswersVerify(t *testing.T) {
	st := stacktest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	log := &recordingLogger{}
	ddb := dynamodb.NewFromConfig(st.AWS(t), func(o *dynamodb.Options) { o.Logger = log })
	var nf *ddbtypes.ResourceNotFoundException
	if _, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("waguard-no-such-table")}); !errors.As(err, &nf) {
		t.Errorf("DescribeTable(missing) err = %v, want ResourceNotFoundException", err)
	}
	_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.DataTable),
		Item: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "test#checksum"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "never"}},
		ConditionExpression: aws.String("attribute_exists(pk)")})
	var failed *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &failed) {
		t.Errorf("conditional PutItem err = %v, want ConditionalCheckFailedException", err)
	}
	if got := log.String(); got != "" {
		t.Errorf("the SDK logged %q, want nothing", got)
	}
	st.RequireLog(t)
	f, err := os.Open(st.Log)
	if err != nil {
		t.Fatalf("open the stack log: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), sdkWarning) {
			t.Errorf("stack log line %d: %.200s, want no SDK checksum warning", n, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("read the stack log: %v", err)
	}
}
