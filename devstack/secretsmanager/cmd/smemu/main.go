// Command smemu runs the Secrets Manager emulator of package
// github.com/waguard/waguard/devstack/secretsmanager as a standalone HTTP
// server for local development. It listens on loopback by default and keeps
// secrets in memory only.
//
// Usage:
//
//	smemu [-addr 127.0.0.1:8002] [-region us-east-1] [-account 000000000000] [-invoke-url URL]
//
// Point an SDK at it with AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:8002.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/waguard/waguard/devstack/secretsmanager"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], logger); err != nil && !errors.Is(err, flag.ErrHelp) {
		logger.Error("smemu failed", "err", err)
		os.Exit(1)
	}
}

// run parses args, serves until ctx is done and then shuts down.
func run(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("smemu", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8002", "listen address; keep it on loopback")
	region := fs.String("region", secretsmanager.DefaultRegion, "region in secret ARNs")
	account := fs.String("account", secretsmanager.DefaultAccountID, "account ID in secret ARNs")
	invokeURL := fs.String("invoke-url", "", "URL that rotation events are POSTed to, such as a Lambda runtime interface emulator's /2015-03-31/functions/function/invocations; empty disables rotation")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	opts := secretsmanager.Options{
		Region:    *region,
		AccountID: *account,
		OnRotationFailure: func(arn, step string, err error) {
			logger.Warn("rotation step failed", "secret", arn, "step", step, "err", err)
		},
	}
	if *invokeURL != "" {
		opts.Invoker = &httpInvoker{url: *invokeURL, client: &http.Client{Timeout: 15 * time.Minute}}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		logger.Warn("listening on a non-loopback address; the emulator has no authentication", "addr", ln.Addr().String())
	}
	srv := &http.Server{Handler: secretsmanager.New(opts), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("secrets manager emulator listening", "addr", ln.Addr().String(), "region", *region)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
