package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/waguard/waguard/devstack/iamguard"
	"github.com/waguard/waguard/devstack/provision"
	"github.com/waguard/waguard/devstack/sandbox"
	smemu "github.com/waguard/waguard/devstack/secretsmanager"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/endpoint"
	"github.com/waguard/waguard/shared/secrets"
)

// startSecrets serves the Secrets Manager emulator in-process. Rotation
// invokes the rotate function through the same RIE pool the gateway uses,
// resolved from the function ARN as Lambda would.
func (s *stack) startSecrets(_ context.Context) error {
	state := ""
	if s.c.Persist {
		dir, err := s.dataDir("secretsmanager")
		if err != nil {
			return err
		}
		state = filepath.Join(dir, "state.json")
	}
	opts := smemu.Options{Region: region, AccountID: accountID, StatePath: state,
		Invoker: smemu.InvokerFunc(s.invokeByARN),
		OnRotationFailure: func(arn, step string, err error) {
			fmt.Fprintf(s.logs, "[secretsmanager] rotation step %s failed: %v\n", step, err)
		}}
	if s.roles != nil {
		opts.Authorize = func(r *http.Request, action, resource string) bool {
			key := iamguard.AccessKeyOf(r)
			ok := s.roles.Allows(key, action, resource)
			if !ok {
				s.denied(key, action, resource)
			}
			return ok
		}
	}
	emu := smemu.New(opts)
	if err := emu.LoadError(); err != nil {
		return fmt.Errorf("secrets manager state: %w", err)
	}
	return s.serve("secrets", s.c.SecretsPort, emu)
}

func (s *stack) invokeByARN(ctx context.Context, arn string, payload []byte) error {
	if s.pool == nil {
		return errors.New("functions not started")
	}
	for _, f := range s.functions {
		if provision.FunctionARN(region, accountID, f.FunctionName) == arn {
			_, err := s.pool.Invoke(ctx, f.Name, payload)
			return err
		}
	}
	return fmt.Errorf("no local function for %s", arn)
}

// startSandbox serves the WhatsApp sandbox. It accepts the provider tokens
// currently in Secrets Manager and signs deliveries with the Meta app
// secret, re-reading both so that rotations apply as they would at Meta.
func (s *stack) startSandbox(ctx context.Context, providerID, metaID, phoneNumberID string) error {
	c, err := s.clients(ctx)
	if err != nil {
		return err
	}
	store := secrets.NewStore(c.SecretsManager, 2*time.Second)
	tokens := func() []string {
		var out []string
		for _, stage := range []string{secrets.StageCurrent, secrets.StagePrevious} {
			f, err := store.Get(context.Background(), providerID, stage)
			if err != nil {
				continue
			}
			for _, k := range []string{"primary", "fallback"} {
				if v := f.Get(k); !v.Empty() {
					out = append(out, string(v.Reveal()))
				}
			}
		}
		return out
	}
	sb := sandbox.New(sandbox.Options{TokenSource: tokens, PhoneNumberID: phoneNumberID,
		WebhookURL: loopback(s.c.GatewayPort) + "/webhooks/meta", EndpointSecretSource: s.endpointSecrets(store)})
	refresh := func() {
		if f, err := store.Get(context.Background(), metaID, secrets.StageCurrent); err == nil {
			sb.SetAppSecret(string(f.Get("secret").Reveal()))
		}
	}
	refresh()
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				refresh()
			}
		}
	}()
	s.env["WAGUARD_SANDBOX_URL"] = loopback(s.c.SandboxPort)
	return s.serve("sandbox", s.c.SandboxPort, sb)
}

// sandboxEndpointName is the endpoint waguard-dev registers for the
// sandbox's receiving endpoint.
const sandboxEndpointName = "sandbox"

// registerSandboxEndpoint registers the sandbox's receiving endpoint as
// the endpoint "sandbox" with content, the way an operator registers one
// (a secret under the events function's ENDPOINT_SECRET_PREFIX with a
// fresh whsec_ secret, rotation enabled with the rotate function), and
// points the sandbox at that secret.
func (s *stack) registerSandboxEndpoint(ctx context.Context, res *provision.Result) error {
	prefix := "waguard/" + s.c.Stage + "/endpoints/"
	for _, f := range s.functions {
		if p := f.Env["ENDPOINT_SECRET_PREFIX"]; p != "" {
			prefix = p
		}
	}
	c, err := s.clients(ctx)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	arn, err := provision.RegisterEndpoint(pctx, c.SecretsManager, provision.Endpoint{SecretName: prefix + sandboxEndpointName,
		URL: s.env["WAGUARD_SANDBOX_URL"] + sandbox.EndpointPath, IncludeContent: true, KMSKeyID: res.Resolver.Refs["DataKey"],
		RotationLambdaARN: res.Resolver.Attrs["RotateFunction.Arn"]})
	if err != nil {
		return err
	}
	s.sandboxEndpoint.Store(&arn)
	s.env["WAGUARD_ENDPOINT_SECRET_PREFIX"] = prefix
	s.env["WAGUARD_SANDBOX_ENDPOINT_SECRET_ID"] = arn
	return nil
}

