package envelope_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/middleware"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/envelope"
)

// countRequests counts every HTTP attempt the client sends (the
// middleware sits after the retry middleware).
func countRequests(n *atomic.Int64) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("countRequests",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				n.Add(1)
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	}
}

// runID keeps subjects unique across runs on a persistent stack.
func runID() string { return rand.Text()[:10] }

func stackEnvelope(t *testing.T, st stacktest.Stack, kmsClient *kms.Client, db *dynamodb.Client) *envelope.Envelope {
	t.Helper()
	env, err := envelope.New(kmsClient, db, envelope.Config{KeyID: st.KMSKeyID, KeysTable: st.KeysTable})
	if err != nil {
		t.Fatalf("New() err = %v, want nil", err)
	}
	return env
}

// TestStackSteadyState encrypts 10,000 messages for 1,000 subjects
// against local-kms and DynamoDB Local and checks that only a handful of
// KMS requests are made, then decrypts them all in a cold instance.
func TestStackSteadyState(t *testing.T) {
	st := stacktest.Require(t)
	cfg := st.AWS(t)
	var requests atomic.Int64
	kmsClient := kms.NewFromConfig(cfg, func(o *kms.Options) { o.APIOptions = append(o.APIOptions, countRequests(&requests)) })
	db := dynamodb.NewFromConfig(cfg)
	env := stackEnvelope(t, st, kmsClient, db)

	const subjects, messages = 1000, 10_000
	run := runID()
	subject := func(i int) string { return fmt.Sprintf("it-%s-%04d", run, i%subjects) }
	ad := func(i int) envelope.AD {
		return envelope.AD{Table: st.DataTable, PK: "sub#" + subject(i), SK: fmt.Sprint("msg#out#", i), Attribute: "body"}
	}
	t.Cleanup(func() {
		for i := range subjects {
			if err := env.DeleteSubjectKey(context.Background(), subject(i)); err != nil {
				t.Errorf("cleanup DeleteSubjectKey() err = %v, want nil", err)
				return
			}
		}
	})
	cts := parallel(t, messages, func(ctx context.Context, i int) ([]byte, error) {
		return env.Encrypt(ctx, subject(i), fmt.Appendf(nil, "message %d", i), ad(i))
	})
	got := requests.Load()
	t.Logf("KMS requests for %d messages, %d subjects: %d (stats %+v)", messages, subjects, got, env.Stats())
	if got > 5 {
		t.Errorf("KMS requests = %d, want <= 5", got)
	}
	if s := env.Stats(); int64(s.KMSRequests()) != got {
		t.Errorf("Stats().KMSRequests() = %d, want %d (counted on the wire)", s.KMSRequests(), got)
	}

	cold := stackEnvelope(t, st, kmsClient, db)
	requests.Store(0)
	parallel(t, messages, func(ctx context.Context, i int) ([]byte, error) {
		pt, err := cold.Decrypt(ctx, subject(i), cts[i], ad(i))
		if err == nil && string(pt) != fmt.Sprint("message ", i) {
			err = fmt.Errorf("Decrypt(ct %d) = %q, want message %d", i, pt, i)
		}
		return pt, err
	})
	if got := requests.Load(); got > 2 {
		t.Errorf("cold instance KMS requests = %d, want <= 2", got)
	}

	if err := env.DeleteSubjectKey(t.Context(), subject(0)); err != nil {
		t.Fatalf("DeleteSubjectKey() err = %v, want nil", err)
	}
	if _, err := stackEnvelope(t, st, kmsClient, db).Decrypt(t.Context(), subject(0), cts[0], ad(0)); !errors.Is(err, envelope.ErrSubjectKeyNotFound) {
		t.Errorf("Decrypt() after DeleteSubjectKey err = %v, want ErrSubjectKeyNotFound", err)
	}
}

// parallel runs fn for 0..n-1 on a few goroutines and fails on any error.
func parallel(t *testing.T, n int, fn func(ctx context.Context, i int) ([]byte, error)) [][]byte {
	t.Helper()
	out := make([][]byte, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				out[i], errs[i] = fn(t.Context(), i)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("parallel run err = %v, want nil", err)
	}
	return out
}

// TestStackKMSDown points the KMS client at a closed loopback port:
// Encrypt must fail and write nothing to the real keys table.
func TestStackKMSDown(t *testing.T) {
	st := stacktest.Require(t)
	cfg := st.AWS(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() err = %v, want nil", err)
	}
	addr := l.Addr().String()
	l.Close()
	down := kms.NewFromConfig(cfg, func(o *kms.Options) {
		o.BaseEndpoint = aws.String("http://" + addr)
		o.RetryMaxAttempts = 1
	})
	db := dynamodb.NewFromConfig(cfg)
	subject := "it-down-" + runID()
	ad := envelope.AD{Table: st.DataTable, PK: "sub#" + subject, SK: "msg#in#1", Attribute: "body"}

	ct, err := stackEnvelope(t, st, down, db).Encrypt(t.Context(), subject, []byte("must not be stored"), ad)
	if err == nil || ct != nil {
		t.Fatalf("Encrypt() with KMS down = %x, %v; want nil, error", ct, err)
	}
	t.Logf("Encrypt() with KMS down err = %v", err)
	out, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName:      &st.KeysTable,
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "subject#" + subject}, "sk": &types.AttributeValueMemberS{Value: "key"}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem() err = %v, want nil", err)
	}
	if len(out.Item) != 0 {
		t.Errorf("subject key item written with KMS down: %d attributes, want none", len(out.Item))
	}
}
