// Package coldstart builds, once per Lambda cold start, the dependencies
// every waguard function shares: the secrets cache, the blind-index and
// pseudonym keys, envelope encryption, the data store, the audit writer,
// flood control and the metrics recorder. Each function's main adds only
// what is its own.
//
// # Failure
//
// Build returns an error when a secret cannot be read or a setting is
// missing: a function that cannot encrypt or audit must not serve, never
// fall back to plaintext or to unaudited writes. A missing setting makes
// main exit; a secret that could not be read (wrapping [ErrUnavailable])
// makes an API function answer 503 until a later invocation builds it
// ([Lazy]).
package coldstart

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
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
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// Clients are the SDK clients, built from one aws.Config in main.
type Clients struct {
	// Config builds the clients of the services only one function uses.
	Config         aws.Config
	DynamoDB       *dynamodb.Client
	KMS            *kms.Client
	SecretsManager *secretsmanager.Client
}

// Core is what every function shares.
type Core struct {
	Secrets  *secrets.Store
	Keys     *blindindex.Keys
	Envelope *envelope.Envelope
	Store    *store.Store
	// Subjects finds the person a request or event is about, by phone
	// number or business-scoped user id.
	Subjects *subject.Finder
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

// Build reads the shared settings (as template.yaml's Globals set them)
// through getenv and builds the core for the named function.
func Build(ctx context.Context, c Clients, getenv func(string) string, function string) (*Core, error) {
	need := map[string]string{}
	for _, k := range []string{"DATA_TABLE", "KEYS_TABLE", "AUDIT_TABLE", "KMS_KEY_ID", "INDEX_KEY_SECRET_ID", "PSEUDONYM_KEY_SECRET_ID"} {
		if need[k] = getenv(k); need[k] == "" {
			return nil, fmt.Errorf("coldstart: %s is not set", k)
		}
	}
	policy, err := retention.PolicyFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	sec := secrets.NewStore(c.SecretsManager, time.Minute)
	keys, floodKey, err := hmacKeys(ctx, sec, need["INDEX_KEY_SECRET_ID"], need["PSEUDONYM_KEY_SECRET_ID"])
	if err != nil {
		return nil, err
	}
	env, err := envelope.New(c.KMS, c.DynamoDB, envelope.Config{KeyID: need["KMS_KEY_ID"], KeysTable: need["KEYS_TABLE"]})
	if err != nil {
		return nil, err
	}
	writer, err := audit.NewWriter(c.DynamoDB, audit.WriterConfig{Table: need["AUDIT_TABLE"], Function: function,
		Retention: auditRetention(getenv("AUDIT_RETENTION_DAYS"))})
	if err != nil {
		return nil, err
	}
	rec, err := newRecorder(getenv, function)
	if err != nil {
		return nil, err
	}
	rec.BeforeFlush(cryptoMetrics(env))
	st := store.New(c.DynamoDB, env, store.Config{Table: need["DATA_TABLE"], Policy: policy, Audit: writer})
	return &Core{
		Secrets: sec, Keys: keys, Envelope: env, Policy: policy, Audit: writer, Metrics: rec,
		IdempotencyKey: derive(floodKey, "waguard/v1/idempotency"),
		ContactKey:     derive(floodKey, "waguard/v1/contact-key"),
		Store:          st,
		Subjects:       subject.New(keys, st),
		Flood:          floodguard.New(c.DynamoDB, floodguard.Config{Table: need["DATA_TABLE"], Key: floodKey, Scope: function}),
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

// newRecorder returns the function's metrics recorder.
func newRecorder(getenv func(string) string, function string) (*metrics.Recorder, error) {
	var dims []metrics.Option
	if stage := getenv("STAGE"); stage != "" { // alarms select their stage's metrics
		dims = append(dims, metrics.WithDimension("Stage", stage))
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

func auditRetention(days string) time.Duration {
	n, err := strconv.Atoi(days)
	if err != nil || n <= 0 {
		n = 2190
	}
	return time.Duration(n) * 24 * time.Hour
}

// Load builds the SDK clients from the default configuration (credentials,
// region and AWS_ENDPOINT_URL_* from the environment; opts add to it, as
// tests add a call counter) and then the core, under ctx. Every call of
// the clients gets its own deadline under the invocation's
// (shared/deadline).
func Load(ctx context.Context, getenv func(string) string, function string, opts ...func(*config.LoadOptions) error) (*Core, Clients, error) {
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, Clients{}, fmt.Errorf("coldstart: aws config: %w", err)
	}
	cfg.APIOptions = append(cfg.APIOptions, deadline.AWS)
	c := Clients{Config: cfg, DynamoDB: dynamodb.NewFromConfig(cfg), KMS: kms.NewFromConfig(cfg), SecretsManager: secretsmanager.NewFromConfig(cfg)}
	core, err := Build(ctx, c, getenv, function)
	return core, c, err
}
