// Command wasandbox serves the WhatsApp Cloud API sandbox of package
// github.com/waguard/waguard/devstack/sandbox on a loopback address, for
// the local development stack. It refuses non-loopback addresses.
//
// Usage:
//
//	wasandbox -addr 127.0.0.1:8003 -webhook-url http://127.0.0.1:3000/webhooks/meta \
//	    -token dev-token -app-secret dev-secret -phone-number-id 100000000000001
//
// The token and app secret can instead come from WASANDBOX_TOKEN and
// WASANDBOX_APP_SECRET, keeping them out of the process list, and can be
// replaced at run time with PUT /_sandbox/credentials. The receiving
// endpoint (POST /_sandbox/endpoint) verifies deliveries with the whsec_
// secret in WASANDBOX_ENDPOINT_SECRET, or those set the same way.
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

	"github.com/waguard/waguard/devstack/sandbox"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(log, os.Args[1:]); err != nil {
		log.Error("wasandbox stopped", "err", err)
		os.Exit(1)
	}
}

// config holds the parsed flags.
type config struct {
	addr   string
	tokens []string
	opts   sandbox.Options
}

// parseFlags reads the flags, falling back to the environment for secrets.
func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("wasandbox", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8003", "loopback `host:port` to listen on")
	fs.StringVar(&c.opts.WebhookURL, "webhook-url", "http://127.0.0.1:3000/webhooks/meta", "where signed webhooks are posted")
	fs.StringVar(&c.opts.AppSecret, "app-secret", os.Getenv("WASANDBOX_APP_SECRET"), "app secret that signs webhooks")
	fs.Func("token", "accepted bearer token (repeatable; default $WASANDBOX_TOKEN)", func(v string) error {
		c.tokens = append(c.tokens, v)
		return nil
	})
	fs.StringVar(&c.opts.PhoneNumberID, "phone-number-id", sandbox.DefaultPhoneNumberID, "business phone number id")
	fs.StringVar(&c.opts.DisplayPhoneNumber, "display-phone-number", sandbox.DefaultDisplayPhoneNumber, "business display number (digits)")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("parse flags: %w", err)
	}
	if len(c.tokens) == 0 && os.Getenv("WASANDBOX_TOKEN") != "" {
		c.tokens = []string{os.Getenv("WASANDBOX_TOKEN")}
	}
	c.opts.AccessTokens = c.tokens
	c.opts.EndpointSecrets = []string{os.Getenv("WASANDBOX_ENDPOINT_SECRET")}
	return c, checkLoopback(c.addr)
}

// checkLoopback refuses to listen anywhere but on a loopback address.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("parse addr: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("addr must be a loopback address")
	}
	return nil
}

// run serves until SIGINT or SIGTERM.
func run(log *slog.Logger, args []string) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{
		Addr:              c.addr,
		Handler:           accessLog(log, sandbox.New(c.opts)),
		ReadHeaderTimeout: 5 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("wasandbox listening", "addr", c.addr, "webhook_url", c.opts.WebhookURL,
		"tokens", len(c.tokens), "phone_number_id", c.opts.PhoneNumberID)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records code and forwards it.
func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// accessLog logs one line per request: the route pattern (not the path,
// not the body), the status and the duration.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.Info("request", "method", r.Method, "route", routeOf(r), "status", sw.status,
			"duration_ms", time.Since(start).Milliseconds())
	})
}

// routeOf returns the pattern the sandbox matched (its mux sets it on
// the shared request), never the raw path.
func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return "unmatched"
}
