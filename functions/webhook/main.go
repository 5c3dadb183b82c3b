// Command webhook is the waguard webhook Lambda: it receives WhatsApp
// events (Meta's verification handshake and signed event deliveries).
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/shared/floodguard"
	"github.com/waguard/waguard/shared/secrets"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := newHandler(log)
	if err != nil {
		log.Error("cold start failed", "err", err)
		os.Exit(1)
	}
	lambda.StartHandlerFunc(h.Handle)
}

// newHandler builds the dependencies once per cold start.
func newHandler(log *slog.Logger) (*Handler, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	store := secrets.NewStore(secretsmanager.NewFromConfig(cfg), time.Minute)
	index, err := store.Get(ctx, os.Getenv("INDEX_KEY_SECRET_ID"), secrets.StageCurrent)
	if err != nil {
		return nil, err
	}
	guard := floodguard.New(dynamodb.NewFromConfig(cfg), floodguard.Config{
		Table: os.Getenv("DATA_TABLE"), Key: index.Get("key").Reveal(), Scope: "webhook",
	})
	return &Handler{
		Secrets: store, Flood: guard, Log: log,
		MetaSecretID: os.Getenv("META_WEBHOOK_SECRET_ID"),
	}, nil
}
