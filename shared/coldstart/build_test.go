package coldstart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/waguard/waguard/shared/redact"
)

// TestLazyBuildHonoursContext: a build started by an invocation runs
// under that invocation's context, so it ends at the invocation's
// deadline, and never later than BuildTimeout.
func TestLazyBuildHonoursContext(t *testing.T) {
	saw := make(chan time.Time, 1)
	l := NewLazy(func(ctx context.Context) (*int, error) {
		d, _ := ctx.Deadline()
		saw <- d
		<-ctx.Done() // a Secrets Manager that does not answer
		return nil, fmt.Errorf("index key: %w: %w", ErrUnavailable, ctx.Err())
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	start := time.Now()
	if _, err := l.Get(ctx); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get() err = %v, want ErrUnavailable and the deadline", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Get() took %v, want about the invocation's 50ms", took)
	}
	if sawDeadline := <-saw; sawDeadline.IsZero() || sawDeadline.After(deadline) {
		t.Errorf("build's deadline = %v, want the invocation's %v or earlier", sawDeadline, deadline)
	}
}

// TestLazyWaiterGivesUp: a build that ignores its context holds no lock
// that invocations queue behind: each one, the one that started it too,
// gives up at its own deadline. When the build finally succeeds, its
// handler serves without another build.
func TestLazyWaiterGivesUp(t *testing.T) {
	release := make(chan struct{})
	var builds atomic.Int32
	l := NewLazy(func(context.Context) (*int, error) {
		builds.Add(1)
		<-release // hung: ignores ctx
		v := 7
		return &v, nil
	})
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		start := time.Now()
		_, err := l.Get(ctx)
		cancel()
		if !errors.Is(err, ErrUnavailable) || time.Since(start) > time.Second {
			t.Errorf("Get() %d during a hung build = %v after %v, want ErrUnavailable at its own deadline", i, err, time.Since(start))
		}
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		h, err := l.Get(context.Background())
		if err == nil && h != nil && *h == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get() after the build returned = %v, %v; want its handler", h, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("builds = %d, want 1 (waiters share the build under way)", n)
	}
}

// TestLazyRetriesFailedBuild: a failed build is not kept; the next
// invocation builds again, and a panic in a build is an error, not a
// crash.
func TestLazyRetriesFailedBuild(t *testing.T) {
	calls := 0
	l := NewLazy(func(context.Context) (*int, error) {
		calls++
		switch calls {
		case 1:
			return nil, fmt.Errorf("pseudonym key: %w", ErrUnavailable)
		case 2:
			panic("nil client")
		}
		v := calls
		return &v, nil
	})
	ctx := context.Background()
	if _, err := l.Get(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get() 1 err = %v, want ErrUnavailable", err)
	}
	if _, err := l.Get(ctx); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("Get() 2 err = %v, want the panic as an error", err)
	}
	if h, err := l.Get(ctx); err != nil || *h != 3 {
		t.Errorf("Get() 3 = %v, %v; want the third build", h, err)
	}
}

// TestInitFatal: at cold start, an unavailable dependency leaves the
// handler to a later invocation; any other build error, and any setting
// error, is fatal: main exits (shared packages never do).
func TestInitFatal(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		fatal bool
	}{
		{"built", nil, false},
		{"secrets manager down", fmt.Errorf("index key: %w: timeout", ErrUnavailable), false},
		{"empty key", errors.New("coldstart: index or pseudonym key is empty"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Init(func(context.Context) (*int, error) {
				if tt.err != nil {
					return nil, tt.err
				}
				return new(int), nil
			})
			if l == nil || Fatal(err) != tt.fatal {
				t.Errorf("Init() = %v, %v; Fatal = %v, want %v", l, err, Fatal(err), tt.fatal)
			}
		})
	}
	_, err := ConfigFromEnv(func(k string) string {
		return map[string]string{"DATA_TABLE": "waguard-dev-data", "AUDIT_RETENTION_DAYS": "forever"}[k]
	})
	if !Fatal(err) {
		t.Errorf("ConfigFromEnv() with settings missing err = %v, want a fatal error", err)
	}
}

