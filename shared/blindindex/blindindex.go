// Package blindindex derives the keyed identifiers that let waguard find a
// person's data without storing their phone number in the clear: the blind
// index that partitions the data table, the pseudonym that names the
// subject in the audit trail, and lookups for provider message ids.
//
// # Construction
//
// Every identifier is base64url without padding (43 characters) of
// HMAC-SHA256 over a fixed domain-separation label and the input:
//
//	Index(n)         = HMAC(index key,     "waguard/v1/blind-index\x00" ‖ E.164)
//	Pseudonym(n)     = HMAC(pseudonym key, "waguard/v1/audit-pseudonym\x00" ‖ E.164)
//	UserIndex(u)     = HMAC(index key,     "waguard/v1/blind-index-bsuid\x00" ‖ BSUID)
//	UserPseudonym(u) = HMAC(pseudonym key, "waguard/v1/audit-pseudonym-bsuid\x00" ‖ BSUID)
//	Lookup(kind, id) = HMAC(index key,     "waguard/v1/lookup\x00" ‖ uvarint(len(kind)) ‖ kind ‖ id)
//
// The labels end in a NUL byte, which no label contains, and the lookup kind
// is length-prefixed, so no two different inputs hash the same bytes. The
// test vectors in testdata pin the construction: changing it orphans every
// partition in the data table. A phone number and a business-scoped user
// id (BSUID, WhatsApp's other identifier of a person) have labels of their
// own, so neither can collide with the other.
//
// # Security properties
//
//   - Without the index key, a [Keys.Index] reveals nothing about the
//     number and cannot be recomputed from a guessed number; the phone
//     number space is small enough to enumerate, so the key is the only
//     protection, and it lives in Secrets Manager.
//   - [Keys.Pseudonym] uses a second key and label, so the audit trail alone
//     cannot be joined to the data table, nor the data table to the audit
//     trail. [NewKeys] refuses identical keys.
//   - [Keys.Lookup] hides provider message ids ("wamid.…" embeds the phone
//     number) while still allowing an exact-match lookup.
//   - [Keys] holds the key material in unexported fields; String, Format and
//     LogValue reveal nothing. It is safe for concurrent use.
//
// # Non-goals
//
// These are pseudonyms, not anonymisation: under the GDPR they remain
// personal data. The package does not rotate keys (that would need a
// re-index of every partition; see docs/crypto.md) and does not encrypt.
package blindindex

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"

	"github.com/waguard/waguard/shared/phone/e164"
)

// MinKeySize is the shortest key, in bytes, that [NewKeys] accepts.
const MinKeySize = 32

// KindWAMID is the [Keys.Lookup] kind for WhatsApp message ids ("wamid.…").
const KindWAMID = "wamid"

// Domain-separation labels. Changing one orphans every stored identifier.
const (
	indexLabel         = "waguard/v1/blind-index\x00"
	pseudonymLabel     = "waguard/v1/audit-pseudonym\x00"
	userIndexLabel     = "waguard/v1/blind-index-bsuid\x00"
	userPseudonymLabel = "waguard/v1/audit-pseudonym-bsuid\x00"
	lookupLabel        = "waguard/v1/lookup\x00"
)

var (
	errShortKey = errors.New("new blind index keys: key shorter than 32 bytes")
	errSameKeys = errors.New("new blind index keys: index and pseudonym keys are identical")
	errZero     = errors.New("blind index: empty identifier")
)

// Keys derives blind indexes, pseudonyms and lookups. Create it with
// [NewKeys] once per cold start; it is safe for concurrent use.
type Keys struct {
	index     *mac
	pseudonym *mac
}

var _ slog.LogValuer = (*Keys)(nil)

// NewKeys returns Keys for the blind-index key and the audit-pseudonym key.
// It copies both keys. It returns an error if either key is shorter than
// [MinKeySize] bytes or if the two are identical.
func NewKeys(indexKey, pseudonymKey []byte) (*Keys, error) {
	if len(indexKey) < MinKeySize || len(pseudonymKey) < MinKeySize {
		return nil, errShortKey
	}
	if subtle.ConstantTimeCompare(indexKey, pseudonymKey) == 1 {
		return nil, errSameKeys
	}
	return &Keys{index: newMAC(indexKey), pseudonym: newMAC(pseudonymKey)}, nil
}

