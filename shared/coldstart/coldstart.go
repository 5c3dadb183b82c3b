// Package coldstart builds, once per Lambda cold start, the dependencies
// every waguard function shares: the secrets cache, the blind-index and
// pseudonym keys, envelope encryption, the data store, the audit writer,
// flood control and the metrics recorder. Each function's main adds only
// what is its own.
//
// # Failure
//
// A setting that is missing, malformed or out of range is refused by
// [ConfigFromEnv] before anything is built, and main exits: the Lambda
// init fails. [Config.Build] returns an error when a secret cannot be
// read: a function that cannot encrypt or audit must not serve, never
// fall back to plaintext or to unaudited writes. A secret that could not
// be read (wrapping [ErrUnavailable]) makes an API function answer 503
// until a later invocation builds it ([Lazy]); nothing here exits the
// process.
package coldstart

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/blindindex"
	"github.com/waguard/waguard/shared/deadline"
	"github.com/waguard/waguard/shared/envelope"
	"github.com/waguard/waguard/shared/floodguard"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/outbound"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/settings"
	"github.com/waguard/waguard/shared/store"
)

// Clients are the SDK clients, built from one aws.Config in main.
type Clients struct {
	// Config builds the clients of the services only one function uses.
	Config         aws.Config
	DynamoDB       *dynamodb.Client
	KMS            *kms.Client
	SecretsManager *secretsmanager.Client
}

// Core is what every function shares. It holds no subject finder: the
// functions that find data subjects build one over Keys and Store
// (shared/subject.New), so that retention and rotate, which never parse a
// phone number, do not link libphonenumber.
type Core struct {
	Secrets  *secrets.Store
	Keys     *blindindex.Keys
	Envelope *envelope.Envelope
	Store    *store.Store
	Audit    *audit.Writer
	Flood    *floodguard.Guard
	Metrics  *metrics.Recorder
	Policy   retention.Policy
	// ContactKey keys the contact ids of events (shared/events.ContactID),
	// derived from the index key for this purpose only.
	ContactKey []byte
	// IdempotencyKey keys the idempotency records' hashes (derived from
	// the index key, so it needs no secret of its own).
	IdempotencyKey []byte
}

// Config is what every function reads of the environment (template.yaml's
// Globals), read once per cold start by [ConfigFromEnv]. It holds secret
// ids, never secret values.
type Config struct {
	// Stage is the metrics' Stage dimension (empty: none).
	Stage string
	// DataTable, KeysTable and AuditTable are the DynamoDB tables.
	DataTable, KeysTable, AuditTable string
	// KMSKeyID is the key that wraps the data keys.
	KMSKeyID string
	// IndexKeySecretID and PseudonymKeySecretID name the HMAC keys'
	// secrets.
	IndexKeySecretID, PseudonymKeySecretID string
	// Policy is the retention policy (RETENTION_DAYS_*).
	Policy retention.Policy
	// AuditRetention is how long audit events and digests live.
	AuditRetention time.Duration
}

// ConfigFromEnv reads the shared settings through getenv (os.Getenv in a
// function's loader) with their declarations in shared/settings. The
// error names every setting that is missing, malformed or out of range.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	err := settings.Join(
		settings.Read(&c.Stage, settings.Stage.Get, getenv),
		settings.Read(&c.DataTable, settings.DataTable.Get, getenv),
		settings.Read(&c.KeysTable, settings.KeysTable.Get, getenv),
		settings.Read(&c.AuditTable, settings.AuditTable.Get, getenv),
		settings.Read(&c.KMSKeyID, settings.KMSKeyID.Get, getenv),
		settings.Read(&c.IndexKeySecretID, settings.IndexKeySecretID.Get, getenv),
		settings.Read(&c.PseudonymKeySecretID, settings.PseudonymKeySecretID.Get, getenv),
		settings.Read(&c.AuditRetention, settings.AuditRetentionDays.Get, getenv),
		settings.Read(&c.Policy, retention.PolicyFromEnv, getenv),
	)
	if err != nil {
		return Config{}, fmt.Errorf("coldstart: %w", err)
	}
	return c, nil
}

// Build reads the shared settings through getenv ([ConfigFromEnv]) and
// builds the core for the named function: [Config.Build].
func Build(ctx context.Context, c Clients, getenv func(string) string, function string) (*Core, error) {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	return cfg.Build(ctx, c, function)
}

