// Command rotate is the waguard rotate Lambda: the rotation function that
// AWS Secrets Manager invokes with the createSecret, setSecret, testSecret
// and finishSecret steps for waguard's webhook, provider and API-client
// secrets. See handler.go for the event and the step semantics.
package main

import (
	"context"
	"os"
	"time"

	"github.com/waguard/waguard/shared/apiauth"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/redact"
)

func main() {
	log := redact.NewLambdaLogger()
	h, err := newHandler()
	if err != nil {
		log.Error("cold start failed", "err", err)
		os.Exit(1)
	}
	h.Log = log
	lambda.StartHandlerFunc(h.Handle)
}

// newHandler builds the dependencies once per cold start. Tests pass SDK
// options.
func newHandler(opts ...func(*config.LoadOptions) error) (*Handler, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	core, clients, err := coldstart.Load(ctx, os.Getenv, "rotate", opts...)
	if err != nil {
		return nil, err
	}
	prov, err := provider.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	overlap, err := apiauth.OverlapFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	return &Handler{
		SM: clients.SecretsManager, Audit: core.Audit, Metrics: core.Metrics,
		Overlap:  overlap,
		Provider: ProviderCheck{Config: prov},
	}, nil
}
