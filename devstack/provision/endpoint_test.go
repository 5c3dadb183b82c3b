package provision_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/provision"
	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/endpoint"
)

// TestRegisterEndpoint registers an endpoint twice, as waguard-dev does on
// every start of a persistent stack: the first call creates a valid
// endpoint secret with a fresh signing secret and enables rotation; the
// second points it at the new URL and keeps the secret.
func TestRegisterEndpoint(t *testing.T) {
	st := stacktest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sm := secretsmanager.NewFromConfig(st.AWS(t))
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "waguard/test/endpoints-" + hex.EncodeToString(b) + "/sandbox"
	t.Cleanup(func() {
		_, _ = sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true)})
	})
	rotate, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(st.SandboxEndpointSecretID)})
	if err != nil {
		t.Fatalf("DescribeSecret(the stack's sandbox endpoint) err = %v", err)
	}
	reg := provision.Endpoint{SecretName: name, URL: "http://127.0.0.1:4604/_sandbox/endpoint", IncludeContent: true,
		RotationLambdaARN: aws.ToString(rotate.RotationLambdaARN)}
	arn, err := provision.RegisterEndpoint(ctx, sm, reg)
	if err != nil {
		t.Fatalf("RegisterEndpoint() err = %v, want nil", err)
	}
	first := value(ctx, t, sm, arn)
	e, err := endpoint.Parse("sandbox", "v", []byte(first))
	if err != nil || !e.IncludeContent() || e.URL() != reg.URL || len(e.Types()) != 0 {
		t.Fatalf("registered value parses to %v, %v; want the sandbox URL with content and every type", e, err)
	}
	if d, _ := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)}); !aws.ToBool(d.RotationEnabled) {
		t.Errorf("rotation enabled = false, want true")
	}
	reg.URL = "http://127.0.0.1:4704/_sandbox/endpoint"
	again, err := provision.RegisterEndpoint(ctx, sm, reg)
	second := value(ctx, t, sm, arn)
	if err != nil || again != arn || field(t, second, "secret") != field(t, first, "secret") || field(t, second, "url") != reg.URL {
		t.Errorf("second RegisterEndpoint() = same secret %v, url updated %v, %v; want true, true, nil",
			field(t, second, "secret") == field(t, first, "secret"), field(t, second, "url") == reg.URL, err)
	}
}

func value(ctx context.Context, t *testing.T, sm *secretsmanager.Client, id string) string {
	t.Helper()
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetSecretValue() err = %v", err)
	}
	return aws.ToString(out.SecretString)
}

func field(t *testing.T, doc, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("value is not JSON")
	}
	s, _ := m[name].(string)
	return strings.TrimSpace(s)
}
