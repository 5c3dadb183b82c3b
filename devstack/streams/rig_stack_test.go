package streams

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/waguard/waguard/devstack/lambdapool"
	"github.com/waguard/waguard/devstack/stacktest"
)

// These tests run the poller against the local stack's DynamoDB Local
// (a table of their own, with a stream) and moto (a queue of their own
// for the on-failure destination); the function is a fake that records
// each invocation's records by their item key and answers as told.

// rig is one test's table, stream, queue and fake function.
type rig struct {
	t         *testing.T
	ddb       *dynamodb.Client
	sqs       *sqs.Client
	opts      Options
	table     string
	streamARN string
	queueARN  string
	queueURL  string
	fn        *fakeFunction
}

func newRig(t *testing.T) *rig {
	t.Helper()
	st := stacktest.Require(t)
	for _, v := range []string{"AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "AWS_ENDPOINT_URL_SQS"} {
		if os.Getenv(v) == "" {
			t.Fatalf("%s is not set: restart the stack with the current waguard-dev", v)
		}
	}
	t.Parallel()
	cfg := st.AWS(t)
	r := &rig{t: t, ddb: dynamodb.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg), fn: &fakeFunction{}}
	var b [4]byte
	_, _ = rand.Read(b[:])
	r.table = "streams-test-" + hex.EncodeToString(b[:])
	ctx := ctxT(t)
	out, err := r.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(r.table), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewImage}})
	if err != nil {
		t.Fatalf("CreateTable() err = %v, want nil", err)
	}
	r.streamARN = aws.ToString(out.TableDescription.LatestStreamArn)
	t.Cleanup(func() {
		_, _ = r.ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(r.table)})
	})
	q, err := r.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(r.table + "-failures")})
	if err != nil {
		t.Fatalf("CreateQueue() err = %v, want nil", err)
	}
	r.queueURL = aws.ToString(q.QueueUrl)
	t.Cleanup(func() { _, _ = r.sqs.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })
	attrs, err := r.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	r.queueARN = attrs.Attributes["QueueArn"]
	r.opts = Options{Streams: dynamodbstreams.NewFromConfig(cfg), Queue: r.sqs, QueueURLs: map[string]string{r.queueARN: r.queueURL},
		Invoker: r.fn, Region: "eu-west-2", PollInterval: 50 * time.Millisecond, DiscoverInterval: 200 * time.Millisecond,
		RetryDelay: func(int) time.Duration { return 10 * time.Millisecond }}
	return r
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// mapping is the mapping under test, on the rig's stream.
func (r *rig) mapping(m Mapping) Mapping {
	m.Function, m.Event, m.FunctionARN, m.StreamARN = "TestFunction", "Changes", "arn:aws:lambda:eu-west-2:111122223333:function:test", r.streamARN
	if m.StartingPosition == "" {
		m.StartingPosition = "LATEST"
	}
	m.Enabled = true
	return m
}

// start runs the mapping until the test ends.
func (r *rig) start(m Mapping) *Poller {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, r.mapping(m), r.opts)
	if err != nil {
		cancel()
		r.t.Fatalf("Start() err = %v, want nil", err)
	}
	r.t.Cleanup(func() { cancel(); <-p.Done() })
	return p
}

// put writes items with these keys, one after another.
func (r *rig) put(keys ...string) {
	r.t.Helper()
	for _, k := range keys {
		if _, err := r.ddb.PutItem(ctxT(r.t), &dynamodb.PutItemInput{TableName: aws.String(r.table),
			Item: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: k}}}); err != nil {
			r.t.Fatalf("PutItem(%s) err = %v, want nil", k, err)
		}
	}
}

// failures receives n invocation records from the on-failure queue.
func (r *rig) failures(n int) []InvocationRecord {
	r.t.Helper()
	var out []InvocationRecord
	for deadline := time.Now().Add(20 * time.Second); len(out) < n; {
		if time.Now().After(deadline) {
			r.t.Fatalf("on-failure queue: %d records, want %d", len(out), n)
		}
		msgs, err := r.sqs.ReceiveMessage(ctxT(r.t), &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			r.t.Fatal(err)
		}
		for _, m := range msgs.Messages {
			var rec InvocationRecord
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &rec); err != nil {
				r.t.Fatalf("on-failure message is not an invocation record: %v", err)
			}
			out = append(out, rec)
		}
	}
	return out
}

// fakeFunction records invocations and answers with answer (success
// when nil).
type fakeFunction struct {
	mu     sync.Mutex
	calls  []invocation
	answer func(call int, inv invocation) ([]byte, error)
}

// invocation is one invocation: its records' item keys and sequence
// numbers, and the decoded event.
type invocation struct {
	keys, seqs []string
	event      events.DynamoDBEvent
	at         time.Time
}

func (f *fakeFunction) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	inv := invocation{at: time.Now()}
	if name != "TestFunction" {
		return nil, &lambdapool.FunctionError{Payload: []byte(`{"errorMessage":"unknown function"}`)}
	}
	if err := json.Unmarshal(payload, &inv.event); err != nil {
		return nil, &lambdapool.FunctionError{Payload: []byte(`{"errorMessage":"bad event"}`)}
	}
	for _, r := range inv.event.Records {
		inv.keys = append(inv.keys, r.Change.Keys["pk"].String())
		inv.seqs = append(inv.seqs, r.Change.SequenceNumber)
	}
	f.mu.Lock()
	call := len(f.calls)
	f.calls = append(f.calls, inv)
	answer := f.answer
	f.mu.Unlock()
	if answer == nil {
		return []byte(`{"batchItemFailures":[]}`), nil
	}
	return answer(call, inv)
}

// wait returns the invocations once there are n, failing after 20 s.
func (f *fakeFunction) wait(t *testing.T, n int) []invocation {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		f.mu.Lock()
		calls := slices.Clone(f.calls)
		f.mu.Unlock()
		if len(calls) >= n {
			return calls
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d invocations, want %d: %v", len(calls), n, keysOf(calls))
		}
	}
}

func keysOf(calls []invocation) []string {
	var out []string
	for _, c := range calls {
		out = append(out, strings.Join(c.keys, ","))
	}
	return out
}

var errFunction = &lambdapool.FunctionError{Payload: []byte(`{"errorMessage":"boom","errorType":"errorString"}`)}

// gate makes the first invocation wait until it is opened, so that the
// records written meanwhile make up the next read.
type gate chan struct{}

func (g gate) hold(call int) {
	if call == 0 {
		<-g
	}
}

func failing(seqs ...string) []byte {
	var items []string
	for _, s := range seqs {
		items = append(items, `{"itemIdentifier":"`+s+`"}`)
	}
	return []byte(`{"batchItemFailures":[` + strings.Join(items, ",") + `]}`)
}
