package apiauth

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/floodguard"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/metrics"
)

// Gate is what every authenticated route does first: refuse a source that
// failed more than the flood limit this minute (before any key work),
// authenticate the bearer key, count and audit a failure once per source
// and minute, and check the route's scope.
type Gate struct {
	Auth    *Authenticator
	Flood   *floodguard.Guard
	Audit   *audit.Writer
	Metrics *metrics.Recorder
}

// The refusals a Gate answers with.
var (
	errUnauthenticated = &httpapi.Problem{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "a valid API key is required"}
	errScope           = &httpapi.Problem{Status: http.StatusForbidden, Code: "insufficient_scope", Message: "the API key does not allow this operation"}
)

// Check authenticates req for scope. It returns a *httpapi.Problem for a
// refusal (429, 401, 403) and any other error when a dependency failed
// (the caller answers 503).
func (g *Gate) Check(ctx context.Context, req events.APIGatewayV2HTTPRequest, scope Scope) (Principal, error) {
	ip := req.RequestContext.HTTP.SourceIP
	blocked, retry, err := g.Flood.Blocked(ctx, ip)
	if err != nil {
		return Principal{}, err
	}
	if blocked {
		return Principal{}, &httpapi.Problem{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Message: "too many failed requests from this source", RetryAfter: retry}
	}
	p, err := g.Auth.Authenticate(ctx, req.Headers["authorization"])
	if errors.Is(err, ErrUnauthenticated) {
		return p, g.failed(ctx, req, ip)
	}
	if err != nil {
		return p, err
	}
	if !p.Can(scope) {
		return p, errScope
	}
	return p, nil
}

func (g *Gate) failed(ctx context.Context, req events.APIGatewayV2HTTPRequest, ip string) error {
	g.Metrics.Add(metrics.AuthFailures, 1)
	n, err := g.Flood.RecordFailure(ctx, ip)
	if err != nil {
		return err
	}
	if g.Flood.Audited(n) {
		if _, err := g.Audit.Append(ctx, audit.Event{Type: audit.EventAuthFailed, Actor: audit.Actor{Caller: "unknown"},
			RequestID: req.RequestContext.RequestID, Details: map[string]string{"route": req.RouteKey,
				"source": g.Flood.Source(ip), "failures_this_minute": strconv.Itoa(n)}}); err != nil {
			return err
		}
	}
	return errUnauthenticated
}
