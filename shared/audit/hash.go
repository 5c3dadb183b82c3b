package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"time"
)

// Hash is a SHA-256 hash. Items store it as 64 lower-case hex characters.
// The zero Hash is the genesis hash: the prev_hash of every chain's first
// event and of a digest chain's first digest.
type Hash [sha256.Size]byte

// String returns h in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the genesis hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// parseHash accepts exactly 64 lower-case hex characters.
func parseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, errors.New("hash: wrong length")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return h, errors.New("hash: not lower-case hex")
		}
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err
}

// Domain-separation tags: the first field of each canonical encoding.
const (
	eventTag    = "waguard/audit/event/v1"
	digestV1Tag = "waguard/audit/digest/v1"
	digestTag   = "waguard/audit/digest/v2"
)

// ComputeHash returns SHA-256 over e's canonical encoding. Every field is
// either fixed-width or length-prefixed, so no two events share an
// encoding:
//
//	str("waguard/audit/event/v1") str(Chain) u64(Seq) PrevHash[32]
//	str(ID) str(Time as RFC 3339, UTC, nanoseconds, trailing zeros dropped)
//	str(Type) str(Actor.Function) str(Actor.Caller) str(Subject)
//	str(RequestID) u64(ExpiresAt as Unix seconds, 0 for none)
//	u32(len(Details)) then str(key) str(value) for each key in byte order
//
// where str(s) is u32(len(s)) followed by the bytes of s, and u32/u64 are
// big-endian. The stored Hash is not part of the encoding.
func (e *Event) ComputeHash() Hash {
	return sha256.Sum256(e.canonical(make([]byte, 0, 512)))
}

func (e *Event) canonical(b []byte) []byte {
	b = appendStr(b, eventTag)
	b = appendStr(b, e.Chain)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = append(b, e.PrevHash[:]...)
	b = appendStr(b, e.ID)
	b = appendStr(b, formatTime(e.Time))
	b = appendStr(b, string(e.Type))
	b = appendStr(b, e.Actor.Function)
	b = appendStr(b, e.Actor.Caller)
	b = appendStr(b, e.Subject)
	b = appendStr(b, e.RequestID)
	b = binary.BigEndian.AppendUint64(b, unixOrZero(e.ExpiresAt))
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Details)))
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendStr(b, k)
		b = appendStr(b, e.Details[k])
	}
	return b
}

// ComputeHash returns SHA-256 over d's canonical encoding:
//
//	str("waguard/audit/digest/v2") str(Day) str(PrevDay) PrevHash[32]
//	str(CreatedAt as for events) u64(ExpiresAt as Unix seconds, 0 for none)
//	u8(Late: 1 if set, else 0)
//	u32(len(Heads)) then, for each head in chain order,
//	str(Chain) u64(Seq) Hash[32] u64(Count)
//
// A digest stored in format 1, made before digests carried Late, hashes
// as it was signed: the tag "waguard/audit/digest/v1" and no Late byte.
// The tags keep the two encodings apart, so no signature of one verifies
// as the other. The stored Hash and Signature are not part of either.
func (d *Digest) ComputeHash() Hash {
	b := make([]byte, 0, 128+len(d.Heads)*96)
	if d.v1 {
		b = appendStr(b, digestV1Tag)
	} else {
		b = appendStr(b, digestTag)
	}
	b = appendStr(b, d.Day)
	b = appendStr(b, d.PrevDay)
	b = append(b, d.PrevHash[:]...)
	b = appendStr(b, formatTime(d.CreatedAt))
	b = binary.BigEndian.AppendUint64(b, unixOrZero(d.ExpiresAt))
	switch {
	case d.v1:
	case d.Late:
		b = append(b, 1)
	default:
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(d.Heads)))
	for _, h := range d.Heads {
		b = appendStr(b, h.Chain)
		b = binary.BigEndian.AppendUint64(b, h.Seq)
		b = append(b, h.Hash[:]...)
		b = binary.BigEndian.AppendUint64(b, h.Count)
	}
	return sha256.Sum256(b)
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// formatTime is the one textual form of a time in items and encodings.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// parseTime accepts only what formatTime produces.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || formatTime(t) != s {
		return time.Time{}, errors.New("time: not canonical RFC 3339 UTC")
	}
	return t.UTC(), nil
}

func unixOrZero(t time.Time) uint64 {
	if t.IsZero() || t.Unix() < 0 {
		return 0
	}
	return uint64(t.Unix())
}

func parseDay(s string) (time.Time, error) { return time.Parse(dayLayout, s) }
