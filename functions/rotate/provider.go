package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/waguard/waguard/shared/deadline"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/whatsapp"
)

// ProviderCheck is how testSecret checks a staged provider access token:
// one authenticated call that sends nothing, a mark-as-read of a message
// ID that does not exist, made with the same provider configuration and
// client as every sender (so a RapidAPI key is checked with the
// X-RapidAPI headers, a Meta token with a bearer). Meta answers an invalid
// token with 401 before looking at the message.
type ProviderCheck struct {
	// Config is the function's provider configuration
	// (provider.ConfigFromEnv).
	Config provider.Config
}

// probeMessageID is the fictitious message the check marks as read.
const probeMessageID = "wamid.test"

// check returns nil when the provider accepts token.
func (p ProviderCheck) check(ctx context.Context, token string) error {
	c, err := p.Config.Client(token)
	if err != nil {
		return fmt.Errorf("provider check: %w", err)
	}
	ctx, cancel := deadline.For(ctx, deadline.Provider)
	defer cancel()
	err = c.MarkRead(ctx, probeMessageID)
	var api *whatsapp.APIError
	switch {
	case errors.As(err, &api):
		return fmt.Errorf("provider check: HTTP %d, code %d", api.Status, api.Code)
	case err != nil:
		return errors.New("provider check: request failed") // the URL error is not worth the risk
	}
	return nil
}

// StageNext is the staging label under which the operator (or the process
// that obtains Meta tokens) stages the next provider credentials, any time
// before a rotation: PutSecretValue with VersionStages ["NEXT"] and a JSON
// object holding at least "primary".
const StageNext = "NEXT"

// createProvider never invents a token. It makes the credentials staged
// under [StageNext] the AWSPENDING version of the rotation's token, with
// the current primary as the fallback unless the staged value names one,
// and then takes the label off, so the next scheduled rotation needs new
// credentials again. Without staged credentials it fails, and the
// rotation stops with the current credentials untouched (the rotation
// failure alarm tells the operator). An operator may instead stage the
// value as AWSPENDING under the rotation's own version ID.
func createProvider(ctx context.Context, h *Handler, r *rotation) error {
	return createFromNext(ctx, h, r, "primary", func(next map[string]string, cur map[string]json.RawMessage) map[string]string {
		var oldPrimary string
		_ = json.Unmarshal(cur["primary"], &oldPrimary)
		return map[string]string{"primary": next["primary"], "fallback": cmp.Or(next["fallback"], oldPrimary)}
	})
}

// createMeta rotates Meta's app secret, which only Meta can generate (App
// Dashboard, Settings, Basic, Reset): the operator resets it there and
// stages the new value as {"secret": "..."} under [StageNext]; the verify
// token and other fields are kept. Until the rotation has run, Meta's
// deliveries signed with the new secret fail verification and Meta
// redelivers them (for up to 7 days), so nothing is lost; run RotateSecret
// right after staging.
func createMeta(ctx context.Context, h *Handler, r *rotation) error {
	return createFromNext(ctx, h, r, "secret", func(next map[string]string, _ map[string]json.RawMessage) map[string]string {
		return map[string]string{"secret": next["secret"]}
	})
}

// createFromNext stores the current value with the fields build returns
// from the staged value (which must hold field) as the AWSPENDING version
// of the token, then takes [StageNext] off the staged version.
func createFromNext(ctx context.Context, h *Handler, r *rotation, field string,
	build func(next map[string]string, cur map[string]json.RawMessage) map[string]string) error {
	next, nextID, err := stagedNext(ctx, h, r, field)
	if err != nil {
		return err
	}
	err = createWith(ctx, h, r, func() (map[string]string, error) {
		if next == nil {
			return nil, fmt.Errorf("rotate: secret %s: nothing to rotate to: stage the new value under the label %s (or as AWSPENDING with version ID %s) first", r.name, StageNext, r.token)
		}
		cur, err := rawDocument(ctx, h, r)
		if err != nil {
			return nil, err
		}
		return build(next, cur), nil
	})
	if err != nil || nextID == "" {
		return err
	}
	if f, found, err := pending(ctx, h, r); err != nil || !found || !f.Get(field).Equal([]byte(next[field])) {
		return err // the pending value came from elsewhere: NEXT waits for a later rotation
	}
	cctx, cancel := deadline.For(ctx, deadline.SecretsManager)
	defer cancel()
	if _, err := h.SM.UpdateSecretVersionStage(cctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(r.arn),
		VersionStage: aws.String(StageNext), RemoveFromVersionId: aws.String(nextID)}); err != nil {
		return fmt.Errorf("rotate: secret %s: clear %s: %w", r.name, StageNext, err)
	}
	return nil
}

// stagedNext returns the value staged under [StageNext] and its version
// ID, or nil when nothing is staged. The value must be a JSON object of
// strings with a non-empty field.
func stagedNext(ctx context.Context, h *Handler, r *rotation, field string) (map[string]string, string, error) {
	cctx, cancel := deadline.For(ctx, deadline.SecretsManager)
	defer cancel()
	out, err := h.SM.GetSecretValue(cctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.arn), VersionStage: aws.String(StageNext)})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("rotate: secret %s: read %s: %w", r.name, StageNext, err)
	}
	var v map[string]string
	if json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v) != nil || v[field] == "" {
		return nil, "", fmt.Errorf("rotate: secret %s: the %s value is not a JSON object with a %s", r.name, StageNext, field)
	}
	return v, aws.ToString(out.VersionId), nil
}

// testProvider checks that the provider accepts the pending primary token.
func testProvider(ctx context.Context, h *Handler, r *rotation) error {
	f, err := mustPending(ctx, h, r)
	if err != nil {
		return err
	}
	if f.Get("primary").Empty() {
		return fmt.Errorf("rotate: secret %s: pending value has no primary", r.name)
	}
	if err := h.Provider.check(ctx, string(f.Get("primary").Reveal())); err != nil {
		return fmt.Errorf("rotate: secret %s: pending primary: %w", r.name, err)
	}
	return nil
}
