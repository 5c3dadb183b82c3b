package coldstart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/redact"
	"github.com/waguard/waguard/shared/summary"
)

// ErrUnavailable marks a cold-start failure caused by a dependency that
// did not answer (Secrets Manager), as opposed to a wrong setting: the
// next invocation may succeed.
var ErrUnavailable = errors.New("dependency unavailable")

// BuildTimeout bounds one build of a function's handler: at cold start,
// and under the deadline of the invocation that started it.
const BuildTimeout = 5 * time.Second

// Lazy is a function's handler, built at cold start or, when a dependency
// was unavailable then, by a later invocation. Until it is built, an API
// function answers 503 dependency_unavailable ([Unavailable]), as
// docs/api.md documents, instead of failing its init, which API Gateway
// would answer with a bare 500. It is safe for concurrent use.
//
// One build runs at a time, shared by every invocation that needs it; it
// holds no lock while it runs, so an invocation that waits for it gives up
// at its own deadline even when the build ignores its context.
type Lazy[H any] struct {
	build  func(context.Context) (H, error)
	mu     sync.Mutex
	h      H
	built  bool
	flight *flight[H] // the build under way, if any
}

// flight is one build under way; done closes when h and err are set.
type flight[H any] struct {
	done chan struct{}
	h    H
	err  error
}

// NewLazy returns a Lazy over build, which must honour its context.
func NewLazy[H any](build func(context.Context) (H, error)) *Lazy[H] {
	return &Lazy[H]{build: build}
}

// Init builds the handler at cold start, before any invocation, under a
// context bounded by [BuildTimeout]. It returns the Lazy, built or to be
// built by a later invocation, and the build's error, if any: main logs
// it and exits when [Fatal] says so.
func Init[H any](build func(context.Context) (H, error)) (*Lazy[H], error) {
	l := NewLazy(build)
	ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
	defer cancel()
	_, err := l.Get(ctx)
	return l, err
}

// Boot is every function's cold start, one pattern for all: it reads the
// function's configuration with load from getenv, then builds the handler
// with build under the cold start's context ([Init]). It logs what failed
// with log. A non-nil error means main must exit (the Lambda init fails):
// a setting is wrong, or the build failed for a reason no retry mends
// ([Fatal]); a build that met an unavailable dependency returns the Lazy
// for a later invocation to build, and no error.
func Boot[C, H any](log *slog.Logger, getenv func(string) string, load func(func(string) string) (C, error), build func(context.Context, C) (H, error)) (C, *Lazy[H], error) {
	cfg, err := load(getenv)
	if err != nil {
		log.Error("cold start failed", "err", err)
		var zero C
		return zero, nil, err
	}
	l, err := Init(func(ctx context.Context) (H, error) { return build(ctx, cfg) })
	if err != nil {
		log.Error("cold start failed", "err", err)
		if Fatal(err) {
			return cfg, nil, err
		}
	}
	return cfg, l, nil
}

// Fatal reports whether a cold start's error must stop the process (main
// exits, and the Lambda init fails): any error but one wrapping
// [ErrUnavailable], which a later invocation may outlive.
func Fatal(err error) bool { return err != nil && !errors.Is(err, ErrUnavailable) }

// Get returns the handler, building it first if no build has yet
// succeeded. A build runs under ctx, the context of the invocation that
// started it, bounded by [BuildTimeout]; an invocation that finds a build
// under way waits for its result. Either gives up when ctx ends, with an
// error wrapping [ErrUnavailable]. A failed build is retried by the next
// call.
func (l *Lazy[H]) Get(ctx context.Context) (H, error) {
	l.mu.Lock()
	if l.built {
		h := l.h
		l.mu.Unlock()
		return h, nil
	}
	f := l.flight
	if f == nil {
		f = &flight[H]{done: make(chan struct{})}
		l.flight = f
		go l.run(ctx, f)
	}
	l.mu.Unlock()
	select {
	case <-f.done:
		return f.h, f.err
	case <-ctx.Done():
		var zero H
		return zero, fmt.Errorf("coldstart: build: %w: %w", ErrUnavailable, ctx.Err())
	}
}

