package endpoint

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/waguard/waguard/shared/deadline"
	"github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/secrets"
)

// RefreshPeriod is how long a [Loader] reuses what it loaded: a new,
// changed or deleted endpoint takes effect within this time.
const RefreshPeriod = time.Minute

// Limits of one load.
const (
	// retryPeriod replaces RefreshPeriod after a load in which an
	// endpoint could not be read, so it is tried again soon.
	retryPeriod = 5 * time.Second
	pageSize    = 100
	maxPages    = 20 // 2,000 secrets under the prefix
	parallel    = 8  // concurrent reads
)

// ErrUnavailable is wrapped by a [Problem]'s error when the endpoint's
// secret could not be read (Secrets Manager failed or timed out); the
// next load tries again after a few seconds.
var ErrUnavailable = errors.New("endpoint: configuration unavailable")

// secretsAPI lists the Secrets Manager calls a Loader makes, with the
// SDK's signatures: *secretsmanager.Client satisfies it.
type secretsAPI interface {
	ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ secretsAPI = (*secretsmanager.Client)(nil)

// Problem is an endpoint a load skipped: its name (the secret name after
// the prefix) and why. Err wraps [ErrInvalid] (fix the secret) or
// [ErrUnavailable] (transient), and holds no secret or URL.
type Problem struct {
	Name string
	Err  error
}

// Set is the result of one load: the usable endpoints, sorted by name,
// and the skipped ones.
type Set struct {
	Endpoints []Endpoint
	Problems  []Problem
}

// Get returns the usable endpoint called name.
func (s Set) Get(name string) (Endpoint, bool) {
	i, ok := slices.BinarySearchFunc(s.Endpoints, name, func(e Endpoint, n string) int { return cmp.Compare(e.name, n) })
	if !ok {
		return Endpoint{}, false
	}
	return s.Endpoints[i], true
}

// For returns the usable endpoints that receive events of type t.
func (s Set) For(t events.Type) []Endpoint {
	var out []Endpoint
	for _, e := range s.Endpoints {
		if e.Accepts(t) {
			out = append(out, e)
		}
	}
	return out
}

// Loader finds and reads the endpoint secrets under a name prefix. It is
// safe for concurrent use; build one per cold start.
type Loader struct {
	sm     secretsAPI
	prefix string
	period time.Duration
	now    func() time.Time

	mu      sync.Mutex // held for a whole load, so one caller loads while the others wait
	set     Set
	expires time.Time
	known   map[string]entry // by secret ARN
}

// entry is what a load found for one secret version.
type entry struct {
	version string
	e       Endpoint
	err     error
}

// prefixPattern is a secret name prefix that ListSecrets' name filter
// accepts, ending in '/'.
var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9:_@/+=.-]{1,500}/$`)

// NewLoader returns a loader of the endpoints whose secret names start
// with prefix, such as "waguard/prod/endpoints/" (ENDPOINT_SECRET_PREFIX).
func NewLoader(sm secretsAPI, prefix string) (*Loader, error) {
	if sm == nil || !prefixPattern.MatchString(prefix) {
		return nil, errors.New("endpoint: loader needs a Secrets Manager client and a name prefix ending in '/'")
	}
	return &Loader{sm: sm, prefix: prefix, period: RefreshPeriod, now: time.Now, known: map[string]entry{}}, nil
}

// Load returns the endpoints, reloading them when the last load is older
// than [RefreshPeriod]: it lists the secrets under the prefix and reads
// each one whose current version it has not read yet. A secret that does
// not parse, or could not be read, is left out and reported in
// [Set.Problems]; the others load. An error means the listing itself
// failed, and no endpoint is returned (fail closed: a deleted endpoint
// must not keep receiving).
func (l *Loader) Load(ctx context.Context) (Set, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.now().Before(l.expires) {
		return l.set.clone(), nil
	}
	listed, err := l.list(ctx)
	if err != nil {
		return Set{}, err
	}
	known := l.read(ctx, listed)
	set, retry := Set{}, false
	for _, s := range listed {
		k := known[s.arn]
		switch {
		case k.err == nil:
			set.Endpoints = append(set.Endpoints, k.e)
		default:
			retry = retry || errors.Is(k.err, ErrUnavailable)
			set.Problems = append(set.Problems, Problem{Name: s.name, Err: k.err})
		}
	}
	slices.SortFunc(set.Endpoints, func(a, b Endpoint) int { return cmp.Compare(a.name, b.name) })
	slices.SortFunc(set.Problems, func(a, b Problem) int { return cmp.Compare(a.Name, b.Name) })
	l.set, l.known = set, known
	l.expires = l.now().Add(l.period)
	if retry {
		l.expires = l.now().Add(min(retryPeriod, l.period))
	}
	return set.clone(), nil
}

// clone returns s with slices of its own, so a caller cannot change the
// loader's cache.
func (s Set) clone() Set {
	return Set{Endpoints: slices.Clone(s.Endpoints), Problems: slices.Clone(s.Problems)}
}

// listed is one secret under the prefix: its ARN, endpoint name and
// AWSCURRENT version.
type listed struct{ arn, name, version string }

// list pages through ListSecrets with a name filter on the prefix.
func (l *Loader) list(ctx context.Context) ([]listed, error) {
	in := &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(pageSize),
		Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{l.prefix}}}}
	var out []listed
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("list endpoints: more than %d secrets under the prefix", maxPages*pageSize)
		}
		cctx, cancel := deadline.For(ctx, deadline.SecretsManager)
		res, err := l.sm.ListSecrets(cctx, in)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("list endpoints: %w", err)
		}
		for _, s := range res.SecretList {
			name, ok := strings.CutPrefix(aws.ToString(s.Name), l.prefix)
			if !ok || s.ARN == nil { // the filter is a prefix match; this is a second check
				continue
			}
			out = append(out, listed{arn: aws.ToString(s.ARN), name: name, version: currentVersion(s.SecretVersionsToStages)})
		}
		if aws.ToString(res.NextToken) == "" {
			return out, nil
		}
		in.NextToken = res.NextToken
	}
}

// currentVersion returns the version labelled AWSCURRENT, or "".
func currentVersion(stages map[string][]string) string {
	for id, st := range stages {
		if slices.Contains(st, secrets.StageCurrent) {
			return id
		}
	}
	return ""
}

// read returns an entry for every listed secret: the one already known
// when its current version is unchanged, else a fresh read, up to
// parallel at a time. An unavailable read is not kept, so the next load
// reads it again.
func (l *Loader) read(ctx context.Context, listed []listed) map[string]entry {
	out := make(map[string]entry, len(listed))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for _, s := range listed {
		if k, ok := l.known[s.arn]; ok && s.version != "" && k.version == s.version && !errors.Is(k.err, ErrUnavailable) {
			mu.Lock() // reads started for earlier secrets write to out too
			out[s.arn] = k
			mu.Unlock()
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			k := l.readOne(ctx, s)
			mu.Lock()
			out[s.arn] = k
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// readOne reads and parses the AWSCURRENT value of one secret.
func (l *Loader) readOne(ctx context.Context, s listed) entry {
	if !ValidName(s.name) {
		return entry{version: s.version, err: invalid("name must be 1-64 letters, digits, '-' or '_'")}
	}
	cctx, cancel := deadline.For(ctx, deadline.SecretsManager)
	defer cancel()
	res, err := l.sm.GetSecretValue(cctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.arn), VersionStage: aws.String(secrets.StageCurrent)})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return entry{err: fmt.Errorf("%w: deleted or without a current value", ErrUnavailable)}
	case err != nil:
		return entry{err: fmt.Errorf("%w: get secret: %w", ErrUnavailable, err)}
	case res.SecretString == nil:
		return entry{version: aws.ToString(res.VersionId), err: invalid("value is not a string")}
	}
	version := aws.ToString(res.VersionId)
	e, err := Parse(s.name, version, []byte(*res.SecretString))
	return entry{version: version, e: e, err: err}
}
