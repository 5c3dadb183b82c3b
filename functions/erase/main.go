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

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/redact"
	"github.com/waguard/waguard/shared/subject"
)

func main() {
	log := redact.NewLambdaLogger()
	cfg, h, err := coldstart.Boot(log, os.Getenv, configFromEnv, func(ctx context.Context, cfg Config) (*Handler, error) {
		h, err := build(ctx, cfg)
		if err == nil {
			h.Log = log
		}
		return h, err
	})
	if err != nil {
		os.Exit(1) // logged by Boot
	}
	lambda.StartHandlerFunc(handle(log, cfg.Core, h))
}

// handle serves events with the handler once it could be built. Until
// then an API request is answered 503 dependency_unavailable and a
// scheduled run fails (EventBridge's next run resumes it). An unreadable
// event is an error, logged without its content, before anything else.
func handle(log *slog.Logger, core coldstart.Config, h *coldstart.Lazy[*Handler]) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		ev, err := decodeEvent(raw)
		if err != nil {
			log.ErrorContext(ctx, "unreadable event", "err", err)
			return nil, err
		}
		serve := coldstart.ServeMixed(log, core, "erase", h, func(h *Handler, ctx context.Context, _ json.RawMessage) (any, error) {
			return h.Handle(ctx, ev)
		})
		return serve(ctx, raw)
	}
}

// build builds the dependencies from cfg under ctx, the cold start's or
// that of the invocation that retries it. Tests pass SDK options.
func build(ctx context.Context, cfg Config, opts ...func(*config.LoadOptions) error) (*Handler, error) {
	core, _, err := cfg.Core.Load(ctx, "erase", opts...)
	if err != nil {
		return nil, err
	}
	auth, err := apiauth.New(core.Secrets, apiauth.Config{SecretPrefix: cfg.ClientSecretPrefix, Overlap: cfg.KeyOverlap})
	if err != nil {
		return nil, err
	}
	h := &Handler{Gate: &apiauth.Gate{Auth: auth, Flood: core.Flood, Audit: core.Audit, Metrics: core.Metrics},
		Keys: core.Keys, Store: core.Store, Subjects: subject.New(core.Keys, core.Store), ContactKey: core.ContactKey, Envelope: core.Envelope, Audit: core.Audit, Metrics: core.Metrics}
	if cfg.confirms() {
		sender, err := provider.New(core.Secrets, cfg.Provider)
		if err != nil {
			return nil, err
		}
		h.Confirm = &Confirmation{Sender: core.Outbound(sender), Text: cfg.FinalText, Template: cfg.FinalTemplate}
	}
	return h, nil
}