// Index returns the blind index of n, the data table partition of its
// subject. It returns an error only for the zero Number.
func (k *Keys) Index(n e164.Number) (string, error) {
	if n.IsZero() {
		return "", errZero
	}
	return k.index.sum(indexLabel, "", n.E164()), nil
}

// Pseudonym returns the audit-trail pseudonym of n. It returns an error
// only for the zero Number.
func (k *Keys) Pseudonym(n e164.Number) (string, error) {
	if n.IsZero() {
		return "", errZero
	}
	return k.pseudonym.sum(pseudonymLabel, "", n.E164()), nil
}

// UserIndex returns the blind index of a business-scoped user id (a
// BSUID or parent BSUID, validated by the caller with shared/bsuid). It
// returns an error only for an empty id.
func (k *Keys) UserIndex(bsuid string) (string, error) {
	if bsuid == "" {
		return "", errZero
	}
	return k.index.sum(userIndexLabel, "", bsuid), nil
}

// UserPseudonym returns the audit-trail pseudonym of a person first known
// by a business-scoped user id. It returns an error only for an empty id.
func (k *Keys) UserPseudonym(bsuid string) (string, error) {
	if bsuid == "" {
		return "", errZero
	}
	return k.pseudonym.sum(userPseudonymLabel, "", bsuid), nil
}

// ForPhone returns both keys of n: its blind index ([Keys.Index]) and
// its audit pseudonym ([Keys.Pseudonym]), which every caller that
// identifies a person needs together. It returns an error only for the
// zero Number.
func (k *Keys) ForPhone(n e164.Number) (index, pseudonym string, err error) {
	if n.IsZero() {
		return "", "", errZero
	}
	return k.index.sum(indexLabel, "", n.E164()), k.pseudonym.sum(pseudonymLabel, "", n.E164()), nil
}

// ForUser returns both keys of a business-scoped user id: its blind
// index ([Keys.UserIndex]) and its audit pseudonym
// ([Keys.UserPseudonym]). It returns an error only for an empty id.
func (k *Keys) ForUser(bsuid string) (index, pseudonym string, err error) {
	if bsuid == "" {
		return "", "", errZero
	}
	return k.index.sum(userIndexLabel, "", bsuid), k.pseudonym.sum(userPseudonymLabel, "", bsuid), nil
}

// Lookup returns the keyed hash of a provider identifier id of the given
// kind, such as [KindWAMID], for deduplication and status lookups. Kinds
// separate domains: the same id under two kinds gives unrelated results.
// Kind must be a constant; id may be empty.
func (k *Keys) Lookup(kind, id string) string {
	return k.index.sum(lookupLabel, kind, id)
}

// String returns a fixed placeholder; it never reveals key material.
func (k *Keys) String() string { return "blindindex.Keys{redacted}" }

// Format implements fmt.Formatter so that every verb prints [Keys.String].
func (k *Keys) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue implements slog.LogValuer; it never reveals key material.
func (k *Keys) LogValue() slog.Value { return slog.StringValue(k.String()) }

// mac computes HMAC-SHA256 under one key, reusing hash states (whose inner
// and outer pads are already absorbed) through a pool.
type mac struct{ pool sync.Pool }

// state is one pooled HMAC with scratch space, so that sum allocates only
// its result.
type state struct {
	h   hash.Hash
	in  []byte
	out [sha256.Size]byte
}

func newMAC(key []byte) *mac {
	key = append([]byte(nil), key...)
	m := &mac{}
	m.pool.New = func() any {
		return &state{h: hmac.New(sha256.New, key), in: make([]byte, 0, 128)}
	}
	return m
}

// sum returns base64url(HMAC(label ‖ [uvarint(len(kind)) ‖ kind] ‖ data)),
// with the kind part present only for lookups.
func (m *mac) sum(label, kind, data string) string {
	s := m.pool.Get().(*state)
	s.in = append(s.in[:0], label...)
	if label == lookupLabel {
		s.in = binary.AppendUvarint(s.in, uint64(len(kind)))
		s.in = append(s.in, kind...)
	}
	s.in = append(s.in, data...)
	s.h.Reset()
	s.h.Write(s.in)
	var enc [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	base64.RawURLEncoding.Encode(enc[:], s.h.Sum(s.out[:0]))
	if cap(s.in) <= 1024 { // do not pin huge ids in the pool
		m.pool.Put(s)
	}
	return string(enc[:])
}
