// Package stacktest gives integration tests the local stack that
// `make test` starts (or the one `make dev` runs): its endpoints, table and
// secret names, and an aws.Config that reaches the emulators through the
// SDK's standard AWS_ENDPOINT_URL_* variables.
//
// Tests call [Require]: without a stack it skips the test, except when the
// CI variable is set, where a missing stack fails it, so a skip can never
// hide a broken CI.
package stacktest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/waguard/waguard/devstack/iamguard"
)

// Stack describes the running local stack.
type Stack struct {
	// GatewayURL is the local API gateway, e.g. http://127.0.0.1:3000.
	GatewayURL string
	// SandboxURL is the WhatsApp sandbox.
	SandboxURL string
	// DataTable, KeysTable and AuditTable are the provisioned table names.
	DataTable, KeysTable, AuditTable string
	// KMSKeyID is the data key alias; AuditSigningKeyID the signing key alias.
	KMSKeyID, AuditSigningKeyID string
	// MetaWebhookSecretID, SignedWebhookSecretID, ProviderSecretID,
	// IndexKeySecretID and PseudonymKeySecretID are secret ARNs.
	MetaWebhookSecretID, SignedWebhookSecretID, ProviderSecretID string
	IndexKeySecretID, PseudonymKeySecretID                       string
	// EndpointSecretPrefix is where webhook endpoint secrets live
	// ("waguard/<stage>/endpoints/"); SandboxEndpointSecretID is the ARN
	// of the endpoint "sandbox", the sandbox's receiving endpoint, which
	// waguard-dev registers ("" for a stack started by an older
	// waguard-dev).
	EndpointSecretPrefix, SandboxEndpointSecretID string
	// EventBusName and EventBusARN are the event bus (read back what
	// reaches it with [Stack.BusTap]).
	EventBusName, EventBusARN string
	// EventBusTapQueueURL is the queue of the bus's shared catch-all rule,
	// for a developer to read; tests read through their own
	// [Stack.BusTap], which takes nothing from other tests.
	EventBusTapQueueURL string
	// EventsStreamFailuresQueueURL is the on-failure destination of the
	// events function's stream trigger.
	EventsStreamFailuresQueueURL string
	// Log is the stack log, where the functions' and emulators' lines go
	// (read it with [FunctionLines]); "" for a stack started by an older
	// waguard-dev.
	Log string
}

// Require returns the stack, or skips the test when none is configured
// (fails instead when CI is set).
func Require(t testing.TB) Stack {
	t.Helper()
	if os.Getenv("WAGUARD_GATEWAY_URL") == "" || os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("local stack not configured: run through `make test` (devstack/with-stack.sh)")
		}
		t.Skip("local stack not configured: run `make test`, or `make dev` and source .local/stack.env")
	}
	return Stack{
		GatewayURL:                   os.Getenv("WAGUARD_GATEWAY_URL"),
		SandboxURL:                   os.Getenv("WAGUARD_SANDBOX_URL"),
		DataTable:                    os.Getenv("WAGUARD_DATA_TABLE"),
		KeysTable:                    os.Getenv("WAGUARD_KEYS_TABLE"),
		AuditTable:                   os.Getenv("WAGUARD_AUDIT_TABLE"),
		KMSKeyID:                     os.Getenv("WAGUARD_KMS_KEY_ID"),
		AuditSigningKeyID:            os.Getenv("WAGUARD_AUDIT_SIGNING_KEY_ID"),
		MetaWebhookSecretID:          os.Getenv("WAGUARD_META_WEBHOOK_SECRET_ID"),
		SignedWebhookSecretID:        os.Getenv("WAGUARD_SIGNED_WEBHOOK_SECRET_ID"),
		ProviderSecretID:             os.Getenv("WAGUARD_PROVIDER_SECRET_ID"),
		IndexKeySecretID:             os.Getenv("WAGUARD_INDEX_KEY_SECRET_ID"),
		PseudonymKeySecretID:         os.Getenv("WAGUARD_PSEUDONYM_KEY_SECRET_ID"),
		EventBusName:                 os.Getenv("WAGUARD_EVENT_BUS_NAME"),
		EventBusARN:                  os.Getenv("WAGUARD_EVENT_BUS_ARN"),
		EventBusTapQueueURL:          os.Getenv("WAGUARD_EVENT_BUS_TAP_QUEUE_URL"),
		EventsStreamFailuresQueueURL: os.Getenv("WAGUARD_EVENTS_STREAM_FAILURES_QUEUE_URL"),
		EndpointSecretPrefix:         os.Getenv("WAGUARD_ENDPOINT_SECRET_PREFIX"),
		SandboxEndpointSecretID:      os.Getenv("WAGUARD_SANDBOX_ENDPOINT_SECRET_ID"),
		Log:                          os.Getenv("WAGUARD_STACK_LOG"),
	}
}

// RequireLog returns the path of the stack log, or skips the test when
// the stack was started by a waguard-dev that writes none (fails instead
// when CI is set, where the stack is always the current one).
func (s Stack) RequireLog(t testing.TB) string {
	t.Helper()
	if s.Log == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("WAGUARD_STACK_LOG is not set: the stack was started by an older waguard-dev")
		}
		t.Skip("WAGUARD_STACK_LOG is not set: restart `make dev` with the current waguard-dev")
	}
	return s.Log
}

// AWS loads the SDK configuration for the test's own calls (setup and
// checks): region and emulator endpoints from the standard environment
// variables, and the stack's unrestricted local credentials, whatever
// [Stack.AsFunction] set for the code under test.
func (s Stack) AWS(t testing.TB) aws.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	if err != nil {
		t.Fatalf("LoadDefaultConfig() err = %v, want nil", err)
	}
	return cfg
}

// AsFunction makes SDK clients built from the environment for the rest
// of the test (a function's newHandler) call DynamoDB, KMS, Secrets
// Manager, EventBridge and SQS as the template's function logicalID, e.g.
// "SendFunction": the local stack then refuses what that function's role
// does not allow, as AWS would (devstack/iamguard).
func (s Stack) AsFunction(t testing.TB, logicalID string) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", iamguard.AccessKey(logicalID))
}

// FunctionCredentials are the credentials of the template's function
// logicalID, for SDK clients of a test that sets data up as the function
// that writes it in production (the webhook storing an inbound message,
// say) while the code under test runs as another: a role must not look
// as if it used what only the test's setup did (devstack/cmd/iamcheck).
func (s Stack) FunctionCredentials(logicalID string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(iamguard.AccessKey(logicalID), "local", "")
}
