// Package secrets reads waguard's JSON secrets from AWS Secrets Manager
// with a short cache, and holds secret material in a type that never
// prints it.
//
// # Security properties
//
// A [Value] has no exported fields; its String, GoString, Format and
// LogValue reveal nothing, and [Value.Equal] compares in constant time.
// Reading the bytes needs the deliberately named [Value.Reveal].
//
// Secrets are read by version stage (AWSCURRENT, AWSPREVIOUS, AWSPENDING),
// which is how callers accept both keys during a rotation overlap.
//
// # Non-goals
//
// It does not write or rotate secrets (the rotate function does), and it
// never falls back to environment variables.
package secrets

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Version stages Secrets Manager attaches to secret versions.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// ErrNotFound is returned when the secret, or the requested stage of it,
// does not exist.
var ErrNotFound = errors.New("secret not found")

// Value is secret material. The zero Value is empty.
type Value struct{ b []byte }

// NewValue wraps b; the caller must not modify b afterwards.
func NewValue(b []byte) Value { return Value{b: b} }

// Reveal returns the secret bytes. Callers must not log or return them.
func (v Value) Reveal() []byte { return v.b }

// Empty reports whether the value has no bytes.
func (v Value) Empty() bool { return len(v.b) == 0 }

// Equal reports whether other equals the secret, in constant time.
func (v Value) Equal(other []byte) bool {
	return len(v.b) > 0 && subtle.ConstantTimeCompare(v.b, other) == 1
}

// String returns a fixed redaction marker.
func (Value) String() string { return "[secret]" }

// GoString returns a fixed redaction marker, also for %#v.
func (Value) GoString() string { return "[secret]" }

// Format writes the redaction marker for every verb, so that no fmt verb
// (%d and %x included) prints the bytes.
func (Value) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[secret]") }

// LogValue implements slog.LogValuer, so a Value never reaches a log.
func (Value) LogValue() slog.Value { return slog.StringValue("[secret]") }

// MarshalJSON refuses to serialise secret material.
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"[secret]"`), nil }

// Fields is a JSON secret: kind-specific fields such as "secret", "key"
// or "primary", each a Value, plus the version it came from.
type Fields struct {
	// VersionID identifies the secret version (not secret itself).
	VersionID string
	values    map[string]Value
	raw       map[string]json.RawMessage
}

// String names the version only; field values never print.
func (f Fields) String() string { return "secrets.Fields{version " + f.VersionID + "}" }

// Format writes [Fields.String] for every verb, so %v and %d print no bytes.
func (f Fields) Format(s fmt.State, _ rune) { _, _ = io.WriteString(s, f.String()) }

// LogValue implements slog.LogValuer with the version only.
func (f Fields) LogValue() slog.Value { return slog.StringValue(f.String()) }

// Get returns the string field name as a Value (empty when missing).
func (f Fields) Get(name string) Value { return f.values[name] }

// Decode unmarshals a non-secret field (a list of scopes, a kind) into v.
func (f Fields) Decode(name string, v any) error {
	raw, ok := f.raw[name]
	if !ok {
		return fmt.Errorf("secret field %q missing", name)
	}
	return json.Unmarshal(raw, v)
}

// getter is the one Secrets Manager call the store makes.
type getter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Store reads JSON secrets through a cache. It is safe for concurrent use.
type Store struct {
	c     getter
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	cache map[string]entry
}

type entry struct {
	f       Fields
	err     error
	dates   map[string]created // version creation times, for Accepted
	expires time.Time
}

// NewStore returns a store whose entries live ttl (a minute is typical:
// short enough that a rotation is picked up quickly).
func NewStore(c getter, ttl time.Duration) *Store {
	return &Store{c: c, ttl: ttl, now: time.Now, cache: map[string]entry{}}
}

// Get returns the secret id at stage. It returns [ErrNotFound] when the
// secret or stage does not exist; other errors mean Secrets Manager could
// not be read and the caller must fail closed.
func (s *Store) Get(ctx context.Context, id, stage string) (Fields, error) {
	key := id + "\x00" + stage
	s.mu.Lock()
	e, ok := s.cache[key]
	s.mu.Unlock()
	if ok && s.now().Before(e.expires) {
		return e.f, e.err
	}
	f, err := s.fetch(ctx, id, stage)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Fields{}, err // transient: never cached
	}
	s.mu.Lock()
	s.cache[key] = entry{f: f, err: err, expires: s.now().Add(s.ttl)}
	s.mu.Unlock()
	return f, err
}

func (s *Store) fetch(ctx context.Context, id, stage string) (Fields, error) {
	out, err := s.c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String(stage)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return Fields{}, ErrNotFound
	}
	if err != nil {
		return Fields{}, fmt.Errorf("get secret: %w", err)
	}
	return parse(aws.ToString(out.VersionId), []byte(aws.ToString(out.SecretString)))
}

// parse splits a JSON secret document into string Values and raw fields.
func parse(version string, doc []byte) (Fields, error) {
	f := Fields{VersionID: version, values: map[string]Value{}}
	if err := json.Unmarshal(doc, &f.raw); err != nil {
		return Fields{}, errors.New("parse secret: not a JSON object")
	}
	for k, raw := range f.raw {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			f.values[k] = NewValue([]byte(s))
		}
	}
	return f, nil
}
