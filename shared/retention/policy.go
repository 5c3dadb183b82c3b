// Package retention defines waguard's retention classes and the policy
// that turns a class into an expiry time, and computes the sparse
// expiry-index bucket every expiring item carries (docs/data-model.md).
//
// Every writer sets `expires_at` (the DynamoDB TTL attribute) and
// `exp_bucket` from the same [Policy], so a policy change applies to new
// writes at once and to existing items through the retention sweep.
//
// # Non-goals
//
// TTL is never relied on for correctness: DynamoDB deletes expired items
// late (DynamoDB Local never), so readers filter on `expires_at` and the
// retention function deletes what TTL has not.
package retention

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/waguard/waguard/shared/settings"
)

// Class is a retention class. The zero value is invalid.
type Class string

// The retention classes; message purposes map onto the first four.
const (
	ClassUnknown       Class = ""
	ClassTransactional Class = "transactional"
	ClassMarketing     Class = "marketing"
	ClassSupport       Class = "support"
	ClassOTP           Class = "otp"
	ClassStatus        Class = "status"
	ClassMetadata      Class = "metadata"
)

// Classes lists every valid class.
var Classes = []Class{ClassTransactional, ClassMarketing, ClassSupport, ClassOTP, ClassStatus, ClassMetadata}

// Shards is how many expiry-index partitions one day is spread over.
const Shards = 16

// ErrUnknownClass is returned for a class not in [Classes].
var ErrUnknownClass = errors.New("unknown retention class")

// Policy maps each class to a retention period in days.
type Policy struct {
	days map[Class]int
}

// DefaultPolicy is the seed's policy: transactional 90 days, marketing 30,
// support 180, otp 1, statuses and read receipts 30, metadata 90 (the
// defaults of the RETENTION_DAYS_* declarations in shared/settings).
func DefaultPolicy() Policy {
	p := Policy{days: map[Class]int{}}
	for c, s := range classSettings {
		p.days[c] = s.Default
	}
	return p
}

// classSettings are the settings of the classes' periods.
var classSettings = map[Class]settings.Int{
	ClassTransactional: settings.RetentionDaysTransactional, ClassMarketing: settings.RetentionDaysMarketing,
	ClassSupport: settings.RetentionDaysSupport, ClassOTP: settings.RetentionDaysOTP,
	ClassStatus: settings.RetentionDaysStatus, ClassMetadata: settings.RetentionDaysMetadata,
}

// PolicyFromEnv reads RETENTION_DAYS_<CLASS> (as template.yaml sets them)
// through getenv, keeping the default for any that is unset and refusing
// one that is not a whole number of days from 1 to 3650.
func PolicyFromEnv(getenv func(string) string) (Policy, error) {
	p := Policy{days: map[Class]int{}}
	var err error
	for _, c := range Classes {
		n, serr := classSettings[c].Get(getenv)
		err = errors.Join(err, serr)
		p.days[c] = n
	}
	if err != nil {
		return Policy{}, fmt.Errorf("retention policy: %w", err)
	}
	return p, nil
}

// Days returns the retention period of c.
func (p Policy) Days(c Class) (int, error) {
	d, ok := p.days[c]
	if !ok {
		return 0, ErrUnknownClass
	}
	return d, nil
}

// Expiry returns when an item of class c written at t expires.
func (p Policy) Expiry(c Class, t time.Time) (time.Time, error) {
	d, err := p.Days(c)
	if err != nil {
		return time.Time{}, err
	}
	return t.Add(time.Duration(d) * 24 * time.Hour), nil
}

// Written returns when an item of class c that expires at expires was
// written under p: its expiry less the class's period ([Policy.Expiry]
// reversed), for an item that did not record its write time.
func (p Policy) Written(c Class, expires time.Time) (time.Time, error) {
	d, err := p.Days(c)
	if err != nil {
		return time.Time{}, err
	}
	return expires.Add(-time.Duration(d) * 24 * time.Hour), nil
}

// Bucket returns the `exp_bucket` value for an item with partition key pk
// expiring at t: the UTC expiry day and a shard derived from pk.
func Bucket(pk string, t time.Time) string {
	sum := sha256.Sum256([]byte(pk))
	return BucketFor(t, int(sum[0])%Shards)
}

// BucketFor returns the bucket of a given day and shard.
func BucketFor(day time.Time, shard int) string {
	return fmt.Sprintf("%s#%02d", day.UTC().Format("2006-01-02"), shard)
}

// Valid reports whether c is a known class.
func (c Class) Valid() bool {
	for _, k := range Classes {
		if c == k {
			return true
		}
	}
	return false
}

// Change is a retention period that went down since the sweep last
// applied the policy: items of Class written under From days must be
// re-expired to To days.
type Change struct {
	Class    Class
	From, To int
}

// Shortened lists, in [Classes] order, every class whose period in p is
// shorter than in applied (the days per class the sweep last recorded; a
// class absent from applied has nothing to shorten).
func Shortened(applied map[Class]int, p Policy) []Change {
	var out []Change
	for _, c := range Classes {
		to, err := p.Days(c)
		if err == nil && applied[c] > to {
			out = append(out, Change{Class: c, From: applied[c], To: to})
		}
	}
	return out
}

// Reexpiry is what a shortened period does to one item.
type Reexpiry int

// The re-expiry decisions. The zero value keeps the item as it is.
const (
	// ReexpiryKeep: the item already expires no later than the new period.
	ReexpiryKeep Reexpiry = iota
	// ReexpiryDelete: the new period has passed; the item goes now.
	ReexpiryDelete
	// ReexpiryMove: the item gets the earlier expiry (and its bucket).
	ReexpiryMove
)

// Reexpire decides an item of a class whose period is now days: written
// at written and expiring at expires, seen at now. It returns the new
// expiry for [ReexpiryMove].
func Reexpire(written, expires time.Time, days int, now time.Time) (Reexpiry, time.Time) {
	exp := written.Add(time.Duration(days) * 24 * time.Hour)
	switch {
	case !exp.Before(expires):
		return ReexpiryKeep, time.Time{}
	case !exp.After(now):
		return ReexpiryDelete, time.Time{}
	}
	return ReexpiryMove, exp
}
