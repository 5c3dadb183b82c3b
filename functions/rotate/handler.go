package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/deadline"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/secrets"
)

// Event is what Secrets Manager sends for each step of a rotation:
//
//	{"SecretId":"<arn>","ClientRequestToken":"<version id>","Step":"createSecret"}
//
// Step is createSecret, setSecret, testSecret or finishSecret, in that
// order; the token is the ID of the AWSPENDING version the rotation
// creates. Any step may be invoked again (a retry, or a rotation re-driven
// after a failure), so every step is idempotent, keyed by the token.
type Event struct {
	SecretId           string //nolint:revive // Secrets Manager's spelling
	ClientRequestToken string
	Step               string
}

// secretsManager lists the Secrets Manager calls the rotation makes, with
// the SDK's signatures: *secretsmanager.Client satisfies it.
type secretsManager interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
	GetRandomPassword(ctx context.Context, in *secretsmanager.GetRandomPasswordInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error)
}

var _ secretsManager = (*secretsmanager.Client)(nil)

// Handler runs rotation steps. It is safe for concurrent use and holds no
// request data.
type Handler struct {
	SM      secretsManager
	Audit   *audit.Writer
	Metrics *metrics.Recorder
	// Overlap is how long apiauth keeps accepting an API key at AWSPREVIOUS
	// after its rotation (API_KEY_OVERLAP_HOURS): testSecret builds the
	// same authenticator the API functions use with it, and a webhook
	// endpoint's createSecret keeps the old signing secret for as long.
	Overlap time.Duration
	// Provider is how testSecret checks a staged provider token.
	Provider ProviderCheck
	Log      *slog.Logger
	// MetricsOut receives the EMF lines (default os.Stdout).
	MetricsOut io.Writer
}

// rotation is one step's view of the secret being rotated.
type rotation struct {
	arn, name, token string
	// current is the AWSCURRENT version ID.
	current string
	// cur is the AWSCURRENT value.
	cur  secrets.Fields
	kind string
}

// Handle runs one rotation step. Its error text names the step and the
// secret, never a value.
func (h *Handler) Handle(ctx context.Context, ev Event) (struct{}, error) {
	err := h.step(ctx, ev)
	if err != nil {
		h.Metrics.Add(metrics.RotationFailures, 1)
	}
	h.logger().InfoContext(ctx, "rotation step", "step", ev.Step, "secret", ev.SecretId, "version", ev.ClientRequestToken, "ok", err == nil, "err", err)
	w := h.MetricsOut
	if w == nil {
		w = os.Stdout
	}
	_ = h.Metrics.Flush(w)
	return struct{}{}, err
}

func (h *Handler) logger() *slog.Logger {
	if h.Log == nil {
		return slog.Default()
	}
	return h.Log
}

// step checks the rotation as the AWS rotation template does, then runs
// the step for the secret's kind.
func (h *Handler) step(ctx context.Context, ev Event) error {
	if !slices.Contains([]string{"createSecret", "setSecret", "testSecret", "finishSecret"}, ev.Step) {
		return fmt.Errorf("rotate: unknown step %q", ev.Step)
	}
	r, done, err := h.begin(ctx, ev)
	if err != nil || done {
		return err
	}
	k, err := kindOf(r.kind)
	if err != nil {
		return err
	}
	switch ev.Step {
	case "createSecret":
		return k.create(ctx, h, r)
	case "setSecret":
		return nil // nothing to set: verifiers read AWSPENDING during rotation
	case "testSecret":
		// RotateSecret with RotateImmediately false (and a RotationSchedule
		// with RotateImmediatelyOnUpdate false) tests the configuration by
		// invoking testSecret for an AWSPENDING version without a value:
		// reaching this point proves the function, its permissions and the
		// secret's kind; there is nothing to test yet.
		if _, found, err := pending(ctx, h, r); err != nil || !found {
			return err
		}
		return k.test(ctx, h, r)
	}
	return h.finish(ctx, r)
}

