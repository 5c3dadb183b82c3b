package secrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// versionLister is the optional Secrets Manager call that dates versions;
// *secretsmanager.Client has it.
type versionLister interface {
	ListSecretVersionIds(ctx context.Context, in *secretsmanager.ListSecretVersionIdsInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretVersionIdsOutput, error)
}

// Accepted returns the versions of secret id a verifier must accept during
// and after a rotation: AWSCURRENT; AWSPENDING while a rotation is under
// way (a sender may switch before finishSecret); and AWSPREVIOUS only for
// overlap after the current version was created, so an old secret stops
// working once the rotation has settled. An error reading AWSCURRENT is
// returned (callers fail closed); the others are optional.
func (s *Store) Accepted(ctx context.Context, id string, overlap time.Duration) ([]Fields, error) {
	// The reads go out together, so a cold or expired cache costs one
	// Secrets Manager round trip, not four in a row.
	var pending, prev Fields
	var pendErr, prevErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); pending, pendErr = s.Get(ctx, id, StagePending) }()
	if overlap > 0 {
		wg.Add(2)
		go func() { defer wg.Done(); prev, prevErr = s.Get(ctx, id, StagePrevious) }()
		go func() { defer wg.Done(); _, _ = s.createdAt(ctx, id, "") }() // warms the version listing
	}
	cur, err := s.Get(ctx, id, StageCurrent)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	out := []Fields{cur}
	if pendErr == nil && pending.VersionID != cur.VersionID {
		out = append(out, pending)
	} else if pendErr != nil && !errors.Is(pendErr, ErrNotFound) {
		return nil, pendErr
	}
	if overlap <= 0 {
		return out, nil
	}
	created, err := s.createdAt(ctx, id, cur.VersionID)
	if err != nil || s.now().Sub(created) >= overlap {
		return out, nil //nolint:nilerr // without a date the previous secret is not accepted: fail closed
	}
	if prevErr == nil {
		out = append(out, prev)
	} else if !errors.Is(prevErr, ErrNotFound) {
		return nil, prevErr
	}
	return out, nil
}

// created returns when a version was created, through a cached listing.
func (s *Store) createdAt(ctx context.Context, id, version string) (time.Time, error) {
	key := id + "\x00versions"
	s.mu.Lock()
	e, ok := s.cache[key]
	s.mu.Unlock()
	if !ok || !s.now().Before(e.expires) {
		l, ok := s.c.(versionLister)
		if !ok {
			return time.Time{}, errors.New("list secret versions: not supported")
		}
		out, err := l.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(id)})
		if err != nil {
			return time.Time{}, fmt.Errorf("list secret versions: %w", err)
		}
		dates := map[string]created{}
		for _, v := range out.Versions {
			if v.CreatedDate != nil && slices.Contains(v.VersionStages, StageCurrent) {
				dates[aws.ToString(v.VersionId)] = created{t: *v.CreatedDate}
			}
		}
		e = entry{dates: dates, expires: s.now().Add(s.ttl)}
		s.mu.Lock()
		s.cache[key] = e
		s.mu.Unlock()
	}
	d, ok := e.dates[version]
	if !ok {
		return time.Time{}, errors.New("list secret versions: current version not listed")
	}
	return d.t, nil
}

// created holds a version's creation time in the cache.
type created struct{ t time.Time }

// refreshInterval bounds how often Refresh drops a secret's cache, so a
// caller presenting wrong keys cannot turn every request into reads.
const refreshInterval = 5 * time.Second

// Refresh drops every cached version of secret id, at most once per
// refreshInterval, and reports whether it did. A verifier calls it when a
// presented key matches nothing cached: the secret may have just been
// rotated (a new AWSPENDING or AWSCURRENT not yet in the cache).
func (s *Store) Refresh(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	marker := id + "\x00refreshed"
	if e, ok := s.cache[marker]; ok && s.now().Before(e.expires) {
		return false
	}
	for k := range s.cache {
		if strings.HasPrefix(k, id+"\x00") {
			delete(s.cache, k)
		}
	}
	s.cache[marker] = entry{expires: s.now().Add(refreshInterval)}
	return true
}
