package secretsmanager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// rotationEvent is the event a rotation function receives.
type rotationEvent struct {
	SecretId           string
	ClientRequestToken string
	Step               string
}

// invocation is one call of the fake rotation function.
type invocation struct {
	FunctionARN string
	Event       rotationEvent
}

// errInjected is the failure that fakeLambda returns for its failStep.
var errInjected = errors.New("injected rotation failure")

// fakeLambda is an Invoker that plays a correct rotation function, like the
// AWS rotation template, through the SDK client. It records every
// invocation, and fails the step named by failStep without doing anything.
type fakeLambda struct {
	client *sm.Client

	mu              sync.Mutex
	failStep        string
	calls           []invocation
	sawEmptyPending bool // createSecret found AWSPENDING on a version without a value
}

// Invoke handles one rotation event.
func (f *fakeLambda) Invoke(ctx context.Context, functionARN string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	var ev rotationEvent
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	f.mu.Lock()
	f.calls = append(f.calls, invocation{FunctionARN: functionARN, Event: ev})
	fail := f.failStep == ev.Step
	f.mu.Unlock()
	if fail {
		return errInjected
	}
	return f.handle(ctx, ev)
}

// setFailStep makes the next invocations of step fail ("" for none).
func (f *fakeLambda) setFailStep(step string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failStep = step
}

// invocations returns and forgets the recorded invocations.
func (f *fakeLambda) invocations() []invocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := f.calls
	f.calls = nil
	return calls
}

// handle checks the version staging, as the AWS template does, and runs the
// step.
func (f *fakeLambda) handle(ctx context.Context, ev rotationEvent) error {
	meta, err := f.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(ev.SecretId)})
	if err != nil {
		return fmt.Errorf("describe secret: %w", err)
	}
	if !aws.ToBool(meta.RotationEnabled) {
		return errors.New("secret is not enabled for rotation")
	}
	stages, ok := meta.VersionIdsToStages[ev.ClientRequestToken]
	switch {
	case !ok:
		return errors.New("version has no stage for rotation")
	case slices.Contains(stages, "AWSCURRENT"):
		return nil
	case !slices.Contains(stages, "AWSPENDING"):
		return errors.New("version is not AWSPENDING")
	}
	switch ev.Step {
	case "createSecret":
		return f.createSecret(ctx, ev)
	case "setSecret":
		return nil // a real function would set the password in the service here
	case "testSecret":
		return f.testSecret(ctx, ev)
	case "finishSecret":
		return f.finishSecret(ctx, ev, meta.VersionIdsToStages)
	}
	return fmt.Errorf("unknown step %q", ev.Step)
}

// createSecret puts a random password in the AWSPENDING version unless it
// already has a value.
func (f *fakeLambda) createSecret(ctx context.Context, ev rotationEvent) error {
	if _, err := f.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(ev.SecretId)}); err != nil {
		return fmt.Errorf("get current: %w", err)
	}
	_, err := f.client.GetSecretValue(ctx, &sm.GetSecretValueInput{
		SecretId: aws.String(ev.SecretId), VersionId: aws.String(ev.ClientRequestToken), VersionStage: aws.String("AWSPENDING"),
	})
	if err == nil {
		return nil
	}
	if !isCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("get pending: %w", err)
	}
	f.mu.Lock()
	f.sawEmptyPending = true
	f.mu.Unlock()
	pw, err := f.client.GetRandomPassword(ctx, &sm.GetRandomPasswordInput{ExcludeCharacters: aws.String(`/@"'\`)})
	if err != nil {
		return fmt.Errorf("get random password: %w", err)
	}
	_, err = f.client.PutSecretValue(ctx, &sm.PutSecretValueInput{
		SecretId: aws.String(ev.SecretId), ClientRequestToken: aws.String(ev.ClientRequestToken),
		SecretString: pw.RandomPassword, VersionStages: []string{"AWSPENDING"},
	})
	if err != nil {
		return fmt.Errorf("put pending: %w", err)
	}
	return nil
}

// testSecret checks that the AWSPENDING value can be read, when there is one
// (a test rotation with RotateImmediately false has none).
func (f *fakeLambda) testSecret(ctx context.Context, ev rotationEvent) error {
	_, err := f.client.GetSecretValue(ctx, &sm.GetSecretValueInput{
		SecretId: aws.String(ev.SecretId), VersionId: aws.String(ev.ClientRequestToken), VersionStage: aws.String("AWSPENDING"),
	})
	if err != nil && !isCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("get pending: %w", err)
	}
	return nil
}

// finishSecret moves AWSCURRENT to the new version and removes AWSPENDING,
// as the current AWS template does.
func (f *fakeLambda) finishSecret(ctx context.Context, ev rotationEvent, versions map[string][]string) error {
	var current string
	for id, stages := range versions {
		if slices.Contains(stages, "AWSCURRENT") {
			current = id
		}
	}
	_, err := f.client.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
		SecretId: aws.String(ev.SecretId), VersionStage: aws.String("AWSCURRENT"),
		MoveToVersionId: aws.String(ev.ClientRequestToken), RemoveFromVersionId: aws.String(current),
	})
	if err != nil {
		return fmt.Errorf("move AWSCURRENT: %w", err)
	}
	_, err = f.client.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
		SecretId: aws.String(ev.SecretId), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(ev.ClientRequestToken),
	})
	if err != nil {
		return fmt.Errorf("remove AWSPENDING: %w", err)
	}
	return nil
}
