// Command send is the waguard send Lambda: the authenticated API through
// which internal callers send WhatsApp messages and record consent. It
// enforces validation, suppression, consent, the service window and rate
// limits before any provider call.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/idempotency"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/ratelimit"
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
	lambda.StartHandlerFunc(coldstart.ServeAPI(log, cfg.Core, "send", h))
}

// build builds the dependencies from cfg under ctx, the cold start's or
// that of the invocation that retries it. Tests pass SDK options (a
// call-counting middleware).
func build(ctx context.Context, cfg Config, opts ...func(*config.LoadOptions) error) (*Handler, error) {
	core, clients, err := cfg.Core.Load(ctx, "send", opts...)
	if err != nil {
		return nil, err
	}
	ddb := clients.DynamoDB
	h := &Handler{Keys: core.Keys, Store: core.Store, Subjects: subject.New(core.Keys, core.Store), Audit: core.Audit, Metrics: core.Metrics, Config: cfg}
	auth, err := apiauth.New(core.Secrets, apiauth.Config{SecretPrefix: cfg.ClientSecretPrefix, Overlap: cfg.KeyOverlap})
	if err != nil {
		return nil, err
	}
	h.Gate = &apiauth.Gate{Auth: auth, Flood: core.Flood, Audit: core.Audit, Metrics: core.Metrics}
	idem, err := idempotency.New(ddb, idempotency.Config{Table: cfg.Core.DataTable, Key: core.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	h.Idempotency = idempotencyKeys{idem}
	if h.Limits, err = ratelimit.New(ddb, ratelimit.Config{Table: cfg.Core.DataTable, Scope: "send"}); err != nil {
		return nil, err
	}
	prov, err := provider.New(core.Secrets, cfg.Provider)
	h.Outbound = core.Outbound(prov)
	return h, err
}
