// Command webhook is the waguard webhook Lambda: it receives WhatsApp
// events (Meta's verification handshake, Meta's signed deliveries and the
// timestamped HMAC scheme), verifies them, and stores them encrypted.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/idempotency"
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
	lambda.StartHandlerFunc(coldstart.ServeAPI(log, cfg.Core, "webhook", h))
}

// build builds the dependencies from cfg under ctx, the cold start's or
// that of the invocation that retries it. Tests pass SDK options (a
// call-counting middleware).
func build(ctx context.Context, cfg Config, opts ...func(*config.LoadOptions) error) (*Handler, error) {
	core, clients, err := cfg.Core.Load(ctx, "webhook", opts...)
	if err != nil {
		return nil, err
	}
	h := &Handler{Secrets: core.Secrets, Flood: core.Flood, Keys: core.Keys, Store: core.Store, Subjects: subject.New(core.Keys, core.Store),
		Audit: core.Audit, Metrics: core.Metrics, Config: cfg}
	// The same keyed store as send's, to complete the key of a send whose
	// outcome only Meta's status told.
	if h.Idempotency, err = idempotency.New(clients.DynamoDB, idempotency.Config{Table: cfg.Core.DataTable, Key: core.IdempotencyKey}); err != nil {
		return nil, err
	}
	var prov *provider.Sender
	if len(cfg.Replies) > 0 {
		if prov, err = provider.New(core.Secrets, cfg.Provider); err != nil {
			return nil, err
		}
	}
	h.Outbound = core.Outbound(prov)
	return h, nil
}
