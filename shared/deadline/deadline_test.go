package deadline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

func TestBudget(t *testing.T) {
	const s = time.Second
	for _, tc := range []struct {
		name                   string
		timeout, reserve, left time.Duration
		bounded                bool
		want                   time.Duration
	}{
		{"no deadline: the kind's timeout", 6 * s, 2 * s, 0, false, 6 * s},
		{"no deadline, no timeout: none", 0, 2 * s, 0, false, 0},
		{"plenty left: the kind's timeout", 6 * s, 2 * s, 60 * s, true, 6 * s},
		{"webhook's 10 s: the kind's timeout", 6 * s, 2 * s, 10 * s, true, 6 * s},
		{"less left: what is left less the reserve", 6 * s, 2 * s, 5 * s, true, 3 * s},
		{"exactly the reserve left: none", 6 * s, 2 * s, 2 * s, true, 0},
		{"inside the reserve: none", 6 * s, 2 * s, s, true, 0},
		{"past the deadline: none", 6 * s, 2 * s, -s, true, 0},
		{"no timeout of its own: what is left less the reserve", 0, 250 * time.Millisecond, 3 * s, true, 2750 * time.Millisecond},
		{"no reserve: what is left", 6 * s, 0, 4 * s, true, 4 * s},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Budget(tc.timeout, tc.reserve, tc.left, tc.bounded); got != tc.want {
				t.Errorf("Budget(%v, %v, %v, %v) = %v, want %v", tc.timeout, tc.reserve, tc.left, tc.bounded, got, tc.want)
			}
		})
	}
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds() {
		if k.Timeout() <= 0 || k.Reserve() <= 0 || k.Reserve() >= k.Timeout() || k.String() == "unknown" {
			t.Errorf("%v: timeout %v, reserve %v, want 0 < reserve < timeout and a name", k, k.Timeout(), k.Reserve())
		}
	}
	if k := Kind(200); k.Timeout() != 0 || k.Reserve() != 0 {
		t.Errorf("Kind(200) = %v/%v, want Unknown's 0/0", k.Timeout(), k.Reserve())
	}
	// The provider's reserve covers recording the outcome: one DynamoDB
	// call within its own reserve.
	if Provider.Reserve() <= DynamoDB.Reserve() {
		t.Errorf("Provider.Reserve() = %v, want more than DynamoDB.Reserve() %v", Provider.Reserve(), DynamoDB.Reserve())
	}
}

// left is how long ctx has until its deadline, or -1 without one.
func left(ctx context.Context) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return -1
	}
	return time.Until(dl)
}

func TestFor(t *testing.T) {
	t.Run("no deadline", func(t *testing.T) {
		ctx, cancel := For(context.Background(), Provider)
		defer cancel()
		if l := left(ctx); l <= 5*time.Second || l > Provider.Timeout() {
			t.Errorf("For(no deadline, Provider) leaves %v, want about %v", l, Provider.Timeout())
		}
		if k, ok := Bound(ctx); !ok || k != Provider {
			t.Errorf("Bound() = %v, %v, want Provider, true", k, ok)
		}
	})
	t.Run("deadline near", func(t *testing.T) {
		parent, pcancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer pcancel()
		ctx, cancel := For(parent, Provider)
		defer cancel()
		if l := left(ctx); l <= 900*time.Millisecond || l > time.Second {
			t.Errorf("For(3s left, Provider) leaves %v, want about 1s (3s less the 2s reserve)", l)
		}
	})
	t.Run("inside the reserve", func(t *testing.T) {
		parent, pcancel := context.WithTimeout(context.Background(), time.Second)
		defer pcancel()
		ctx, cancel := For(parent, Provider)
		defer cancel()
		if ctx.Err() == nil {
			<-time.After(10 * time.Millisecond)
		}
		if ctx.Err() == nil {
			t.Errorf("For(1s left, Provider).Err() = nil, want an expired context (inside the 2s reserve)")
		}
		if parent.Err() != nil {
			t.Errorf("parent.Err() = %v, want nil: the invocation keeps its reserve", parent.Err())
		}
	})
	t.Run("Unknown without deadline", func(t *testing.T) {
		ctx, cancel := For(context.Background(), Unknown)
		defer cancel()
		if l := left(ctx); l != -1 {
			t.Errorf("For(no deadline, Unknown) has a deadline in %v, want none", l)
		}
	})
	t.Run("Within", func(t *testing.T) {
		ctx, cancel := Within(context.Background(), Endpoint, 200*time.Millisecond)
		defer cancel()
		if l := left(ctx); l <= 0 || l > 200*time.Millisecond {
			t.Errorf("Within(200ms) leaves %v, want at most 200ms", l)
		}
	})
}

func TestKindOf(t *testing.T) {
	for id, want := range map[string]Kind{
		dynamodb.ServiceID: DynamoDB, "KMS": KMS, "Secrets Manager": SecretsManager, "EventBridge": EventBridge, "S3": Unknown,
	} {
		if got := KindOf(id); got != want {
			t.Errorf("KindOf(%q) = %v, want %v", id, got, want)
		}
	}
}

// TestAWS: an SDK client built with [AWS] gives up on a hung DynamoDB
// call with the DynamoDB reserve still left in the invocation; without
// it the call runs into the invocation's deadline.
func TestAWS(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	invocation := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 1500*time.Millisecond)
	}
	bounded := func() (context.Context, context.CancelFunc) { // already bounded for DynamoDB: left alone
		return Within(context.Background(), DynamoDB, 1500*time.Millisecond)
	}
	for _, tc := range []struct {
		name     string
		opts     []func(*middleware.Stack) error
		ctx      func() (context.Context, context.CancelFunc)
		wantLeft bool
	}{
		{"with AWS", []func(*middleware.Stack) error{AWS}, invocation, true},
		{"without", nil, invocation, false},
		{"with AWS, bounded by Within", []func(*middleware.Stack) error{AWS}, bounded, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := aws.Config{Region: "eu-west-1", Credentials: aws.AnonymousCredentials{}, APIOptions: tc.opts, RetryMaxAttempts: 1}
			db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(srv.URL) })
			ctx, cancel := tc.ctx()
			defer cancel()
			_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"),
				Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}}})
			l := left(ctx)
			if err == nil {
				t.Fatal("GetItem() err = nil, want a timeout")
			}
			if got := l >= DynamoDB.Reserve()/2; got != tc.wantLeft {
				t.Errorf("GetItem() returned with %v left, want the reserve (%v) left: %v", l, DynamoDB.Reserve(), tc.wantLeft)
			}
		})
	}
}