// TestConfigFromEnv: the settings every function shares, with one default
// each; a missing, malformed or out-of-range one is refused with an error
// naming it, never its value (before, a malformed AUDIT_RETENTION_DAYS
// silently became 2190 days here while the digester refused it).
func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{"DATA_TABLE": "waguard-dev-data", "KEYS_TABLE": "waguard-dev-keys", "AUDIT_TABLE": "waguard-dev-audit",
		"KMS_KEY_ID": "alias/waguard-dev-data", "INDEX_KEY_SECRET_ID": "waguard/dev/index-key", "PSEUDONYM_KEY_SECRET_ID": "waguard/dev/pseudonym-key"}
	tests := []struct {
		name      string
		set       map[string]string
		stage     string
		retention time.Duration
		wantErr   string
	}{
		{"defaults", nil, "", 2190 * 24 * time.Hour, ""},
		{"overrides", map[string]string{"STAGE": "prod", "AUDIT_RETENTION_DAYS": "3650"}, "prod", 3650 * 24 * time.Hour, ""},
		{"audit retention malformed", map[string]string{"AUDIT_RETENTION_DAYS": "abc"}, "", 0, "AUDIT_RETENTION_DAYS"},
		{"audit retention zero", map[string]string{"AUDIT_RETENTION_DAYS": "0"}, "", 0, "AUDIT_RETENTION_DAYS"},
		{"stage unknown", map[string]string{"STAGE": "Production"}, "", 0, "STAGE"},
		{"table name with a space", map[string]string{"DATA_TABLE": "waguard data"}, "", 0, "DATA_TABLE"},
		{"no KMS key", map[string]string{"KMS_KEY_ID": ""}, "", 0, "KMS_KEY_ID"},
		{"no index key", map[string]string{"INDEX_KEY_SECRET_ID": ""}, "", 0, "INDEX_KEY_SECRET_ID"},
		{"retention days out of range", map[string]string{"RETENTION_DAYS_METADATA": "5000"}, "", 0, "RETENTION_DAYS_METADATA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for _, m := range []map[string]string{base, tt.set} {
				for k, v := range m {
					env[k] = v
				}
			}
			got, err := ConfigFromEnv(func(k string) string { return env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ConfigFromEnv() err = %v, want one naming %s", err, tt.wantErr)
				}
				for _, v := range tt.set {
					if len(v) >= 4 && strings.Contains(err.Error(), v) {
						t.Errorf("ConfigFromEnv() err %q contains the value", err)
					}
				}
				return
			}
			if err != nil || got.Stage != tt.stage || got.AuditRetention != tt.retention || got.DataTable != "waguard-dev-data" {
				t.Errorf("ConfigFromEnv() = %+v, %v; want stage %q, audit retention %v", got, err, tt.stage, tt.retention)
			}
		})
	}
}

// deepHandler logs from a helper deep inside its handling, as a handler's
// best-effort step does.
type deepHandler struct{ log *slog.Logger }

func (h deepHandler) Handle(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	h.step(ctx)
	return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
}

func (h deepHandler) step(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Second) // a remote call's own deadline
	defer cancel()
	h.log.WarnContext(ctx, "idempotency record not released", "err", errors.New("throttled"))
}

func (h deepHandler) HandleRaw(ctx context.Context, _ json.RawMessage) (any, error) {
	h.step(ctx)
	return nil, nil
}

// TestDeepLineCarriesBothIDs: a line logged deep inside an API handler,
// under a context derived from the invocation's, carries the Lambda
// request id (requestId) and the API Gateway request id (request_id),
// whole, though the handler passed neither; for the API functions served
// with ServeAPI and with ServeMixed. A stream event's lines carry the
// Lambda id only.
func TestDeepLineCarriesBothIDs(t *testing.T) {
	const lambdaID, apiID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "JKJaX1234567vHc="
	var logs bytes.Buffer
	log := redact.NewLogger(&logs, slog.LevelInfo)
	l := NewLazy(func(context.Context) (deepHandler, error) { return deepHandler{log: log}, nil })
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: lambdaID})
	req := events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/messages", RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: apiID}}
	raw, _ := json.Marshal(req)
	type line struct {
		Level, Message, RequestID string
		APIRequestID              string `json:"request_id"`
	}
	check := func(name, wantAPI string) {
		t.Helper()
		var got line
		if err := json.Unmarshal(logs.Bytes(), &got); err != nil || got.Level != "WARN" || got.RequestID != lambdaID || got.APIRequestID != wantAPI {
			t.Errorf("%s: log = %s, want a WARN line with requestId %s and request_id %q", name, logs.String(), lambdaID, wantAPI)
		}
		logs.Reset()
	}
	if resp, err := ServeAPI(log, Config{}, "send", l)(ctx, req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("ServeAPI() = %d, %v; want 200", resp.StatusCode, err)
	}
	check("ServeAPI", apiID)
	mixed := ServeMixed(log, Config{}, "erase", l, deepHandler.HandleRaw)
	if _, err := mixed(ctx, raw); err != nil {
		t.Fatalf("ServeMixed(API request) err = %v", err)
	}
	check("ServeMixed, API request", apiID)
	if _, err := mixed(ctx, json.RawMessage(`{"Records":[{"eventName":"INSERT"}]}`)); err != nil {
		t.Fatalf("ServeMixed(stream batch) err = %v", err)
	}
	check("ServeMixed, stream batch", "")
}

