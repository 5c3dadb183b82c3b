package secretsmanager_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// allSteps are the rotation steps in the order AWS runs them.
var allSteps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

// wantCalls returns the invocations expected for steps of a rotation of
// secret arn to version token.
func wantCalls(arn, token string, steps []string) []invocation {
	var calls []invocation
	for _, st := range steps {
		calls = append(calls, invocation{FunctionARN: lambdaARN, Event: rotationEvent{SecretId: arn, ClientRequestToken: token, Step: st}})
	}
	return calls
}

// rotate calls RotateSecret with the test function and a 30-day schedule.
func (h *harness) rotate(t *testing.T, id string) (*sm.RotateSecretOutput, error) {
	t.Helper()
	return h.client.RotateSecret(t.Context(), &sm.RotateSecretInput{
		SecretId: aws.String(id), RotationLambdaARN: aws.String(lambdaARN),
		RotationRules: &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)},
	})
}

func TestRotateSecret(t *testing.T) {
	h := newHarness(t)
	h.skipIfReal(t)
	name, first := h.name(t), token(t, 36)
	arn, _ := h.create(t, name, first, "initial")
	prev := first
	for round := range 2 {
		out, err := h.rotate(t, name)
		checkErr(t, "RotateSecret()", err, "")
		tok := aws.ToString(out.VersionId)
		if diff := cmp.Diff(wantCalls(arn, tok, allSteps), h.lambda.invocations()); diff != "" {
			t.Fatalf("round %d: invocations mismatch (-want +got):\n%s", round, diff)
		}
		want := map[string][]string{tok: {"AWSCURRENT"}, prev: {"AWSPREVIOUS"}}
		if diff := cmp.Diff(want, h.stages(t, name)); diff != "" {
			t.Errorf("round %d: VersionIdsToStages mismatch (-want +got):\n%s", round, diff)
		}
		got := h.describe(t, name)
		now := h.now()
		nextWant := time.Date(now.Year(), now.Month(), now.Day()+30, 23, 59, 59, 0, time.UTC)
		if !aws.ToBool(got.RotationEnabled) || aws.ToString(got.RotationLambdaARN) != lambdaARN ||
			aws.ToInt64(got.RotationRules.AutomaticallyAfterDays) != 30 ||
			!aws.ToTime(got.LastRotatedDate).Equal(now) || !aws.ToTime(got.NextRotationDate).Equal(nextWant) {
			t.Errorf("round %d: DescribeSecret() rotation = %v, %s, %v, last %v, next %v; want true, %s, 30, %v, %v", round,
				aws.ToBool(got.RotationEnabled), aws.ToString(got.RotationLambdaARN), aws.ToInt64(got.RotationRules.AutomaticallyAfterDays),
				got.LastRotatedDate, got.NextRotationDate, lambdaARN, now, nextWant)
		}
		prev = tok
		h.clock.Advance(24 * time.Hour)
	}
	if !h.lambda.sawEmptyPending {
		t.Errorf("createSecret did not find AWSPENDING on a version without a value")
	}
	if got := h.failures.get(); len(got) != 0 {
		t.Errorf("rotation failures = %v, want none", got)
	}
}

