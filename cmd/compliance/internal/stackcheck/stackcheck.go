// Package stackcheck checks a running waguard stack against the production
// checklist: the configuration AWS (or the local emulators) reports, and
// the behaviour of the API and webhooks when it is probed.
//
// # What it does to the stack
//
// It creates one synthetic data subject per run, with a fictitious number
// of the form +1 NXX 555 01xx that the stack has never seen, and erases it
// at the end: a marketing send without consent (refused), two forged
// webhooks claiming to come from it (refused, nothing stored), then a
// consent, a send, and an erasure request, after which it scans the data
// and keys tables and the day's audit events. What remains afterwards is
// what docs/gdpr.md says is kept: the erasure suppression, the erasure
// request, and pseudonymised audit events. The number is never printed:
// evidence shows it as "+1…NN". Last, it scans the audit table and runs
// the offline verifier over it (as cmd/auditverify does), which fails on
// any break, a due day without a digest or a late digest among them.
//
// # Security properties
//
// By default every endpoint, the gateway's and the AWS services', must be
// a loopback address ([Config.Validate]); probing a deployed stack needs
// [Config.AllowRemote]. Secret values it reads (the API key, the blind
// index keys) stay in memory and never reach evidence or errors.
//
// # Non-goals
//
// IAM cannot be checked on the local emulators, so the audit table's
// append-only permissions are a template check only; DynamoDB Local
// reports neither table encryption nor point-in-time recovery, so those
// findings are skipped locally and decided by the template.
package stackcheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/internal/loopback"
)

// Config says where the stack is and what the template says it holds.
type Config struct {
	// GatewayURL is the API's base URL; SandboxURL the local WhatsApp
	// sandbox, if any (used to count provider sends).
	GatewayURL, SandboxURL string
	// AWSEndpoints are the AWS_ENDPOINT_URL_* overrides in use, by service
	// (empty: the real AWS endpoints).
	AWSEndpoints map[string]string
	// DataTable, KeysTable and AuditTable are table names.
	DataTable, KeysTable, AuditTable string
	// KMSKeyID is the data key (alias or ARN).
	KMSKeyID string
	// AuditSigningKeyID is the audit digest's signing key (alias or ARN);
	// AuditPublicKey, if set, is its public key (PEM or DER) pinned when
	// the stack was created, used instead of asking KMS.
	AuditSigningKeyID string
	AuditPublicKey    []byte
	// IndexKeySecretID and PseudonymKeySecretID name the blind-index keys.
	IndexKeySecretID, PseudonymKeySecretID string
	// APIClientID and APIKeySecretID name the API client the probes use;
	// it needs the messages:send, consents:write, consents:read and
	// subjects:erase scopes.
	APIClientID, APIKeySecretID string
	// PhoneNumberID is the business number webhooks are addressed to.
	PhoneNumberID string
	// Secrets lists the template's secrets and whether each must rotate.
	Secrets []Secret
	// AllowRemote permits non-loopback endpoints.
	AllowRemote bool
	// ErasureTimeout bounds the wait for the probe's erasure to complete.
	ErasureTimeout time.Duration
}

// Secret is one secret the template declares.
type Secret struct {
	LogicalID, Name string
	Rotatable       bool
}

// Validate checks that the configuration names a stack, and that every
// endpoint is loopback unless AllowRemote is set.
func (c Config) Validate() error {
	if c.GatewayURL == "" {
		return errors.New("no gateway URL")
	}
	if c.AllowRemote {
		return nil
	}
	urls := map[string]string{"gateway": c.GatewayURL, "sandbox": c.SandboxURL}
	for _, svc := range []string{"DYNAMODB", "KMS", "SECRETS_MANAGER"} {
		u := c.AWSEndpoints[svc]
		if u == "" {
			return fmt.Errorf("AWS_ENDPOINT_URL_%s is unset, so the checks would reach AWS: pass -allow-remote to check a deployed stack", svc)
		}
		urls[svc] = u
	}
	for name, u := range urls {
		if u != "" && !loopback.IsURL(u) {
			return fmt.Errorf("%s endpoint is not a loopback address: pass -allow-remote to check a deployed stack", name)
		}
	}
	return nil
}

// local reports whether the AWS endpoints are emulators on loopback.
func (c Config) local() bool {
	for _, svc := range []string{"DYNAMODB", "KMS", "SECRETS_MANAGER"} {
		if !loopback.IsURL(c.AWSEndpoints[svc]) {
			return false
		}
	}
	return true
}

// tableAPI is the DynamoDB control-plane calls the checks make.
type tableAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	DescribeContinuousBackups(ctx context.Context, in *dynamodb.DescribeContinuousBackupsInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error)
}

// itemAPI is the DynamoDB reads the probes make.
type itemAPI interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// keyAPI is the KMS calls the checks make.
type keyAPI interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, opts ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	GetKeyRotationStatus(ctx context.Context, in *kms.GetKeyRotationStatusInput, opts ...func(*kms.Options)) (*kms.GetKeyRotationStatusOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, opts ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// secretAPI is the Secrets Manager calls the checks make.
type secretAPI interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Checker runs the stack checks. Build it with [New].
type Checker struct {
	cfg    Config
	tables tableAPI
	items  itemAPI
	keys   keyAPI
	sm     secretAPI
	web    *http.Client
	now    func() time.Time
}

// New returns a Checker that reaches AWS through awsCfg and the gateway
// through web. It returns an error from [Config.Validate].
func New(cfg Config, awsCfg aws.Config, web *http.Client) (*Checker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ErasureTimeout <= 0 {
		cfg.ErasureTimeout = 2 * time.Minute
	}
	db := dynamodb.NewFromConfig(awsCfg)
	return &Checker{cfg: cfg, tables: db, items: db, keys: kms.NewFromConfig(awsCfg),
		sm: secretsmanager.NewFromConfig(awsCfg), web: web, now: time.Now}, nil
}

// Check runs every stack check and probe, then verifies the audit trail.
func (c *Checker) Check(ctx context.Context) []checklist.Finding {
	out := []checklist.Finding{c.checkHTTPS(ctx), c.checkKMSRotation(ctx), c.checkSSE(ctx),
		c.checkPITR(ctx), c.checkTTL(ctx), c.checkSecretRotation(ctx), c.checkAuthentication(ctx)}
	out = append(out, c.probeSubject(ctx)...)
	return append(out, c.checkAuditTrail(ctx))
}