// TestServeMixedUnavailable: until the handler is built, an API request is
// answered 503 dependency_unavailable with both ids logged, and any other
// event fails with the build's error.
func TestServeMixedUnavailable(t *testing.T) {
	const lambdaID, apiID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "JKJaX1234567vHc="
	var logs bytes.Buffer
	log := redact.NewLogger(&logs, slog.LevelInfo)
	l := NewLazy(func(context.Context) (deepHandler, error) {
		return deepHandler{}, fmt.Errorf("index key: %w", ErrUnavailable)
	})
	mixed := ServeMixed(log, Config{Stage: "dev"}, "erase", l, deepHandler.HandleRaw)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: lambdaID})
	raw := json.RawMessage(`{"routeKey":"POST /v1/erasure-requests","requestContext":{"requestId":"` + apiID + `"}}`)
	out, err := mixed(ctx, raw)
	resp, ok := out.(events.APIGatewayV2HTTPResponse)
	if err != nil || !ok || resp.StatusCode != 503 || !strings.Contains(resp.Body, "dependency_unavailable") {
		t.Errorf("ServeMixed(API request) = %+v, %v; want 503 dependency_unavailable", out, err)
	}
	if !strings.Contains(logs.String(), `"requestId":"`+lambdaID+`"`) || !strings.Contains(logs.String(), `"request_id":"`+apiID+`"`) {
		t.Errorf("log = %s, want both ids", logs.String())
	}
	if _, err := mixed(ctx, json.RawMessage(`{"action":"resume"}`)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("ServeMixed(schedule) err = %v, want ErrUnavailable", err)
	}
	serve := Serve(log, l, func(deepHandler, context.Context, json.RawMessage) (any, error) { return nil, nil })
	if _, err := serve(ctx, json.RawMessage(`{"action":"sweep"}`)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Serve() err = %v, want ErrUnavailable", err)
	}
}

// TestBoot: the one cold-start pattern of every main. A setting error and
// a build error no retry mends stop the process (an error for main to
// exit on), each logged once; a build that met an unavailable dependency
// leaves a Lazy a later invocation builds; a good start returns both.
func TestBoot(t *testing.T) {
	errSetting := errors.New("config: RATE_LIMIT_PER_RECIPIENT is not a whole number")
	errBroken := errors.New("coldstart: KMS_KEY_ID is not a key")
	for _, tc := range []struct {
		name              string
		loadErr, buildErr error
		wantErr           bool
		wantLazy, wantLog bool
	}{
		{name: "good", wantLazy: true},
		{name: "setting", loadErr: errSetting, wantErr: true, wantLog: true},
		{name: "build fatal", buildErr: errBroken, wantErr: true, wantLog: true},
		{name: "dependency unavailable", buildErr: fmt.Errorf("secrets: %w", ErrUnavailable), wantLazy: true, wantLog: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			builds := 0
			load := func(getenv func(string) string) (string, error) { return getenv("STAGE"), tc.loadErr }
			build := func(ctx context.Context, cfg string) (string, error) {
				builds++
				if _, ok := ctx.Deadline(); !ok {
					t.Error("the cold start's build has no deadline")
				}
				if builds == 1 && tc.buildErr != nil {
					return "", tc.buildErr
				}
				return "handler for " + cfg, nil
			}
			cfg, l, err := Boot(log, func(string) string { return "dev" }, load, build)
			if (err != nil) != tc.wantErr || (l != nil) != tc.wantLazy {
				t.Fatalf("Boot() = %q, lazy %v, %v; want error %v, lazy %v", cfg, l != nil, err, tc.wantErr, tc.wantLazy)
			}
			if got := strings.Count(logs.String(), "cold start failed"); got != map[bool]int{true: 1}[tc.wantLog] {
				t.Errorf("logged %d cold-start failures, want %v: %s", got, tc.wantLog, logs.String())
			}
			if tc.loadErr != nil && builds != 0 {
				t.Errorf("a setting error still built the handler %d times", builds)
			}
			if l != nil {
				if h, err := l.Get(context.Background()); err != nil || h != "handler for dev" {
					t.Errorf("Lazy.Get() = %q, %v; want the handler (built now if the cold start could not)", h, err)
				}
			}
		})
	}
}