func TestRotateSecretFailedStep(t *testing.T) {
	for i, step := range allSteps {
		t.Run(step, func(t *testing.T) {
			h := newHarness(t)
			h.skipIfReal(t)
			name, first := h.name(t), token(t, 36)
			arn, _ := h.create(t, name, first, "initial")
			h.lambda.setFailStep(step)
			out, err := h.rotate(t, name)
			checkErr(t, "RotateSecret()", err, "") // AWS reports step failures asynchronously
			pending := aws.ToString(out.VersionId)
			if diff := cmp.Diff(wantCalls(arn, pending, allSteps[:i+1]), h.lambda.invocations()); diff != "" {
				t.Errorf("invocations mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{arn + " " + step}, h.failures.get()); diff != "" {
				t.Errorf("OnRotationFailure mismatch (-want +got):\n%s", diff)
			}
			want := map[string][]string{first: {"AWSCURRENT"}, pending: {"AWSPENDING"}}
			if diff := cmp.Diff(want, h.stages(t, name)); diff != "" {
				t.Errorf("VersionIdsToStages mismatch (-want +got):\n%s", diff)
			}
			_, err = h.client.GetSecretValue(t.Context(), &sm.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String("AWSPENDING")})
			wantCode := ""
			if step == "createSecret" {
				wantCode = "ResourceNotFoundException" // the function failed before putting a value
			}
			checkErr(t, "GetSecretValue(AWSPENDING)", err, wantCode)
			if got := h.describe(t, name); got.LastRotatedDate != nil || !aws.ToBool(got.RotationEnabled) {
				t.Errorf("DescribeSecret() LastRotatedDate, RotationEnabled = %v, %v, want nil, true", got.LastRotatedDate, aws.ToBool(got.RotationEnabled))
			}
			_, err = h.rotate(t, name)
			checkErr(t, "RotateSecret() during a failed rotation", err, "InvalidRequestException")

			h.lambda.setFailStep("")
			_, err = h.client.UpdateSecretVersionStage(t.Context(), &sm.UpdateSecretVersionStageInput{
				SecretId: aws.String(name), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(pending),
			})
			checkErr(t, "UpdateSecretVersionStage(remove AWSPENDING)", err, "")
			out, err = h.rotate(t, name)
			checkErr(t, "RotateSecret() after clean-up", err, "")
			if got := h.stages(t, name)[aws.ToString(out.VersionId)]; !slices.Equal(got, []string{"AWSCURRENT"}) {
				t.Errorf("after a clean rotation the new version has %v, want [AWSCURRENT]", got)
			}
		})
	}
}

