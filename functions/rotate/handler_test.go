package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/secrets"
)

// These tests run against the local stack's Secrets Manager emulator, on
// secrets of their own (never the stack's shared secrets, which other
// packages use concurrently). They drive the four steps themselves, with
// the events Secrets Manager sends, on the handler built by newHandler:
//
//	{"SecretId":"<arn>","ClientRequestToken":"<token>","Step":"createSecret"}
//
// A rotation is started as AWS starts one: RotateSecret enables rotation
// and adds an AWSPENDING version without a value under the token. Its
// RotationLambdaARN names a function the stack does not run, so the
// emulator's own invocation of createSecret fails and leaves exactly that
// state for the test to drive (not the stack's rotate bootstrap, which
// may be an older build).

var steps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

const absentLambda = "arn:aws:lambda:eu-west-2:111122223333:function:waguard-rotate-test-absent"

type env struct {
	h  *Handler
	sm *secretsmanager.Client
	st stacktest.Stack
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := stacktest.Require(t)
	st.AsFunction(t, "RotateFunction")
	for k, v := range map[string]string{"DATA_TABLE": st.DataTable, "KEYS_TABLE": st.KeysTable, "AUDIT_TABLE": st.AuditTable,
		"KMS_KEY_ID": st.KMSKeyID, "INDEX_KEY_SECRET_ID": st.IndexKeySecretID, "PSEUDONYM_KEY_SECRET_ID": st.PseudonymKeySecretID,
		"PHONE_NUMBER_ID": sandbox.DefaultPhoneNumberID, "WHATSAPP_API_BASE_URL": st.SandboxURL, "GRAPH_API_VERSION": "v21.0",
		"API_KEY_OVERLAP_HOURS": "24"} {
		t.Setenv(k, v)
	}
	h, err := newHandler()
	if err != nil {
		t.Fatalf("newHandler() err = %v, want nil", err)
	}
	h.Log, h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard
	return &env{h: h, sm: secretsmanager.NewFromConfig(st.AWS(t)), st: st}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// letters returns n random lower-case letters: unique names and tokens
// without digit runs (the audit trail's personal-data guard refuses them).
func letters(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b)
}

// newSecret creates a secret of its own named .../clients/<last> and
// deletes it at the end of the test.
func (e *env) newSecret(t *testing.T, last string, value map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(value)
	out, err := e.sm.CreateSecret(ctxT(t), &secretsmanager.CreateSecretInput{
		Name: aws.String("waguard/test/rotate-" + letters(10) + "/clients/" + last), SecretString: aws.String(string(b))})
	if err != nil {
		t.Fatalf("CreateSecret() err = %v, want nil", err)
	}
	t.Cleanup(func() {
		_, _ = e.sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: out.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})
	})
	return aws.ToString(out.ARN)
}

// startRotation enables rotation and adds the empty AWSPENDING version,
// as Secrets Manager does before invoking createSecret.
func (e *env) startRotation(t *testing.T, arn string) string {
	t.Helper()
	token := "rot-" + letters(36)
	_, err := e.sm.RotateSecret(ctxT(t), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn),
		ClientRequestToken: aws.String(token), RotationLambdaARN: aws.String(absentLambda), RotateImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatalf("RotateSecret() err = %v, want nil", err)
	}
	return token
}

func (e *env) step(t *testing.T, arn, token, step string) error {
	t.Helper()
	_, err := e.h.Handle(ctxT(t), Event{SecretId: arn, ClientRequestToken: token, Step: step})
	return err
}

// run runs steps, each twice (every step must be idempotent).
func (e *env) run(t *testing.T, arn, token string, steps ...string) {
	t.Helper()
	for _, s := range steps {
		for i := range 2 {
			if err := e.step(t, arn, token, s); err != nil {
				t.Fatalf("Handle(%s, call %d) err = %v, want nil", s, i+1, err)
			}
		}
	}
}

