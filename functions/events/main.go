// Command events is the waguard events Lambda, the business's door: it
// turns the audit table's stream (the outbox, written in the same
// transaction as every change) into version-1 events on the event bus and
// signed Standard Webhooks to the operator's endpoints, retries failed
// deliveries on a schedule, and serves the read API and the dead letters
// (docs/events.md).
package main

import (
	"context"
	"net/http"
	"os"

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
	cfg, h, err := coldstart.Boot(log, os.Getenv, configFromEnv, func(ctx context.Context, cfg envConfig) (*Handler, error) {
		h, err := build(ctx, cfg)
		if err == nil {
			h.Log = log
		}
		return h, err
	})
	if err != nil {
		os.Exit(1) // logged by Boot
	}
	// Until the handler is built, an API request is answered 503
	// dependency_unavailable, and a stream batch or a scheduled run fails
	// (Lambda retries the batch; the next run resumes).
	lambda.StartHandlerFunc(coldstart.ServeMixed(log, cfg.Core, "events", h, (*Handler).Handle))
}

// build builds the dependencies from cfg under ctx, the cold start's or
// that of the invocation that retries it. Tests pass SDK options.
func build(ctx context.Context, cfg envConfig, opts ...func(*config.LoadOptions) error) (*Handler, error) {
	core, clients, err := cfg.Core.Load(ctx, "events", opts...)
	if err != nil {
		return nil, err
	}
	eps, err := endpoint.NewLoader(clients.SecretsManager, cfg.EndpointSecretPrefix)
	if err != nil {
		return nil, err
	}
	auth, err := apiauth.New(core.Secrets, apiauth.Config{SecretPrefix: cfg.ClientSecretPrefix, Overlap: cfg.KeyOverlap})
	if err != nil {
		return nil, err
	}
	return &Handler{Store: core.Store, Audit: core.Audit, Metrics: core.Metrics, ContactKey: core.ContactKey, Config: cfg.Handler,
		Bus: eventbridge.NewFromConfig(clients.Config), Endpoints: eps,
		HTTP:     &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		Gate:     &apiauth.Gate{Auth: auth, Flood: core.Flood, Audit: core.Audit, Metrics: core.Metrics},
		Subjects: subject.New(core.Keys, core.Store), Keys: core.Keys}, nil
}
