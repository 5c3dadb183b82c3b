// Command events is the waguard events Lambda, the business's door: it
// turns the audit table's stream (the outbox, written in the same
// transaction as every change) into version-1 events on the event bus and
// signed Standard Webhooks to the operator's endpoints, retries failed
// deliveries on a schedule, and serves the read API and the dead letters
// (docs/events.md).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/endpoint"
	"github.com/waguard/waguard/shared/redact"
	"github.com/waguard/waguard/shared/subject"
)

func main() {
	log := redact.NewLambdaLogger()
	h := coldstart.Init(log, func() (*Handler, error) {
		h, err := newHandler()
		if err == nil {
			h.Log = log
		}
		return h, err
	})
	lambda.StartHandlerFunc(handle(log, h))
}

// handle serves events with the handler once it could be built. Until
// then an API request is answered 503 dependency_unavailable, and a stream
// batch or a scheduled run fails (Lambda retries the batch; the next run
// resumes).
func handle(log *slog.Logger, h *coldstart.Lazy[*Handler]) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		handler, err := h.Get()
		if err == nil {
			return handler.Handle(ctx, raw)
		}
		var probe struct {
			RouteKey       string `json:"routeKey"`
			RequestContext struct {
				RequestID string `json:"requestId"`
			} `json:"requestContext"`
		}
		if json.Unmarshal(raw, &probe) != nil || probe.RouteKey == "" {
			log.ErrorContext(ctx, "cold start incomplete", "err", err)
			return nil, err
		}
		return coldstart.Unavailable(ctx, log, "events", err, "route", probe.RouteKey, "request_id", probe.RequestContext.RequestID), nil
	}
}

// newHandler builds the dependencies once per cold start. Tests pass SDK
// options.
func newHandler(opts ...func(*config.LoadOptions) error) (*Handler, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	core, clients, err := coldstart.Load(ctx, os.Getenv, "events", opts...)
	if err != nil {
		return nil, err
	}
	cfg := Config{BusName: os.Getenv("EVENT_BUS_NAME")}
	if cfg.BusName == "" {
		return nil, errors.New("config: EVENT_BUS_NAME is required")
	}
	eps, err := endpoint.NewLoader(clients.SecretsManager, os.Getenv("ENDPOINT_SECRET_PREFIX"))
	if err != nil {
		return nil, err
	}
	overlap, err := apiauth.OverlapFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	auth, err := apiauth.New(core.Secrets, apiauth.Config{SecretPrefix: os.Getenv("CLIENT_SECRET_PREFIX"), Overlap: overlap})
	if err != nil {
		return nil, err
	}
	return &Handler{Store: core.Store, Audit: core.Audit, Metrics: core.Metrics, ContactKey: core.ContactKey, Config: cfg,
		Bus: eventbridge.NewFromConfig(clients.Config), Endpoints: eps,
		HTTP:     &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		Gate:     &apiauth.Gate{Auth: auth, Flood: core.Flood, Audit: core.Audit, Metrics: core.Metrics},
		Subjects: subject.New(core.Keys, core.Store), Keys: core.Keys}, nil
}
