package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/shared/deadline"
	"github.com/waguard/waguard/shared/endpoint"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/signature"
)

// createEndpoint generates a new signing secret for a webhook endpoint
// (waguard/<stage>/endpoints/<name>) and keeps the current one as
// previous_secret until the overlap (API_KEY_OVERLAP_HOURS, as for API
// keys) after now: the events function signs every delivery with both
// until then, so a receiver that still holds the old secret keeps
// verifying while the operator hands it the new one. A current secret
// that is not a usable one is dropped rather than kept. url, types and
// include_content are kept.
func createEndpoint(ctx context.Context, h *Handler, r *rotation) error {
	return createWith(ctx, h, r, func() (map[string]string, error) {
		prev, until := string(r.cur.Get(endpoint.FieldSecret).Reveal()), time.Now().Add(h.Overlap).UTC().Format(time.RFC3339)
		if !endpoint.ValidSecret(prev) {
			prev, until = "", ""
		}
		return map[string]string{endpoint.FieldSecret: endpoint.GenerateSecret(),
			endpoint.FieldPreviousSecret: prev, endpoint.FieldPreviousUntil: until}, nil
	})
}

// testEndpoint parses the pending value as the events function will
// (url, types, both secrets), signs a sample delivery with it, and checks
// that the new secret alone and the previous secret alone each verify it:
// a receiver on either side of the switch accepts deliveries.
func testEndpoint(ctx context.Context, h *Handler, r *rotation) error {
	doc, err := pendingDocument(ctx, h, r)
	if err != nil {
		return err
	}
	e, err := endpoint.Parse(path.Base(r.name), r.token, doc)
	if err != nil {
		return fmt.Errorf("rotate: secret %s: pending value: %w", r.name, err)
	}
	now := time.Now()
	body := []byte(`{"type":"rotation.test","timestamp":"` + now.UTC().Format(time.RFC3339) + `","data":{}}`)
	hdr, err := e.Sign("msg_rotation_test", now, body)
	if err != nil {
		return fmt.Errorf("rotate: secret %s: sign: %w", r.name, err)
	}
	var keys struct {
		Secret         string `json:"secret"`
		PreviousSecret string `json:"previous_secret"`
	}
	_ = json.Unmarshal(doc, &keys) // Parse accepted doc
	for field, s := range map[string]string{endpoint.FieldSecret: keys.Secret, endpoint.FieldPreviousSecret: keys.PreviousSecret} {
		if s == "" {
			continue
		}
		k, err := signature.Key(s)
		if err == nil {
			_, err = signature.VerifySigned(hdr, body, now, 0, k)
		}
		if err != nil {
			return fmt.Errorf("rotate: secret %s: pending %s alone does not verify: %w", r.name, field, err)
		}
	}
	return nil
}

// pendingDocument returns the raw AWSPENDING value of the rotation's
// version, for a parser that refuses unknown fields.
func pendingDocument(ctx context.Context, h *Handler, r *rotation) ([]byte, error) {
	cctx, cancel := deadline.For(ctx, deadline.SecretsManager)
	defer cancel()
	out, err := h.SM.GetSecretValue(cctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.arn),
		VersionId: aws.String(r.token), VersionStage: aws.String(secrets.StagePending)})
	if err != nil {
		return nil, fmt.Errorf("rotate: secret %s: pending value: %w", r.name, err)
	}
	return []byte(aws.ToString(out.SecretString)), nil
}
