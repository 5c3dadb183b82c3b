// Command retention is the waguard retention Lambda: on a daily schedule
// it deletes what DynamoDB's TTL has not yet removed (storage limitation,
// GDPR Art. 5(1)(e)) and signs the audit trail's daily digest.
package main

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
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
	dc, err := digesterConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	h := &Handler{Store: core.Store, Policy: core.Policy, Audit: core.Audit, Metrics: core.Metrics,
		Cursor: "retention", Lookback: 30 * 24 * time.Hour}
	dc.Now = h.now // one clock: a test that sets h.Now moves the digest's too
	if h.Digester, err = audit.NewDigester(clients.DynamoDB, clients.KMS, dc); err != nil {
		return nil, err
	}
	return h, nil
}

// digesterConfig reads the digester's settings. Digests keep the events'
// retention, AUDIT_RETENTION_DAYS (2190 unset, as for the events): a
// digest that expired before its events would leave a day unsealed.
func digesterConfig(getenv func(string) string) (audit.DigesterConfig, error) {
	c := audit.DigesterConfig{Table: getenv("AUDIT_TABLE"), KeyID: getenv("AUDIT_SIGNING_KEY_ID"), Retention: 2190 * 24 * time.Hour}
	if v := strings.TrimSpace(getenv("AUDIT_RETENTION_DAYS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return c, errors.New("config: AUDIT_RETENTION_DAYS is not a positive integer")
		}
		c.Retention = time.Duration(n) * 24 * time.Hour
	}
	return c, nil
}
