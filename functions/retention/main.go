// Command retention is the waguard retention Lambda: on a daily schedule
// it deletes what DynamoDB's TTL has not yet removed (storage limitation,
// GDPR Art. 5(1)(e)) and signs the audit trail's daily digest.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/waguard/waguard/shared/audit"
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
	// Until the handler is built a run fails; the next scheduled run
	// resumes.
	lambda.StartHandlerFunc(coldstart.Serve(log, h, (*Handler).Handle))
}

// build builds the dependencies from cfg under ctx, the cold start's or
// that of the invocation that retries it. Tests pass SDK options.
func build(ctx context.Context, cfg envConfig, opts ...func(*config.LoadOptions) error) (*Handler, error) {
	core, clients, err := cfg.Core.Load(ctx, "retention", opts...)
	if err != nil {
		return nil, err
	}
	h := &Handler{Store: core.Store, Policy: core.Policy, Audit: core.Audit, Metrics: core.Metrics,
		Cursor: "retention", Lookback: 30 * 24 * time.Hour}
	dc := cfg.Digester
	dc.Now = h.now // one clock: a test that sets h.Now moves the digest's too
	if h.Digester, err = audit.NewDigester(clients.DynamoDB, clients.KMS, dc); err != nil {
		return nil, err
	}
	return h, nil
}
