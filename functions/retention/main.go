// Command retention is the waguard retention Lambda: on a daily schedule
// it deletes what DynamoDB's TTL has not yet removed (storage limitation,
// GDPR Art. 5(1)(e)) and signs the audit trail's daily digest.
package main

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/coldstart"
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
	core, clients, err := coldstart.Load(ctx, os.Getenv, "retention", opts...)
	if err != nil {
		return nil, err
	}
	days, _ := strconv.Atoi(os.Getenv("AUDIT_RETENTION_DAYS"))
	digester, err := audit.NewDigester(clients.DynamoDB, clients.KMS, audit.DigesterConfig{Table: os.Getenv("AUDIT_TABLE"),
		KeyID: os.Getenv("AUDIT_SIGNING_KEY_ID"), Retention: time.Duration(max(days, 1)) * 24 * time.Hour})
	if err != nil {
		return nil, err
	}
	return &Handler{Store: core.Store, Policy: core.Policy, Audit: core.Audit, Digester: digester, Metrics: core.Metrics,
		Cursor: "retention", Lookback: 30 * 24 * time.Hour}, nil
}
