package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/deadline"
	"github.com/waguard/waguard/shared/endpoint"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/signature"
)

// kind is how one kind of secret rotates. setSecret has nothing to do for
// any kind, and finishSecret is the same for all.
type kind struct {
	create func(ctx context.Context, h *Handler, r *rotation) error
	test   func(ctx context.Context, h *Handler, r *rotation) error
}

// kindOf returns the rotation of a secret's "kind" field.
func kindOf(name string) (kind, error) {
	switch name {
	case "webhook-secret":
		return kind{create: createWebhook, test: testWebhook}, nil
	case "api-client":
		return kind{create: createAPIClient, test: testAPIClient}, nil
	case "meta-app-secret":
		return kind{create: createMeta, test: testMeta}, nil
	case "provider-credentials":
		return kind{create: createProvider, test: testProvider}, nil
	case endpoint.Kind:
		return kind{create: createEndpoint, test: testEndpoint}, nil
	case "index-key", "pseudonym-key":
		return kind{}, fmt.Errorf("rotate: kind %s is not rotatable: a new key would orphan every partition it keys; re-keying is a planned re-index migration (docs/crypto.md)", name)
	}
	return kind{}, fmt.Errorf("rotate: unknown secret kind %q", name)
}

// pending returns the AWSPENDING value of the rotation's version; found
// is false when that version has no value yet.
func pending(ctx context.Context, h *Handler, r *rotation) (f secrets.Fields, found bool, err error) {
	f, err = h.read(ctx, r.arn, secrets.StagePending, r.token)
	if errors.Is(err, secrets.ErrNotFound) {
		return secrets.Fields{}, false, nil
	}
	if err != nil {
		return secrets.Fields{}, false, fmt.Errorf("rotate: secret %s: pending value: %w", r.name, err)
	}
	return f, true, nil
}

// createWith stores the current value with the fields of set replaced as
// the AWSPENDING version of the token, unless that version has a value.
func createWith(ctx context.Context, h *Handler, r *rotation, set func() (map[string]string, error)) error {
	if _, found, err := pending(ctx, h, r); err != nil || found {
		return err
	}
	repl, err := set()
	if err != nil {
		return err
	}
	doc, err := rawDocument(ctx, h, r)
	if err != nil {
		return err
	}
	for k, v := range repl {
		doc[k], _ = json.Marshal(v)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("rotate: secret %s: encode: %w", r.name, err)
	}
	cctx, cancel := deadline.For(ctx, deadline.SecretsManager)
	defer cancel()
	_, err = h.SM.PutSecretValue(cctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(r.arn),
		ClientRequestToken: aws.String(r.token), SecretString: aws.String(string(b)),
		VersionStages: []string{secrets.StagePending}})
	if err != nil {
		return fmt.Errorf("rotate: secret %s: put pending: %w", r.name, err)
	}
	return nil
}

// rawDocument returns the AWSCURRENT JSON document field by field, so
// that fields the rotation does not change are kept as they are.
func rawDocument(ctx context.Context, h *Handler, r *rotation) (map[string]json.RawMessage, error) {
	cctx, cancel := deadline.For(ctx, deadline.SecretsManager)
	defer cancel()
	out, err := h.SM.GetSecretValue(cctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.arn),
		VersionId: aws.String(r.current)})
	if err != nil {
		return nil, fmt.Errorf("rotate: secret %s: current value: %w", r.name, err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &doc); err != nil {
		return nil, fmt.Errorf("rotate: secret %s: current value is not a JSON object", r.name)
	}
	return doc, nil
}

// createWebhook generates a new 32-byte HMAC secret, "whsec_" + base64 as
// signature.Key reads it; verify_token and other fields are kept.
func createWebhook(ctx context.Context, h *Handler, r *rotation) error {
	return createWith(ctx, h, r, func() (map[string]string, error) {
		k := make([]byte, 32)
		_, _ = rand.Read(k) // crypto/rand.Read never fails
		return map[string]string{"secret": "whsec_" + base64.StdEncoding.EncodeToString(k)}, nil
	})
}

