// Command rotate is the waguard rotate Lambda: the rotation function that
// AWS Secrets Manager invokes with the createSecret, setSecret, testSecret
// and finishSecret steps for waguard's webhook, provider and API-client
// secrets. See handler.go for the event and the step semantics.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/redact"
)

func main() {
	log := redact.NewLambdaLogger()
	_, h, err := coldstart.Boot(log, os.Getenv, configFromEnv, func(ctx context.Context, cfg envConfig) (*Handler, error) {
		h, err := build(ctx, cfg)
		if err == nil {
			h.Log = log
		}
		return h, err
	})
	if err != nil {
		os.Exit(1) // logged by Boot
	}
	// Until the handler is built a step fails; Secrets Manager retries the
	// rotation.
	lambda.StartHandlerFunc(coldstart.Serve(log, h, (*Handler).Handle))
}

// build builds the dependencies from cfg under ctx, the cold start's or
// that of the invocation that retries it. Tests pass SDK options.
func build(ctx context.Context, cfg envConfig, opts ...func(*config.LoadOptions) error) (*Handler, error) {
	core, clients, err := cfg.Core.Load(ctx, "rotate", opts...)
	if err != nil {
		return nil, err
	}
	return &Handler{
		SM: clients.SecretsManager, Audit: core.Audit, Metrics: core.Metrics,
		Overlap:  cfg.Overlap,
		Provider: ProviderCheck{Config: cfg.Provider},
	}, nil
}