func TestRotateSecretErrors(t *testing.T) {
	tests := []struct {
		name     string
		opts     []harnessOption
		noLambda bool
		deleted  bool
		secretID string
		token    string
		rules    *types.RotationRulesType
		wantCode string
	}{
		{name: "no function configured", noLambda: true, wantCode: "InvalidRequestException"},
		{name: "no Invoker", opts: []harnessOption{withoutInvoker}, wantCode: "AccessDeniedException"},
		{name: "scheduled for deletion", deleted: true, wantCode: "InvalidRequestException"},
		{name: "unknown secret", secretID: "missing", wantCode: "ResourceNotFoundException"},
		{name: "short token", token: "too-short", wantCode: "ValidationException"},
		{name: "days and schedule", rules: &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1), ScheduleExpression: aws.String("rate(1 days)")}, wantCode: "InvalidParameterException"},
		{name: "zero days", rules: &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(0)}, wantCode: "ValidationException"},
		{name: "rate under four hours", rules: &types.RotationRulesType{ScheduleExpression: aws.String("rate(3 hours)")}, wantCode: "InvalidParameterException"},
		{name: "malformed schedule", rules: &types.RotationRulesType{ScheduleExpression: aws.String("every day")}, wantCode: "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.opts...)
			h.skipIfReal(t)
			name, first := h.name(t), token(t, 36)
			h.create(t, name, first, "initial")
			if tt.deleted {
				_, err := h.client.DeleteSecret(t.Context(), &sm.DeleteSecretInput{SecretId: aws.String(name)})
				checkErr(t, "DeleteSecret()", err, "")
			}
			in := &sm.RotateSecretInput{SecretId: aws.String(name), RotationLambdaARN: aws.String(lambdaARN), RotationRules: tt.rules}
			if tt.noLambda {
				in.RotationLambdaARN = nil
			}
			if tt.secretID != "" {
				in.SecretId = aws.String(h.prefix + tt.secretID)
			}
			if tt.token != "" {
				in.ClientRequestToken = aws.String(tt.token)
			}
			_, err := h.client.RotateSecret(t.Context(), in)
			checkErr(t, "RotateSecret()", err, tt.wantCode)
			if got := h.lambda.invocations(); len(got) != 0 {
				t.Errorf("invocations = %v, want none", got)
			}
			if !tt.deleted {
				if diff := cmp.Diff(map[string][]string{first: {"AWSCURRENT"}}, h.stages(t, name)); diff != "" {
					t.Errorf("VersionIdsToStages mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestRotateSecretNotImmediately(t *testing.T) {
	h := newHarness(t)
	h.skipIfReal(t)
	name, first := h.name(t), token(t, 36)
	arn, _ := h.create(t, name, first, "initial")
	out, err := h.client.RotateSecret(t.Context(), &sm.RotateSecretInput{
		SecretId: aws.String(name), RotationLambdaARN: aws.String(lambdaARN), RotateImmediately: aws.Bool(false),
		RotationRules: &types.RotationRulesType{ScheduleExpression: aws.String("rate(10 days)"), Duration: aws.String("3h")},
	})
	checkErr(t, "RotateSecret()", err, "")
	if diff := cmp.Diff(wantCalls(arn, aws.ToString(out.VersionId), []string{"testSecret"}), h.lambda.invocations()); diff != "" {
		t.Errorf("invocations mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{first: {"AWSCURRENT"}}, h.listVersions(t, name, true)); diff != "" {
		t.Errorf("versions mismatch (-want +got):\n%s", diff)
	}
	got := h.describe(t, name)
	now := h.now()
	nextWant := time.Date(now.Year(), now.Month(), now.Day()+10, 23, 59, 59, 0, time.UTC)
	wantRules := &types.RotationRulesType{ScheduleExpression: aws.String("rate(10 days)"), Duration: aws.String("3h")}
	if diff := cmp.Diff(wantRules, got.RotationRules, cmpopts.IgnoreUnexported(types.RotationRulesType{})); diff != "" {
		t.Errorf("RotationRules mismatch (-want +got):\n%s", diff)
	}
	if !aws.ToBool(got.RotationEnabled) || got.LastRotatedDate != nil || !aws.ToTime(got.NextRotationDate).Equal(nextWant) {
		t.Errorf("DescribeSecret() RotationEnabled, LastRotatedDate, NextRotationDate = %v, %v, %v, want true, nil, %v",
			aws.ToBool(got.RotationEnabled), got.LastRotatedDate, got.NextRotationDate, nextWant)
	}
}

func TestCancelRotateSecret(t *testing.T) {
	h := newHarness(t)
	h.skipIfReal(t)
	name, first := h.name(t), token(t, 36)
	h.create(t, name, first, "initial")
	_, err := h.client.CancelRotateSecret(t.Context(), &sm.CancelRotateSecretInput{SecretId: aws.String(name)})
	checkErr(t, "CancelRotateSecret() without rotation", err, "InvalidRequestException")

	h.lambda.setFailStep("setSecret")
	rot, err := h.rotate(t, name)
	checkErr(t, "RotateSecret()", err, "")
	out, err := h.client.CancelRotateSecret(t.Context(), &sm.CancelRotateSecretInput{SecretId: aws.String(name)})
	checkErr(t, "CancelRotateSecret()", err, "")
	if aws.ToString(out.VersionId) != aws.ToString(rot.VersionId) {
		t.Errorf("CancelRotateSecret() VersionId = %s, want the unfinished version %s", aws.ToString(out.VersionId), aws.ToString(rot.VersionId))
	}
	got := h.describe(t, name)
	if aws.ToBool(got.RotationEnabled) || got.NextRotationDate != nil || got.RotationEnabled == nil {
		t.Errorf("DescribeSecret() RotationEnabled, NextRotationDate = %v, %v, want false, nil", got.RotationEnabled, got.NextRotationDate)
	}
	want := map[string][]string{first: {"AWSCURRENT"}, aws.ToString(rot.VersionId): {"AWSPENDING"}}
	if diff := cmp.Diff(want, got.VersionIdsToStages); diff != "" {
		t.Errorf("VersionIdsToStages mismatch (-want +got):\n%s", diff)
	}
}
