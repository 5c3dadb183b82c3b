// Package apiauth authenticates waguard's internal API callers by API key.
//
// # Presented key
//
// A caller sends
//
//	Authorization: Bearer wg_<client-id>_<key>
//
// where <client-id> matches [a-z0-9-]{1,64} and <key> is the "key" field
// of the client's secret, waguard/<stage>/clients/<client-id>:
//
//	{"kind":"api-client","client_id":"ops","scopes":["messages:send"],"key":"<generated>"}
//
// Secrets Manager generates only <key>; [PresentedKey] builds the full
// presented key for tooling. Because the client ID is part of the key, the
// client's secret is read by name: nothing scans every client.
//
// The header grammar is narrower than RFC 6750: the scheme "Bearer" is
// matched case-insensitively (RFC 9110 §11.1), followed by exactly one
// space and the key, with no other whitespace. <key> is 1 to [MaxKeyLen]
// characters of the RFC 6750 b64token alphabet ([A-Za-z0-9._~+/-], then
// "=" padding); keys must therefore be generated without other
// punctuation, as template.yaml does (ExcludePunctuation).
//
// # Security properties
//
//   - <key> is compared in constant time ([secrets.Value.Equal]) with the
//     key at AWSCURRENT, at AWSPENDING while a rotation is under way, and
//     at AWSPREVIOUS only during the configured overlap after the current
//     version was created ([secrets.Store.Accepted]); every accepted
//     version is compared, without an early exit. No other version is
//     accepted, and a stored key shorter than [MinStoredKeyLen] never is.
//   - An unknown client, a malformed header and a wrong key all return the
//     one opaque [ErrUnauthenticated]. Any other failure to read the
//     client's secret returns [ErrUnavailable]: the caller answers 503 and
//     never lets the request through.
//   - A matching secret whose kind is not "api-client", whose client_id
//     differs from the presented client ID, or whose scopes are not a list
//     of strings is a misconfiguration: [ErrUnavailable], fail closed.
//   - Scopes the package does not know are ignored: they grant nothing,
//     and a secret written for a newer release keeps working.
//   - Keys never appear in errors, and a [Principal] prints only its
//     client ID and scopes.
//
// Keys are not cached here: the [secrets.Store] cache (a short TTL) is the
// only one, so a rotation or a revoked client takes effect within it.
//
// # Non-goals
//
//   - Authorisation: the caller checks [Principal.Can] and answers 403
//     insufficient_scope.
//   - Flood limiting: the caller counts failures per source IP with
//     shared/floodguard before and after calling [Authenticator.Authenticate].
//   - Hiding which client IDs exist: client IDs are not secret, and an
//     unknown one may answer faster than a known one.
//   - Issuing or rotating keys (the rotate function does).
package apiauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/settings"
)

// DefaultOverlap is how long a key stays valid at AWSPREVIOUS after a
// rotation when [Config.Overlap] is zero.
const DefaultOverlap = 24 * time.Hour // settings.APIKeyOverlapHours.Default; a test holds them equal

// MinStoredKeyLen is the shortest stored key that can ever match.
const MinStoredKeyLen = 32

// ErrUnauthenticated is the one opaque error for a missing or malformed
// header, an unknown client or a wrong key.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrUnavailable wraps every other failure (Secrets Manager unreachable
// or throttled, context ended, client secret malformed). The caller
// answers 503 and must not let the request through.
var ErrUnavailable = errors.New("api key store unavailable")

// clientSecrets is the part of [secrets.Store] the authenticator uses.
// refresher is the optional cache capability Authenticate uses when a key
// matches nothing cached; *secrets.Store has it.
type refresher interface {
	Refresh(id string) bool
}

type clientSecrets interface {
	Accepted(ctx context.Context, id string, overlap time.Duration) ([]secrets.Fields, error)
	Get(ctx context.Context, id, stage string) (secrets.Fields, error)
}

var _ clientSecrets = (*secrets.Store)(nil)

// Config configures an [Authenticator].
type Config struct {
	// SecretPrefix is prepended to the client ID to name its secret, e.g.
	// "waguard/prod/clients/" (CLIENT_SECRET_PREFIX). It must end in "/".
	SecretPrefix string
	// Overlap is how long AWSPREVIOUS stays valid after a rotation;
	// zero means [DefaultOverlap].
	Overlap time.Duration
}