// Build builds the core of the named function with clients c, under ctx:
// it reads the HMAC keys from Secrets Manager (an error wrapping
// [ErrUnavailable] when it does not answer).
func (cfg Config) Build(ctx context.Context, c Clients, function string) (*Core, error) {
	sec := secrets.NewStore(c.SecretsManager, time.Minute)
	keys, floodKey, err := hmacKeys(ctx, sec, cfg.IndexKeySecretID, cfg.PseudonymKeySecretID)
	if err != nil {
		return nil, err
	}
	env, err := envelope.New(c.KMS, c.DynamoDB, envelope.Config{KeyID: cfg.KMSKeyID, KeysTable: cfg.KeysTable})
	if err != nil {
		return nil, err
	}
	writer, err := audit.NewWriter(c.DynamoDB, audit.WriterConfig{Table: cfg.AuditTable, Function: function, Retention: cfg.AuditRetention})
	if err != nil {
		return nil, err
	}
	rec, err := cfg.Recorder(function)
	if err != nil {
		return nil, err
	}
	rec.BeforeFlush(cryptoMetrics(env))
	st := store.New(c.DynamoDB, env, store.Config{Table: cfg.DataTable, Policy: cfg.Policy, Audit: writer})
	return &Core{
		Secrets: sec, Keys: keys, Envelope: env, Policy: cfg.Policy, Audit: writer, Metrics: rec,
		IdempotencyKey: derive(floodKey, "waguard/v1/idempotency"),
		ContactKey:     derive(floodKey, "waguard/v1/contact-key"),
		Store:          st,
		Flood:          floodguard.New(c.DynamoDB, floodguard.Config{Table: cfg.DataTable, Key: floodKey, Scope: function}),
	}, nil
}

// Outbound returns the sender of the outbound protocol (shared/outbound)
// over the core's store and keys, sending through p (nil: the function
// only confirms messages whose answer was lost).
func (c *Core) Outbound(p *provider.Sender) *outbound.Sender {
	s := &outbound.Sender{Store: c.Store, Lookup: func(id string) string { return c.Keys.Lookup("wamid", id) }}
	if p != nil {
		s.Provider = p
	}
	return s
}

// Recorder returns a metrics recorder of the named function, with the
// Stage dimension when the stage is set (alarms select their stage's
// metrics).
func (cfg Config) Recorder(function string) (*metrics.Recorder, error) {
	var dims []metrics.Option
	if cfg.Stage != "" {
		dims = append(dims, metrics.WithDimension("Stage", cfg.Stage))
	}
	return metrics.NewRecorder(function, dims...)
}

// hmacKeys reads the blind-index and pseudonym keys. The index key also
// keys flood control's source-IP hashes (floodguard adds its own label).
func hmacKeys(ctx context.Context, sec *secrets.Store, indexID, pseudonymID string) (*blindindex.Keys, []byte, error) {
	// Both at once: a slow Secrets Manager then costs one round trip of
	// the cold start's budget, not two.
	var pse secrets.Fields
	var perr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		pse, perr = sec.Get(ctx, pseudonymID, secrets.StageCurrent)
	}()
	idx, err := sec.Get(ctx, indexID, secrets.StageCurrent)
	<-done
	if err != nil {
		return nil, nil, fmt.Errorf("coldstart: index key: %w: %w", ErrUnavailable, err)
	}
	if perr != nil {
		return nil, nil, fmt.Errorf("coldstart: pseudonym key: %w: %w", ErrUnavailable, perr)
	}
	if idx.Get("key").Empty() || pse.Get("key").Empty() {
		return nil, nil, errors.New("coldstart: index or pseudonym key is empty")
	}
	keys, err := blindindex.NewKeys(idx.Get("key").Reveal(), pse.Get("key").Reveal())
	return keys, idx.Get("key").Reveal(), err
}

// cryptoMetrics adds, on every flush, the KMS requests and key-cache hits
// and misses since the previous flush.
func cryptoMetrics(env *envelope.Envelope) func(*metrics.Recorder) {
	var mu sync.Mutex
	var last envelope.Stats
	return func(r *metrics.Recorder) {
		mu.Lock()
		defer mu.Unlock()
		now := env.Stats()
		add := func(name string, cur, prev uint64) {
			if cur > prev {
				r.Add(name, int(cur-prev))
			}
		}
		add(metrics.KMSCalls, now.KMSRequests(), last.KMSRequests())
		add(metrics.KeyCacheHits, now.SubjectCacheHits+now.BranchCacheHits, last.SubjectCacheHits+last.BranchCacheHits)
		add(metrics.KeyCacheMisses, now.SubjectCacheMisses+now.BranchCacheMisses, last.SubjectCacheMisses+last.BranchCacheMisses)
		last = now
	}
}

// derive returns HMAC-SHA256(key, label): a key for another purpose.
func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Load reads the shared settings through getenv ([ConfigFromEnv]) and
// builds the clients and the core: [Config.Load].
func Load(ctx context.Context, getenv func(string) string, function string, opts ...func(*config.LoadOptions) error) (*Core, Clients, error) {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return nil, Clients{}, err
	}
	return cfg.Load(ctx, function, opts...)
}

// Load builds the SDK clients from the default configuration (credentials,
// region and AWS_ENDPOINT_URL_* from the environment, which the SDK reads;
// opts add to it, as tests add a call counter) and then the core, under
// ctx. Every call of the clients gets its own deadline under the
// invocation's (shared/deadline).
func (cfg Config) Load(ctx context.Context, function string, opts ...func(*config.LoadOptions) error) (*Core, Clients, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, Clients{}, fmt.Errorf("coldstart: aws config: %w", err)
	}
	awsCfg.APIOptions = append(awsCfg.APIOptions, deadline.AWS)
	c := Clients{Config: awsCfg, DynamoDB: dynamodb.NewFromConfig(awsCfg), KMS: kms.NewFromConfig(awsCfg), SecretsManager: secretsmanager.NewFromConfig(awsCfg)}
	core, err := cfg.Build(ctx, c, function)
	return core, c, err
}