// stages returns the secret's version IDs by stage.
func (e *env) stages(t *testing.T, arn string) map[string]string {
	t.Helper()
	d, err := e.sm.DescribeSecret(ctxT(t), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatalf("DescribeSecret() err = %v, want nil", err)
	}
	out := map[string]string{}
	for id, st := range d.VersionIdsToStages {
		for _, s := range st {
			out[s] = id
		}
	}
	return out
}

func (e *env) value(t *testing.T, arn, stage string) map[string]any {
	t.Helper()
	out, err := e.sm.GetSecretValue(ctxT(t), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatalf("GetSecretValue(%s) err = %v, want nil", stage, err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil {
		t.Fatalf("secret value is not JSON: %v", err)
	}
	return v
}

// stagePending puts an operator-staged value under the rotation's token.
func (e *env) stagePending(t *testing.T, arn, token string, value map[string]any) {
	t.Helper()
	b, _ := json.Marshal(value)
	_, err := e.sm.PutSecretValue(ctxT(t), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn),
		ClientRequestToken: aws.String(token), SecretString: aws.String(string(b)), VersionStages: []string{secrets.StagePending}})
	if err != nil {
		t.Fatalf("PutSecretValue(AWSPENDING) err = %v, want nil", err)
	}
}

// providerToken is a token the sandbox accepts: the stack's current
// primary (read only).
func (e *env) providerToken(t *testing.T) string {
	t.Helper()
	v := e.value(t, e.st.ProviderSecretID, secrets.StageCurrent)
	tok, _ := v["primary"].(string)
	if tok == "" {
		t.Fatal("stack provider secret has no primary")
	}
	return tok
}

func TestRotateEachKind(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		value map[string]any
		stage func(t *testing.T, arn, token string) // operator staging, if any
		check func(t *testing.T, old, cur map[string]any)
	}{
		{"webhook-secret", map[string]any{"kind": "webhook-secret", "secret": "old-secret", "verify_token": "vt"}, nil,
			func(t *testing.T, old, cur map[string]any) {
				if s, _ := cur["secret"].(string); !strings.HasPrefix(s, "whsec_") || cur["verify_token"] != "vt" {
					t.Errorf("new value: secret prefix ok = %v, verify_token kept = %v, want both", strings.HasPrefix(s, "whsec_"), cur["verify_token"] == "vt")
				}
			}},
		{"api-client", map[string]any{"kind": "api-client", "client_id": "ops", "scopes": []string{"messages:send"}, "key": strings.Repeat("k", 48)}, nil,
			func(t *testing.T, old, cur map[string]any) {
				if k, _ := cur["key"].(string); len(k) != 48 || k == old["key"] || cur["client_id"] != "ops" || cur["scopes"] == nil {
					t.Errorf("new value: key len %d changed %v, client_id/scopes kept %v, want 48 true true", len(k), k != old["key"], cur["client_id"] == "ops")
				}
			}},
		{"meta-app-secret", map[string]any{"kind": "meta-app-secret", "secret": "oldappsecretoldappsecret", "verify_token": "vt"},
			func(t *testing.T, arn, token string) {
				e.stageNext(t, arn, map[string]any{"secret": "newappsecretnewappsecret"})
			},
			func(t *testing.T, old, cur map[string]any) {
				if cur["secret"] != "newappsecretnewappsecret" || cur["verify_token"] != "vt" || cur["kind"] != "meta-app-secret" {
					t.Errorf("new value: staged secret %v, verify_token and kind kept %v, want both",
						cur["secret"] == "newappsecretnewappsecret", cur["verify_token"] == "vt" && cur["kind"] == "meta-app-secret")
				}
			}},
		{"webhook-endpoint", map[string]any{"kind": "webhook-endpoint", "url": "https://crm.example.com/hooks/waguard", "types": []string{"subject.erased"},
			"include_content": true, "secret": oldEndpointSecret}, nil,
			func(t *testing.T, old, cur map[string]any) {
				checkEndpointRotated(t, cur, oldEndpointSecret, e.h.Overlap)
			}},
		{"webhook-endpoint with a malformed secret", map[string]any{"kind": "webhook-endpoint", "url": "https://crm.example.com/hooks/waguard",
			"secret": "not-a-whsec"}, nil,
			func(t *testing.T, old, cur map[string]any) { checkEndpointRotated(t, cur, "", 0) }},
		{"provider-credentials", map[string]any{"kind": "provider-credentials", "primary": "old-token", "fallback": ""},
			func(t *testing.T, arn, token string) {
				e.stagePending(t, arn, token, map[string]any{"kind": "provider-credentials", "primary": e.providerToken(t), "fallback": "old-token"})
			},
			func(t *testing.T, old, cur map[string]any) {
				if cur["fallback"] != "old-token" || cur["primary"] == "old-token" {
					t.Errorf("new value: fallback is old primary %v, primary changed %v, want both", cur["fallback"] == "old-token", cur["primary"] != "old-token")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arn := e.newSecret(t, "ops", tt.value)
			oldID := e.stages(t, arn)[secrets.StageCurrent]
			token := e.startRotation(t, arn)
			if tt.stage != nil {
				tt.stage(t, arn, token)
			}
			e.run(t, arn, token, steps...)
			got := e.stages(t, arn)
			if got[secrets.StageCurrent] != token || got[secrets.StagePrevious] != oldID {
				t.Errorf("after finishSecret AWSCURRENT = %s, AWSPREVIOUS = %s, want %s, %s", got[secrets.StageCurrent], got[secrets.StagePrevious], token, oldID)
			}
			tt.check(t, e.value(t, arn, secrets.StagePrevious), e.value(t, arn, secrets.StageCurrent))
		})
	}
}