// Authenticator checks API keys. It is safe for concurrent use and holds
// no request data.
type Authenticator struct {
	store   clientSecrets
	prefix  string
	overlap time.Duration
}

// New returns an authenticator reading client secrets from store
// (a [*secrets.Store]).
func New(store clientSecrets, cfg Config) (*Authenticator, error) {
	switch {
	case store == nil:
		return nil, errors.New("new authenticator: no secret store")
	case cfg.SecretPrefix == "" || !strings.HasSuffix(cfg.SecretPrefix, "/"):
		return nil, errors.New("new authenticator: secret prefix must end in /")
	case cfg.Overlap < 0:
		return nil, errors.New("new authenticator: negative overlap")
	case cfg.Overlap == 0:
		cfg.Overlap = DefaultOverlap
	}
	return &Authenticator{store: store, prefix: cfg.SecretPrefix, overlap: cfg.Overlap}, nil
}

// Authenticate checks the value of an Authorization header and returns the
// authenticated client. It returns [ErrUnauthenticated] for a missing or
// malformed header, an unknown client or a wrong key, and an error
// wrapping [ErrUnavailable] when the client's secret could not be read or
// is malformed. The error never contains the key.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (Principal, error) {
	clientID, key, ok := parseAuthorization(authorization)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	id := a.prefix + clientID
	versions, err := a.store.Accepted(ctx, id, a.overlap)
	if errors.Is(err, secrets.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("%w: read client secret: %w", ErrUnavailable, err)
	}
	i := match(versions, key)
	if r, ok := a.store.(refresher); i < 0 && ok && r.Refresh(id) {
		// A key just rotated in may not be cached yet: read once more.
		if versions, err = a.store.Accepted(ctx, id, a.overlap); err != nil {
			return Principal{}, fmt.Errorf("%w: read client secret: %w", ErrUnavailable, err)
		}
		i = match(versions, key)
	}
	if i < 0 {
		return Principal{}, ErrUnauthenticated
	}
	scopes, err := clientScopes(versions[i], clientID)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: client %s: %w", ErrUnavailable, clientID, err)
	}
	kv, err := a.keyVersion(ctx, id, versions, i)
	if err != nil {
		return Principal{}, err
	}
	return Principal{ClientID: clientID, Scopes: scopes, KeyVersion: kv}, nil
}

// match returns the index of the version whose key equals key, or -1. It
// compares every version, so the time taken does not depend on which one
// matched.
func match(versions []secrets.Fields, key []byte) int {
	found := -1
	for i, v := range versions {
		stored := v.Get("key")
		ok := len(stored.Reveal()) >= MinStoredKeyLen && stored.Equal(key)
		if ok && found < 0 {
			found = i
		}
	}
	return found
}

// keyVersion names the stage of versions[i]. [secrets.Store.Accepted]
// lists AWSCURRENT first, then AWSPENDING and AWSPREVIOUS when accepted;
// the (cached) AWSPENDING read tells those two apart.
func (a *Authenticator) keyVersion(ctx context.Context, id string, versions []secrets.Fields, i int) (string, error) {
	if i == 0 {
		return KeyVersionCurrent, nil
	}
	pending, err := a.store.Get(ctx, id, secrets.StagePending)
	switch {
	case err == nil && pending.VersionID == versions[i].VersionID:
		return KeyVersionPending, nil
	case err == nil || errors.Is(err, secrets.ErrNotFound):
		return KeyVersionPrevious, nil
	default:
		return "", fmt.Errorf("%w: read client secret: %w", ErrUnavailable, err)
	}
}

// OverlapEnv is the setting that holds the overlap in hours (template
// parameter ApiKeyOverlapHours), declared in shared/settings.
const OverlapEnv = "API_KEY_OVERLAP_HOURS"

// OverlapFromEnv reads [OverlapEnv] through getenv with its one
// declaration (settings.APIKeyOverlapHours): [DefaultOverlap] when unset,
// an error (for a cold start to refuse) when it is not a whole number of
// hours from 1 to 720. Every function that checks API keys or rotates
// them reads it here, so they agree on one default.
func OverlapFromEnv(getenv func(string) string) (time.Duration, error) {
	return settings.APIKeyOverlapHours.Get(getenv)
}
