package secretsmanager

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Staging labels that Secrets Manager manages itself.
const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
	stagePending  = "AWSPENDING"
)

// version is one version of a secret. A version created by RotateSecret has
// no value until the rotation function puts one.
type version struct {
	id      string
	str     *string
	bin     []byte
	stages  []string
	created time.Time
	seq     uint64
}

// hasValue reports whether a value has been stored in v.
func (v *version) hasValue() bool {
	return v.str != nil || v.bin != nil
}

// sameValue reports whether v holds exactly str or bin.
func (v *version) sameValue(str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) || (v.bin == nil) != (bin == nil) {
		return false
	}
	return (str == nil || *v.str == *str) && bytes.Equal(v.bin, bin)
}

// has reports whether staging label stage is attached to v.
func (v *version) has(stage string) bool {
	return slices.Contains(v.stages, stage)
}

// rotation is the rotation configuration and history of a secret.
type rotation struct {
	configured  bool // RotateSecret has been called at least once
	enabled     bool
	lambdaARN   string
	rules       *rotationRules
	lastRotated time.Time
	next        time.Time
}

// secret is one secret and all its versions.
type secret struct {
	arn          string
	name         string
	description  *string
	kmsKeyID     string
	tags         []tag
	created      time.Time
	changed      time.Time
	accessed     time.Time
	deleted      time.Time // zero unless scheduled for deletion
	deletionDate time.Time
	seq          uint64
	rotation     rotation
	versions     map[string]*version
}

// isDeleted reports whether sec is scheduled for deletion.
func (sec *secret) isDeleted() bool {
	return !sec.deleted.IsZero()
}

// owner returns the version that staging label stage is attached to, or nil.
func (sec *secret) owner(stage string) *version {
	for _, v := range sec.versions {
		if v.has(stage) {
			return v
		}
	}
	return nil
}

// attach moves staging label stage to v. Moving AWSCURRENT moves AWSPREVIOUS
// to the version that AWSCURRENT left, as AWS does.
func (sec *secret) attach(v *version, stage string) {
	old := sec.owner(stage)
	if old == v {
		return
	}
	if old != nil {
		old.stages = slices.DeleteFunc(old.stages, func(s string) bool { return s == stage })
	}
	v.stages = append(v.stages, stage)
	if stage == stageCurrent && old != nil {
		sec.attach(old, stagePrevious)
	}
}

// detach removes staging label stage from v.
func (sec *secret) detach(v *version, stage string) {
	v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == stage })
}

// sortedVersions returns the versions of sec, newest first.
func (sec *secret) sortedVersions() []*version {
	vs := make([]*version, 0, len(sec.versions))
	for _, v := range sec.versions {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b *version) int { return cmp.Compare(b.seq, a.seq) })
	return vs
}

// stageMap returns the labelled versions of sec and their labels.
func (sec *secret) stageMap() map[string][]string {
	m := make(map[string][]string)
	for _, v := range sec.versions {
		if len(v.stages) > 0 {
			m[v.id] = slices.Clone(v.stages)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// nextSeq returns a fresh sequence number. The caller holds s.mu.
func (s *Server) nextSeq() uint64 {
	s.seq++
	return s.seq
}

// clock returns the current time in UTC, to the millisecond that the wire
// format carries.
func (s *Server) clock() time.Time {
	return s.now().UTC().Truncate(time.Millisecond)
}

// arnPrefix is the ARN of a secret without its name and random suffix.
func (s *Server) arnPrefix() string {
	return "arn:aws:secretsmanager:" + s.region + ":" + s.accountID + ":secret:"
}

// find returns the secret named by id: a name, a full ARN or a partial ARN
// (one without the random suffix). It returns secrets scheduled for deletion
// too. The caller holds s.mu.
func (s *Server) find(id string) (*secret, error) {
	if id == "" {
		return nil, errRequired("secretId")
	}
	s.purge()
	if !strings.HasPrefix(id, "arn:") {
		if sec, ok := s.secrets[id]; ok {
			return sec, nil
		}
		return nil, errSecretNotFound()
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec, nil
		}
	}
	if name, ok := strings.CutPrefix(id, s.arnPrefix()); ok {
		if sec, ok := s.secrets[name]; ok {
			return sec, nil
		}
	}
	return nil, errSecretNotFound()
}

// findLive is find for operations that AWS refuses on a secret scheduled for
// deletion.
func (s *Server) findLive(id string) (*secret, error) {
	sec, err := s.find(id)
	if err != nil {
		return nil, err
	}
	if sec.isDeleted() {
		return nil, errDeleted()
	}
	return sec, nil
}

// purge forgets secrets whose recovery window has ended. The caller holds
// s.mu.
func (s *Server) purge() {
	now := s.clock()
	for name, sec := range s.secrets {
		if sec.isDeleted() && !now.Before(sec.deletionDate) {
			delete(s.secrets, name)
		}
	}
}

// validName matches the names that AWS accepts for a secret.
var validName = regexp.MustCompile(`^[A-Za-z0-9/_+=.@!-]{1,512}$`)

// checkName validates the name of a new secret.
func checkName(name string) error {
	if name == "" {
		return errRequired("name")
	}
	if !validName.MatchString(name) {
		return newError(codeInvalidParameter,
			"Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	return nil
}

// checkValue validates the SecretString and SecretBinary members of a
// request that must carry exactly one of them.
func checkValue(str *string, bin []byte) error {
	switch {
	case str != nil && bin != nil:
		return newError(codeInvalidParameter,
			"You can't specify both a binary secret value and a string secret value in the same secret.")
	case str == nil && bin == nil:
		return newError(codeInvalidParameter, "You must provide either SecretString or SecretBinary.")
	case str != nil:
		return checkLength("secretString", *str, 1, 65536)
	}
	return checkLength("secretBinary", string(bin), 1, 65536)
}

// alphanumerics are the characters of the random suffix of a secret ARN.
const alphanumerics = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newARN returns a new ARN for a secret called name.
func (s *Server) newARN(name string) string {
	suffix := make([]byte, 6)
	for i := range suffix {
		suffix[i] = alphanumerics[randIntn(len(alphanumerics))]
	}
	return s.arnPrefix() + name + "-" + string(suffix)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// epoch is a timestamp in the JSON 1.1 wire format: seconds since the Unix
// epoch, as a number with millisecond precision.
type epoch time.Time

// MarshalJSON encodes e as epoch seconds.
func (e epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(e).UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// stamp returns t as a wire timestamp, or nil if t is zero.
func stamp(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

// tag is a secret tag in the wire format.
type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// rotationRules is a rotation schedule in the wire format.
type rotationRules struct {
	AutomaticallyAfterDays *int64  `json:"AutomaticallyAfterDays,omitempty"`
	Duration               *string `json:"Duration,omitempty"`
	ScheduleExpression     *string `json:"ScheduleExpression,omitempty"`
}
