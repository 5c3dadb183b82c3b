package coldstart

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/summary"
)

// ErrUnavailable marks a cold-start failure caused by a dependency that
// did not answer (Secrets Manager), as opposed to a missing setting: the
// next invocation may succeed.
var ErrUnavailable = errors.New("dependency unavailable")

// Lazy is a function's handler, built at cold start or, when a dependency
// was unavailable then, by a later invocation. Until it is built, an API
// function answers 503 dependency_unavailable ([Unavailable]), as
// docs/api.md documents, instead of failing its init, which API Gateway
// would answer with a bare 500. It is safe for concurrent use.
type Lazy[H any] struct {
	build func() (H, error)
	mu    sync.Mutex
	h     H
	built bool
}

// NewLazy returns a Lazy over build; call [Lazy.Get] once at cold start.
func NewLazy[H any](build func() (H, error)) *Lazy[H] {
	return &Lazy[H]{build: build}
}

// Init builds the handler at cold start with build. It exits the process
// (failing the Lambda init) when build fails for any reason other than an
// unavailable dependency; otherwise it returns the Lazy, built or to be
// built by a later invocation.
func Init[H any](log *slog.Logger, build func() (H, error)) *Lazy[H] {
	l := NewLazy(build)
	if _, err := l.Get(); err != nil {
		log.Error("cold start failed", "err", err)
		if !errors.Is(err, ErrUnavailable) {
			os.Exit(1) // a setting is wrong
		}
	}
	return l
}

// Get returns the handler, building it first if no call has yet
// succeeded. Builds do not overlap.
func (l *Lazy[H]) Get() (H, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.built {
		return l.h, nil
	}
	h, err := l.build()
	if err != nil {
		var zero H
		return zero, err
	}
	l.h, l.built = h, true
	return h, nil
}

// APIHandler is an API function's handler of API Gateway HTTP API events.
type APIHandler interface {
	Handle(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

// ServeAPI is the Lambda handler of the API function named function: l's
// handler once it could be built, [Unavailable] until then.
func ServeAPI[H APIHandler](log *slog.Logger, function string, l *Lazy[H]) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		h, err := l.Get()
		if err != nil {
			return Unavailable(ctx, log, function, err, "route", req.RouteKey, "request_id", req.RequestContext.RequestID), nil
		}
		return h.Handle(ctx, req)
	}
}

// Unavailable is the answer to an API request that arrived while the
// handler could not be built: it logs err with attrs and ctx, the
// invocation's context, records one DependencyFailures metric for function
// (as a failed invocation does) and returns 503 dependency_unavailable.
func Unavailable(ctx context.Context, log *slog.Logger, function string, err error, attrs ...any) httpapi.Response {
	attrs = append(attrs, "status", 503, "cold_start", "incomplete")
	if rec, rerr := newRecorder(os.Getenv, function); rerr != nil {
		log.ErrorContext(ctx, "invocation failed", append(attrs, "err", errors.Join(err, rerr))...)
	} else {
		summary.Done(ctx, log, rec, nil, err, attrs...)
	}
	return httpapi.ErrorResponse(httpapi.Unavailable)
}
