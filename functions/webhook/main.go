// Command webhook is the waguard webhook Lambda: it receives WhatsApp
// events (Meta's verification handshake, Meta's signed deliveries and the
// timestamped HMAC scheme), verifies them, and stores them encrypted.
package main

import (
	"context"
	"os"
	"time"

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
	h := coldstart.Init(log, func() (*Handler, error) {
		h, err := newHandler()
		if err == nil {
			h.Log = log
		}
		return h, err
	})
	lambda.StartHandlerFunc(coldstart.ServeAPI(log, "webhook", h))
}

// newHandler builds the dependencies once per cold start, under a bounded
// context. Tests pass SDK options (a call-counting middleware).
func newHandler(opts ...func(*config.LoadOptions) error) (*Handler, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	core, clients, err := coldstart.Load(ctx, os.Getenv, "webhook", opts...)
	if err != nil {
		return nil, err
	}
	h := &Handler{Secrets: core.Secrets, Flood: core.Flood, Keys: core.Keys, Store: core.Store, Subjects: subject.New(core.Keys, core.Store),
		Audit: core.Audit, Metrics: core.Metrics, Config: cfg}
	// The same keyed store as send's, to complete the key of a send whose
	// outcome only Meta's status told.
	if h.Idempotency, err = idempotency.New(clients.DynamoDB, idempotency.Config{Table: os.Getenv("DATA_TABLE"), Key: core.IdempotencyKey}); err != nil {
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