// run builds under ctx and publishes the result to f's waiters.
func (l *Lazy[H]) run(ctx context.Context, f *flight[H]) {
	ctx, cancel := context.WithTimeout(ctx, BuildTimeout)
	defer cancel()
	h, err := l.safeBuild(ctx)
	l.mu.Lock()
	if err == nil {
		l.h, l.built = h, true
	}
	l.flight = nil
	l.mu.Unlock()
	f.h, f.err = h, err
	close(f.done)
}

// safeBuild is build, with a panic returned as an error: the build runs
// on its own goroutine, where a panic would end the process.
func (l *Lazy[H]) safeBuild(ctx context.Context) (h H, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("coldstart: build panicked: %v", r)
		}
	}()
	return l.build(ctx)
}

// APIHandler is an API function's handler of API Gateway HTTP API events.
type APIHandler interface {
	Handle(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

// ServeAPI is the Lambda handler of the API function named function: l's
// handler once it could be built, [Unavailable] until then. The context
// it passes on carries the API Gateway request id
// ([redact.WithAPIRequestID]), so every line logged with it names the
// request as well as the invocation.
func ServeAPI[H APIHandler](log *slog.Logger, cfg Config, function string, l *Lazy[H]) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		ctx = redact.WithAPIRequestID(ctx, req.RequestContext.RequestID)
		h, err := l.Get(ctx)
		if err != nil {
			return Unavailable(ctx, log, cfg, function, err, "route", req.RouteKey, "request_id", req.RequestContext.RequestID), nil
		}
		return h.Handle(ctx, req)
	}
}

// Serve is the Lambda handler of a function without an API (retention,
// rotate): handle with l's handler once it could be built; until then the
// invocation fails with the build's error, logged, and the event source
// (the schedule, Secrets Manager's rotation) tries again.
func Serve[H, E, R any](log *slog.Logger, l *Lazy[H], handle func(H, context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, ev E) (R, error) {
		h, err := l.Get(ctx)
		if err != nil {
			log.ErrorContext(ctx, "cold start incomplete", "err", err)
			var zero R
			return zero, err
		}
		return handle(h, ctx, ev)
	}
}

// ServeMixed is the Lambda handler of a function that serves API requests
// and other events (erase, events) as raw JSON: handle with l's handler
// once it could be built. Until then an API request is answered 503
// dependency_unavailable ([Unavailable]) and any other event fails, as
// with [Serve]. An API request's context carries its API Gateway request
// id, as with [ServeAPI].
func ServeMixed[H any](log *slog.Logger, cfg Config, function string, l *Lazy[H], handle func(H, context.Context, json.RawMessage) (any, error)) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		route, requestID, api := probeAPI(raw)
		if api {
			ctx = redact.WithAPIRequestID(ctx, requestID)
		}
		h, err := l.Get(ctx)
		switch {
		case err == nil:
			return handle(h, ctx, raw)
		case api:
			return Unavailable(ctx, log, cfg, function, err, "route", route, "request_id", requestID), nil
		}
		log.ErrorContext(ctx, "cold start incomplete", "err", err)
		return nil, err
	}
}

// probeAPI tells an API Gateway HTTP API event (it has a routeKey) from
// the others, and returns its route and request id.
func probeAPI(raw json.RawMessage) (route, requestID string, ok bool) {
	if !bytes.Contains(raw, []byte(`"routeKey"`)) {
		return "", "", false // a stream batch or a schedule: not decoded twice
	}
	var probe struct {
		RouteKey       string `json:"routeKey"`
		RequestContext struct {
			RequestID string `json:"requestId"`
		} `json:"requestContext"`
	}
	if json.Unmarshal(raw, &probe) != nil || probe.RouteKey == "" {
		return "", "", false
	}
	return probe.RouteKey, probe.RequestContext.RequestID, true
}

// Unavailable is the answer to an API request that arrived while the
// handler could not be built: it logs err with attrs and ctx, the
// invocation's context, records one DependencyFailures metric for function
// (as a failed invocation does) and returns 503 dependency_unavailable.
func Unavailable(ctx context.Context, log *slog.Logger, cfg Config, function string, err error, attrs ...any) httpapi.Response {
	attrs = append(attrs, "status", 503, "cold_start", "incomplete")
	if rec, rerr := cfg.Recorder(function); rerr != nil {
		log.ErrorContext(ctx, "invocation failed", append(attrs, "err", errors.Join(err, rerr))...)
	} else {
		summary.Done(ctx, log, rec, nil, err, attrs...)
	}
	return httpapi.ErrorResponse(httpapi.Unavailable)
}