func TestRotateResumesFromEachStep(t *testing.T) {
	e := newEnv(t)
	for i, from := range steps {
		t.Run(from, func(t *testing.T) {
			arn := e.newSecret(t, "hook", map[string]any{"kind": "webhook-secret", "secret": "old"})
			oldID := e.stages(t, arn)[secrets.StageCurrent]
			token := e.startRotation(t, arn)
			e.run(t, arn, token, steps[:i+1]...) // interrupted after step i…
			e.run(t, arn, token, steps[i:]...)   // …and re-driven from it
			got := e.stages(t, arn)
			if got[secrets.StageCurrent] != token || got[secrets.StagePrevious] != oldID {
				t.Errorf("AWSCURRENT = %s, AWSPREVIOUS = %s, want %s, %s", got[secrets.StageCurrent], got[secrets.StagePrevious], token, oldID)
			}
		})
	}
}

func TestRotateRefuses(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		setup   func(t *testing.T) (arn, token, step string)
		wantErr string
	}{
		{"index-key", func(t *testing.T) (string, string, string) {
			arn := e.newSecret(t, "idx", map[string]any{"kind": "index-key", "key": strings.Repeat("x", 64)})
			return arn, e.startRotation(t, arn), "createSecret"
		}, "not rotatable"},
		{"pseudonym-key", func(t *testing.T) (string, string, string) {
			arn := e.newSecret(t, "pse", map[string]any{"kind": "pseudonym-key", "key": strings.Repeat("x", 64)})
			return arn, e.startRotation(t, arn), "testSecret"
		}, "not rotatable"},
		{"rotation disabled", func(t *testing.T) (string, string, string) {
			arn := e.newSecret(t, "off", map[string]any{"kind": "webhook-secret", "secret": "old"})
			token := e.startRotation(t, arn)
			if _, err := e.sm.CancelRotateSecret(ctxT(t), &secretsmanager.CancelRotateSecretInput{SecretId: aws.String(arn)}); err != nil {
				t.Fatalf("CancelRotateSecret() err = %v", err)
			}
			return arn, token, "createSecret"
		}, "rotation is not enabled"},
		{"unknown token", func(t *testing.T) (string, string, string) {
			arn := e.newSecret(t, "unk", map[string]any{"kind": "webhook-secret", "secret": "old"})
			e.startRotation(t, arn)
			return arn, "rot-" + letters(36), "createSecret"
		}, "has no stage"},
		{"token not AWSPENDING", func(t *testing.T) (string, string, string) {
			arn := e.newSecret(t, "prev", map[string]any{"kind": "webhook-secret", "secret": "old"})
			old := e.stages(t, arn)[secrets.StageCurrent]
			e.run(t, arn, e.startRotation(t, arn), steps...)
			return arn, old, "createSecret" // now AWSPREVIOUS
		}, "not AWSPENDING"},
		{"provider nothing staged", func(t *testing.T) (string, string, string) {
			arn := e.newSecret(t, "prov", map[string]any{"kind": "provider-credentials", "primary": "old-token"})
			return arn, e.startRotation(t, arn), "createSecret"
		}, "stage the new value under the label NEXT"},
		{"endpoint url refused", func(t *testing.T) (string, string, string) {
			arn := e.newSecret(t, "crm", map[string]any{"kind": "webhook-endpoint", "url": "http://crm.example.com/hook", "secret": oldEndpointSecret})
			token := e.startRotation(t, arn)
			e.run(t, arn, token, "createSecret", "setSecret")
			return arn, token, "testSecret"
		}, "must be https"},
		{"provider token refused", func(t *testing.T) (string, string, string) {
			arn := e.newSecret(t, "bad", map[string]any{"kind": "provider-credentials", "primary": "old-token"})
			token := e.startRotation(t, arn)
			e.stagePending(t, arn, token, map[string]any{"kind": "provider-credentials", "primary": "not-a-token-" + letters(8), "fallback": "old-token"})
			e.run(t, arn, token, "createSecret", "setSecret")
			return arn, token, "testSecret"
		}, "HTTP 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arn, token, step := tt.setup(t)
			before := e.stages(t, arn)
			err := e.step(t, arn, token, step)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Handle(%s) err = %v, want containing %q", step, err, tt.wantErr)
			}
			if after := e.stages(t, arn); after[secrets.StageCurrent] != before[secrets.StageCurrent] {
				t.Errorf("AWSCURRENT moved to %s after a refused step, want %s", after[secrets.StageCurrent], before[secrets.StageCurrent])
			}
		})
	}
}