// testMeta signs a sample body with the staged app secret and verifies
// it as the webhook does (the raw secret is Meta's HMAC key).
func testMeta(ctx context.Context, h *Handler, r *rotation) error {
	f, err := mustPending(ctx, h, r)
	if err != nil {
		return err
	}
	key, err := signature.Key(string(f.Get("secret").Reveal()))
	if err != nil || len(key) < 16 {
		return fmt.Errorf("rotate: secret %s: pending app secret is missing or too short", r.name)
	}
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	if err := signature.VerifyMeta(body, signature.SignMeta(key, body), key); err != nil {
		return fmt.Errorf("rotate: secret %s: pending app secret does not verify: %w", r.name, err)
	}
	return nil
}

// testWebhook signs a sample body with the pending secret and verifies it.
func testWebhook(ctx context.Context, h *Handler, r *rotation) error {
	f, err := mustPending(ctx, h, r)
	if err != nil {
		return err
	}
	key, err := signature.Key(string(f.Get("secret").Reveal()))
	if err != nil {
		return fmt.Errorf("rotate: secret %s: pending secret: %w", r.name, err)
	}
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	if err := signature.VerifyMeta(body, signature.SignMeta(key, body), key); err != nil {
		return fmt.Errorf("rotate: secret %s: pending secret does not verify: %w", r.name, err)
	}
	return nil
}

// mustPending returns the pending value, or an error when there is none.
func mustPending(ctx context.Context, h *Handler, r *rotation) (secrets.Fields, error) {
	f, found, err := pending(ctx, h, r)
	if err == nil && !found {
		err = fmt.Errorf("rotate: secret %s: version %s has no pending value", r.name, r.token)
	}
	return f, err
}

// createAPIClient generates a new key: 48 characters without punctuation,
// so it is a valid RFC 6750 token well above apiauth.MinStoredKeyLen.
// After finishSecret the old key stays at AWSPREVIOUS, which apiauth
// accepts for API_KEY_OVERLAP_HOURS after the new version was created
// (secrets.Store.Accepted); the new key is accepted from createSecret on.
func createAPIClient(ctx context.Context, h *Handler, r *rotation) error {
	return createWith(ctx, h, r, func() (map[string]string, error) {
		cctx, cancel := deadline.For(ctx, deadline.SecretsManager)
		defer cancel()
		out, err := h.SM.GetRandomPassword(cctx, &secretsmanager.GetRandomPasswordInput{
			PasswordLength: aws.Int64(48), ExcludePunctuation: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("rotate: secret %s: random key: %w", r.name, err)
		}
		return map[string]string{"key": aws.ToString(out.RandomPassword)}, nil
	})
}

// testAPIClient authenticates with the pending key through apiauth, as
// the API functions will.
func testAPIClient(ctx context.Context, h *Handler, r *rotation) error {
	f, err := mustPending(ctx, h, r)
	if err != nil {
		return err
	}
	var clientID string
	if err := f.Decode("client_id", &clientID); err != nil {
		return fmt.Errorf("rotate: secret %s: no client_id", r.name)
	}
	prefix, ok := strings.CutSuffix(r.name, "/"+clientID)
	if !ok {
		return fmt.Errorf("rotate: secret %s: name does not end in its client_id", r.name)
	}
	auth, err := apiauth.New(secrets.NewStore(versionGetter{sm: h.SM}, 0), apiauth.Config{SecretPrefix: prefix + "/", Overlap: h.Overlap})
	if err != nil {
		return fmt.Errorf("rotate: secret %s: %w", r.name, err)
	}
	key := apiauth.PresentedKey(clientID, f.Get("key"))
	if key.Empty() {
		return fmt.Errorf("rotate: secret %s: pending key is not a valid API key", r.name)
	}
	if _, err := auth.Authenticate(ctx, "Bearer "+string(key.Reveal())); err != nil {
		return fmt.Errorf("rotate: secret %s: pending key does not authenticate: %w", r.name, err)
	}
	return nil
}
