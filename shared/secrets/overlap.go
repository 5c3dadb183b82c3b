package secrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	cur, err := s.Get(ctx, id, StageCurrent)
	if err != nil {
		return nil, err
	}
	out := []Fields{cur}
	if pending, err := s.Get(ctx, id, StagePending); err == nil && pending.VersionID != cur.VersionID {
		out = append(out, pending)
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if overlap <= 0 {
		return out, nil
	}
	created, err := s.createdAt(ctx, id, cur.VersionID)
	if err != nil || s.now().Sub(created) >= overlap {
		return out, nil //nolint:nilerr // without a date the previous secret is not accepted: fail closed
	}
	if prev, err := s.Get(ctx, id, StagePrevious); err == nil {
		out = append(out, prev)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
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