// endpointSecrets returns the secrets the sandbox's receiving endpoint
// verifies with: the registered endpoint's current signing secret and,
// until previous_until, the previous one, read through store, so the
// sandbox follows a rotation as a receiver that was handed the new secret
// does.
func (s *stack) endpointSecrets(store *secrets.Store) func() []string {
	return func() []string {
		arn := s.sandboxEndpoint.Load()
		if arn == nil {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		f, err := store.Get(ctx, *arn, secrets.StageCurrent)
		if err != nil {
			return nil
		}
		out := []string{string(f.Get(endpoint.FieldSecret).Reveal())}
		var until time.Time
		if f.Decode(endpoint.FieldPreviousUntil, &until) == nil && time.Now().Before(until) {
			out = append(out, string(f.Get(endpoint.FieldPreviousSecret).Reveal()))
		}
		return out
	}
}

// secretField reads one field of a secret for the banner's examples.
func (s *stack) secretField(ctx context.Context, id, field string) string {
	c, err := s.clients(ctx)
	if err != nil {
		return "?"
	}
	f, err := secrets.NewStore(c.SecretsManager, time.Second).Get(ctx, id, secrets.StageCurrent)
	if err != nil {
		return "?"
	}
	return string(f.Get(field).Reveal())
}

func (s *stack) banner(took time.Duration) {
	if s.c.Quiet {
		fmt.Printf("waguard local stack is up (%.1fs) at %s; logs in %s\n", took.Seconds(), loopback(s.c.GatewayPort), s.runDir)
		return
	}
	ctx := context.Background()
	gw := loopback(s.c.GatewayPort)
	verify := s.secretField(ctx, s.env["WAGUARD_META_WEBHOOK_SECRET_ID"], "verify_token")
	opsKey := string(apiauth.PresentedKey("ops", secrets.NewValue([]byte(s.secretField(ctx, s.opsClientSecret, "key")))).Reveal())
	source := ""
	if s.c.EnvFile != "" {
		source = "source " + s.c.EnvFile + " && "
	}
	fmt.Print(strings.NewReplacer("{took}", fmt.Sprintf("%.1f", took.Seconds()), "{gw}", gw,
		"{ddb}", s.env["AWS_ENDPOINT_URL_DYNAMODB"], "{kms}", s.env["AWS_ENDPOINT_URL_KMS"],
		"{sm}", s.env["AWS_ENDPOINT_URL_SECRETS_MANAGER"], "{sandbox}", s.env["WAGUARD_SANDBOX_URL"],
		"{moto}", s.env["AWS_ENDPOINT_URL_SQS"], "{motov}", motoVersion, "{bus}", s.env["WAGUARD_EVENT_BUS_NAME"],
		"{tap}", s.env["WAGUARD_EVENT_BUS_TAP_QUEUE_URL"], "{triggers}", s.triggers(), "{source}", source,
		"{logs}", s.runDir, "{verify}", verify, "{key}", opsKey).Replace(`
waguard local stack is up ({took}s). Everything binds to 127.0.0.1; Ctrl-C stops it all.

  API gateway        {gw}   (routes from template.yaml)
  DynamoDB Local     {ddb}   (stream triggers: {triggers})
  local-kms          {kms}
  Secrets Manager    {sm}   (emulator)
  EventBridge, SQS   {moto}   (moto {motov}; bus {bus})
  WhatsApp sandbox   {sandbox}   (GET /_sandbox/messages)
  Webhook endpoint   {sandbox}/_sandbox/endpoint   (registered as the endpoint "sandbox", with content)
  logs               {logs}

Try (local-only values; never use them elsewhere):
  curl -i '{gw}/webhooks/meta?hub.mode=subscribe&hub.verify_token={verify}&hub.challenge=1234'
  curl -i -X POST {gw}/v1/consents -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \
       -d '{"phone":"+12015550123","purpose":"transactional","action":"grant","method":"web_form","policy_version":"2026-01"}'
  curl -i -X POST {gw}/v1/messages -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \
       -d '{"to":"+12015550123","purpose":"transactional","template":{"name":"hello_world","language":"en_US"}}'
  curl -s {sandbox}/_sandbox/deliveries   # events delivered to the endpoint "sandbox", verified or not
  make invoke FN=retention                # run a scheduled function now
  make invoke FN=events EVENT='{"action":"retry_deliveries"}'

What reaches the bus {bus} (source waguard) also lands in the queue of its catch-all rule:
  ({source}aws --endpoint-url {moto} sqs receive-message --queue-url {tap} --wait-time-seconds 10)
`))
}

// triggers names the running stream triggers for the banner.
func (s *stack) triggers() string {
	var out []string
	for _, p := range s.streams {
		out = append(out, p.Mapping().Function+"/"+p.Mapping().Event)
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
