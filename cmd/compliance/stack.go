package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/cmd/compliance/internal/stackcheck"
	"github.com/waguard/waguard/cmd/compliance/internal/templatecheck"
	"github.com/waguard/waguard/internal/loopback"
)

// checkStack runs the stack checks when a stack is configured. Without
// one, stack items fail (or are skipped with -static-only): a compliance
// run that silently checked less must not pass.
func checkStack(ctx context.Context, o options, tpl *templatecheck.Template, getenv func(string) string) ([]checklist.Finding, string, checklist.Absent, error) {
	if o.staticOnly {
		return nil, "not checked (-static-only)", checklist.Absent{
			checklist.Stack: checklist.Skipf("", checklist.Stack, "skipped (-static-only)")}, nil
	}
	if o.stack.gatewayURL == "" {
		return nil, "none configured", checklist.Absent{checklist.Stack: checklist.Failf("", checklist.Stack,
			"not checked: no stack (run `make compliance`, set WAGUARD_GATEWAY_URL, or pass -static-only)")}, nil
	}
	cfg, err := stackConfig(o, tpl, getenv)
	if err != nil {
		return nil, "", nil, err
	}
	web := &http.Client{Timeout: time.Minute}
	if !o.allowRemote {
		web.Transport = loopback.Only(http.DefaultTransport.(*http.Transport).Clone())
	}
	opts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
	if !o.allowRemote {
		opts = append(opts, config.WithAPIOptions([]func(*middleware.Stack) error{loopbackOnlyAWS}))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, "", nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	c, err := stackcheck.New(cfg, awsCfg, web)
	if err != nil {
		return nil, "", nil, err
	}
	where := "AWS"
	if loopback.IsURL(cfg.AWSEndpoints["DYNAMODB"]) {
		where = "local emulators"
	}
	return c.Check(ctx), cfg.GatewayURL + " (" + where + ", stage " + o.stage + ")", nil, nil
}

// loopbackOnlyAWS refuses any AWS call to a host that is not a loopback
// IP literal, whatever endpoint the SDK resolved.
func loopbackOnlyAWS(s *middleware.Stack) error {
	return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("compliance-loopback-only",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok && !loopback.IsURL(req.URL.String()) {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, errors.New("non-loopback AWS endpoint refused (pass -allow-remote)")
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// stackConfig fills what the flags and environment leave empty from the
// template, resolved for the stage.
func stackConfig(o options, tpl *templatecheck.Template, getenv func(string) string) (stackcheck.Config, error) {
	s := o.stack
	or := func(v, env string) string {
		if v != "" {
			return v
		}
		return tpl.EnvResource(env)
	}
	apiSecret := s.apiKeySecret
	if apiSecret == "" {
		apiSecret = "waguard/" + o.stage + "/clients/" + s.apiClient
	}
	cfg := stackcheck.Config{
		GatewayURL: s.gatewayURL, SandboxURL: s.sandboxURL,
		AWSEndpoints: map[string]string{},
		DataTable:    or(s.dataTable, "DATA_TABLE"), KeysTable: or(s.keysTable, "KEYS_TABLE"), AuditTable: or(s.auditTable, "AUDIT_TABLE"),
		KMSKeyID: or(s.kmsKeyID, "KMS_KEY_ID"), AuditSigningKeyID: or(s.auditSigningKey, "AUDIT_SIGNING_KEY_ID"),
		IndexKeySecretID: or(s.indexKey, "INDEX_KEY_SECRET_ID"), PseudonymKeySecretID: or(s.pseudonymKey, "PSEUDONYM_KEY_SECRET_ID"),
		APIClientID: s.apiClient, APIKeySecretID: apiSecret,
		PhoneNumberID: tpl.EnvResource("PHONE_NUMBER_ID"),
		AllowRemote:   o.allowRemote, ErasureTimeout: o.erasureTimeout,
	}
	for _, svc := range []string{"DYNAMODB", "KMS", "SECRETS_MANAGER"} {
		cfg.AWSEndpoints[svc] = getenv("AWS_ENDPOINT_URL_" + svc)
	}
	secrets := tpl.Secrets()
	for _, id := range slices.Sorted(maps.Keys(secrets)) {
		cfg.Secrets = append(cfg.Secrets, stackcheck.Secret{LogicalID: id, Name: secrets[id], Rotatable: tpl.Rotatable(id)})
	}
	if s.auditPublicKey != "" {
		b, err := os.ReadFile(s.auditPublicKey)
		if err != nil {
			return cfg, fmt.Errorf("read audit public key: %w", err)
		}
		cfg.AuditPublicKey = b
	}
	return cfg, nil
}