// TestRotateCurrentTokenIsNoop checks that every step on a finished
// rotation's token does nothing.
func TestRotateCurrentTokenIsNoop(t *testing.T) {
	e := newEnv(t)
	arn := e.newSecret(t, "done", map[string]any{"kind": "webhook-secret", "secret": "old"})
	token := e.startRotation(t, arn)
	e.run(t, arn, token, steps...)
	want := e.value(t, arn, secrets.StageCurrent)["secret"]
	e.run(t, arn, token, steps...)
	if got := e.value(t, arn, secrets.StageCurrent)["secret"]; got != want || !slices.Contains([]string{token}, e.stages(t, arn)[secrets.StageCurrent]) {
		t.Errorf("re-running a finished rotation changed AWSCURRENT")
	}
}

func TestAuditVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"12345678-1234-1234-1234-123456789012", "1234567_8-1234-1234-1234-1234567_89012"},
		{"a1b2c3d4-e5f6", "a1b2c3d4-e5f6"},
		{"1234567", "1234567"},
		{"123456789012345", "1234567_8901234_5"},
	}
	for _, tt := range tests {
		if got := auditVersion(tt.in); got != tt.want || strings.ReplaceAll(got, "_", "") != tt.in {
			t.Errorf("auditVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRotateProviderFromNext stages the next provider credentials under
// the NEXT label ahead of the rotation, as an operator does: the rotation
// makes them current with the old primary as fallback and takes the label
// off, so the next rotation cannot reuse them.
func TestRotateProviderFromNext(t *testing.T) {
	e := newEnv(t)
	arn := e.newSecret(t, "prov", map[string]any{"kind": "provider-credentials", "primary": "old-token", "fallback": ""})
	e.stageNext(t, arn, map[string]any{"kind": "provider-credentials", "primary": e.providerToken(t)})
	token := e.startRotation(t, arn)
	e.run(t, arn, token, steps...)
	cur := e.value(t, arn, secrets.StageCurrent)
	if cur["primary"] != e.providerToken(t) || cur["fallback"] != "old-token" {
		t.Errorf("after rotation: primary is the staged token %v, fallback is the old primary %v; want both",
			cur["primary"] == e.providerToken(t), cur["fallback"] == "old-token")
	}
	if id, ok := e.stages(t, arn)[StageNext]; ok {
		t.Errorf("label %s still on version %s after the rotation, want removed", StageNext, id)
	}
}

// stageNext stages a value under the NEXT label, as an operator does
// ahead of a rotation.
func (e *env) stageNext(t *testing.T, arn string, value map[string]any) {
	t.Helper()
	b, _ := json.Marshal(value)
	if _, err := e.sm.PutSecretValue(ctxT(t), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn),
		SecretString: aws.String(string(b)), VersionStages: []string{StageNext}}); err != nil {
		t.Fatalf("PutSecretValue(%s) err = %v, want nil", StageNext, err)
	}
}

// TestConfigurationTest is the check RotateSecret makes when it does not
// rotate at once: testSecret for an AWSPENDING version without a value
// succeeds for every kind, even one whose values only an operator stages.
func TestConfigurationTest(t *testing.T) {
	e := newEnv(t)
	for _, kind := range []string{"meta-app-secret", "provider-credentials", "api-client", "webhook-secret", "webhook-endpoint"} {
		arn := e.newSecret(t, "ops", map[string]any{"kind": kind, "client_id": "ops", "key": strings.Repeat("k", 48)})
		token := e.startRotation(t, arn)
		if err := e.step(t, arn, token, "testSecret"); err != nil {
			t.Errorf("%s: configuration test err = %v, want nil", kind, err)
		}
	}
}

// oldEndpointSecret is a synthetic endpoint signing secret (whsec_ and
// the base64 of 32 bytes), used nowhere else.
const oldEndpointSecret = "whsec_dGVzdC1yb3RhdGUtZW5kcG9pbnQtb2xkLTMyYnl0ZXM="

// checkEndpointRotated checks a rotated endpoint secret: a new whsec_
// secret of 32 bytes, the old one kept as previous_secret until about
// overlap from now (or none when prev is empty), the other fields kept.
func checkEndpointRotated(t *testing.T, cur map[string]any, prev string, overlap time.Duration) {
	t.Helper()
	s, _ := cur["secret"].(string)
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if !strings.HasPrefix(s, "whsec_") || err != nil || len(k) != 32 || s == prev {
		t.Errorf("new secret: whsec_ %v, 32 bytes %v, changed %v; want all", strings.HasPrefix(s, "whsec_"), len(k) == 32, s != prev)
	}
	if got, _ := cur["previous_secret"].(string); got != prev {
		t.Errorf("previous_secret is the old secret %v, want %v", got == prev, prev != "")
	}
	until, _ := cur["previous_until"].(string)
	if prev == "" {
		if until != "" {
			t.Errorf("previous_until = %q without a previous secret, want empty", until)
		}
		return
	}
	u, err := time.Parse(time.RFC3339, until)
	if d := time.Until(u); err != nil || d > overlap || d < overlap-time.Minute {
		t.Errorf("previous_until = %q, want about %v from now", until, overlap)
	}
	if cur["url"] != "https://crm.example.com/hooks/waguard" || cur["include_content"] != true || cur["kind"] != "webhook-endpoint" {
		t.Errorf("url, include_content and kind kept = %v, want true", cur["url"] == "https://crm.example.com/hooks/waguard" && cur["include_content"] == true)
	}
}