// begin describes the secret and checks the token. done is true when the
// token is already AWSCURRENT: the rotation finished and nothing is left.
func (h *Handler) begin(ctx context.Context, ev Event) (*rotation, bool, error) {
	if ev.SecretId == "" || ev.ClientRequestToken == "" {
		return nil, false, errors.New("rotate: event lacks SecretId or ClientRequestToken")
	}
	cctx, cancel := deadline.For(ctx, deadline.SecretsManager)
	defer cancel()
	d, err := h.SM.DescribeSecret(cctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretId)})
	if err != nil {
		return nil, false, fmt.Errorf("rotate: describe secret: %w", err)
	}
	name := aws.ToString(d.Name)
	if !aws.ToBool(d.RotationEnabled) {
		return nil, false, fmt.Errorf("rotate: secret %s: rotation is not enabled", name)
	}
	stages, ok := d.VersionIdsToStages[ev.ClientRequestToken]
	switch {
	case !ok:
		return nil, false, fmt.Errorf("rotate: secret %s: version %s has no stage for rotation", name, ev.ClientRequestToken)
	case slices.Contains(stages, secrets.StageCurrent):
		return nil, true, nil
	case !slices.Contains(stages, secrets.StagePending):
		return nil, false, fmt.Errorf("rotate: secret %s: version %s is not AWSPENDING", name, ev.ClientRequestToken)
	}
	r := &rotation{arn: aws.ToString(d.ARN), name: name, token: ev.ClientRequestToken}
	for id, st := range d.VersionIdsToStages {
		if slices.Contains(st, secrets.StageCurrent) {
			r.current = id
		}
	}
	if r.cur, err = h.read(ctx, r.arn, secrets.StageCurrent, ""); err != nil {
		return nil, false, fmt.Errorf("rotate: secret %s: current value: %w", name, err)
	}
	if err := r.cur.Decode("kind", &r.kind); err != nil {
		return nil, false, fmt.Errorf("rotate: secret %s: no kind", name)
	}
	return r, false, nil
}

// read returns the value at stage, of version versionID when not empty.
// It returns an error wrapping secrets.ErrNotFound when that version has
// no value at that stage.
func (h *Handler) read(ctx context.Context, id, stage, versionID string) (secrets.Fields, error) {
	return secrets.NewStore(versionGetter{sm: h.SM, version: versionID}, 0).Get(ctx, id, stage)
}

// versionGetter pins GetSecretValue to one version ID, so that the shared
// secrets parser reads exactly the version of the rotation.
type versionGetter struct {
	sm      secretsManager
	version string
}

func (g versionGetter) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if g.version != "" {
		in.VersionId = aws.String(g.version)
	}
	ctx, cancel := deadline.For(ctx, deadline.SecretsManager)
	defer cancel()
	return g.sm.GetSecretValue(ctx, in, opts...)
}

// finish moves AWSCURRENT to the new version (Secrets Manager moves
// AWSPREVIOUS to the old one) and records the rotation in the audit trail.
func (h *Handler) finish(ctx context.Context, r *rotation) error {
	// The audit event goes first: if the stage move then fails, the retry
	// audits again (a duplicate), whereas auditing after the move would
	// lose the event when only the audit write fails (a retry sees the
	// token already current and does nothing). No unaudited rotation.
	var reqID string
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		reqID = lc.AwsRequestID
	}
	_, err := h.Audit.Append(ctx, audit.Event{Type: audit.EventAPIKeyRotated, RequestID: reqID,
		Actor:   audit.Actor{Caller: "secretsmanager"},
		Details: map[string]string{"secret": auditVersion(r.name), "new_version": auditVersion(r.token), "old_version": auditVersion(r.current)}})
	if err != nil {
		h.Metrics.Add(metrics.AuditWriteFailures, 1)
		return fmt.Errorf("rotate: secret %s: audit before finishing: %w", r.name, err)
	}
	cctx, cancel := deadline.For(ctx, deadline.SecretsManager)
	defer cancel()
	_, err = h.SM.UpdateSecretVersionStage(cctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(r.arn), VersionStage: aws.String(secrets.StageCurrent),
		MoveToVersionId: aws.String(r.token), RemoveFromVersionId: aws.String(r.current)})
	if err != nil {
		return fmt.Errorf("rotate: secret %s: finish: %w", r.name, err)
	}
	return nil
}

// auditVersion returns a version ID as the audit trail records it: a run
// of more than seven digits, which a UUID can hold, would trip the trail's
// phone-number guard, so a "_" is inserted after every seventh digit of a
// run. Version IDs are UUIDs, without "_", so the original is the result
// with every "_" removed.
func auditVersion(id string) string {
	var b strings.Builder
	run := 0
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c < '0' || c > '9' {
			run = 0
		} else if run++; run > 7 {
			b.WriteByte('_')
			run = 1
		}
		b.WriteByte(c)
	}
	return b.String()
}
