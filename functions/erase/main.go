// Command erase is the waguard erase Lambda: the right to erasure and the
// right of access. It serves POST /v1/erasure-requests, GET
// /v1/erasure-requests/{id} and POST /v1/exports, and resumes pending
// erasures on an EventBridge schedule with the same code.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/redact"
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
// then an API request is answered 503 dependency_unavailable and a
// scheduled run fails (EventBridge's next run resumes it). An unreadable
// event is an error, logged without its content.
func handle(log *slog.Logger, h *coldstart.Lazy[*Handler]) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		ev, err := decodeEvent(raw)
		if err != nil {
			log.ErrorContext(ctx, "unreadable event", "err", err)
			return nil, err
		}
		handler, err := h.Get()
		if err == nil {
			return handler.Handle(ctx, ev)
		}
		if ev.scheduled() {
			log.ErrorContext(ctx, "cold start incomplete", "err", err)
			return nil, err
		}
		return coldstart.Unavailable(ctx, log, "erase", err, "route", ev.RouteKey, "request_id", ev.RequestContext.RequestID), nil
	}
}

// newHandler builds the dependencies once per cold start. Tests pass SDK
// options.
func newHandler(opts ...func(*config.LoadOptions) error) (*Handler, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	core, _, err := coldstart.Load(ctx, os.Getenv, "erase", opts...)
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
	h := &Handler{Gate: &apiauth.Gate{Auth: auth, Flood: core.Flood, Audit: core.Audit, Metrics: core.Metrics},
		Keys: core.Keys, Store: core.Store, Subjects: core.Subjects, ContactKey: core.ContactKey, Envelope: core.Envelope, Audit: core.Audit, Metrics: core.Metrics}
	text, tmpl := os.Getenv("ERASURE_FINAL_TEXT"), os.Getenv("ERASURE_FINAL_TEMPLATE")
	if text != "" || tmpl != "" {
		prov, err := provider.ConfigFromEnv(os.Getenv)
		if err != nil {
			return nil, err
		}
		sender, err := provider.New(core.Secrets, prov)
		if err != nil {
			return nil, err
		}
		h.Confirm = &Confirmation{Sender: core.Outbound(sender), Text: text, Template: tmpl}
	}
	return h, nil
}
