package audit

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item attribute names and key prefixes (see docs/data-model.md).
const (
	attrPK        = "pk"
	attrSK        = "sk"
	attrVersion   = "v"
	attrSeq       = "seq"
	attrDay       = "day"
	attrID        = "id"
	attrTime      = "time"
	attrType      = "type"
	attrActor     = "actor"
	attrFunction  = "function"
	attrCaller    = "caller"
	attrSubject   = "subject"
	attrRequestID = "request_id"
	attrDetails   = "details"
	attrPrevHash  = "prev_hash"
	attrHash      = "hash"
	attrExpiresAt = "expires_at"
	attrPrevDay   = "prev_day"
	attrCreatedAt = "created_at"
	attrParts     = "parts"
	attrHeads     = "heads"
	attrSignature = "signature"
	attrChain     = "chain"
	attrCount     = "count"
	attrLate      = "late"

	chainPrefix  = "chain#"
	digestPrefix = "digest#"
	digestSK     = "digest"
	partPrefix   = "part#"
	formatV1     = "1"
	formatV2     = "2"
	seqDigits    = 20
)

// seqKey is the sort key of an event: its sequence number, 20 digits.
func seqKey(seq uint64) string { return fmt.Sprintf("%0*d", seqDigits, seq) }

func partKey(i int) string { return fmt.Sprintf("%s%04d", partPrefix, i) }

func strAV(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func numAV(n uint64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatUint(n, 10)}
}

// eventItem is the stored form of an event.
func eventItem(e *Event) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrPK: strAV(chainPrefix + e.Chain), attrSK: strAV(seqKey(e.Seq)),
		attrVersion: &types.AttributeValueMemberN{Value: formatV1}, attrSeq: numAV(e.Seq),
		attrDay: strAV(e.Day()), attrID: strAV(e.ID), attrTime: strAV(formatTime(e.Time)),
		attrType: strAV(string(e.Type)),
		attrActor: &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			attrFunction: strAV(e.Actor.Function), attrCaller: strAV(e.Actor.Caller)}},
		attrPrevHash: strAV(e.PrevHash.String()), attrHash: strAV(e.Hash.String()),
	}
	if e.Subject != "" {
		item[attrSubject] = strAV(e.Subject)
	}
	if e.RequestID != "" {
		item[attrRequestID] = strAV(e.RequestID)
	}
	if len(e.Details) > 0 {
		m := make(map[string]types.AttributeValue, len(e.Details))
		for k, v := range e.Details {
			m[k] = strAV(v)
		}
		item[attrDetails] = &types.AttributeValueMemberM{Value: m}
	}
	if !e.ExpiresAt.IsZero() {
		item[attrExpiresAt] = numAV(unixOrZero(e.ExpiresAt))
	}
	return item
}

// storedEvent is a parsed event item plus what the item says about where
// it sits, which the verifier compares with what the event says.
type storedEvent struct {
	Event
	pos uint64 // the sequence number in the sort key
	day string // the day attribute
}

// parseEvent reads an event item strictly: unknown attributes, wrong
// types and non-canonical numbers or times are errors.
func parseEvent(item map[string]types.AttributeValue) (*storedEvent, error) {
	r := itemReader{item: item}
	s := &storedEvent{}
	s.Chain = strings.TrimPrefix(r.str(attrPK, true), chainPrefix)
	s.pos = parseSK(&r)
	r.version(formatV1)
	s.Seq = r.num(attrSeq, true)
	s.day = r.str(attrDay, true)
	s.ID = r.str(attrID, true)
	s.Time = r.time(attrTime)
	s.Type = EventType(r.str(attrType, true))
	s.Actor = r.actor()
	s.Subject = r.str(attrSubject, false)
	s.RequestID = r.str(attrRequestID, false)
	s.Details = r.strMap(attrDetails)
	s.PrevHash = r.hash(attrPrevHash)
	s.Hash = r.hash(attrHash)
	s.ExpiresAt = r.unix(attrExpiresAt)
	if err := r.done(); err != nil {
		return nil, err
	}
	if !validChain(s.Chain) || s.Seq == 0 || s.pos == 0 {
		return nil, errors.New("event: bad chain or zero sequence")
	}
	return s, nil
}

// validChain accepts writer IDs: 1 to 128 of [A-Za-z0-9_-].
func validChain(c string) bool {
	if c == "" || len(c) > maxIDLen {
		return false
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; (b < 'a' || b > 'z') && (b < 'A' || b > 'Z') && (b < '0' || b > '9') && b != '_' && b != '-' {
			return false
		}
	}
	return true
}

func parseSK(r *itemReader) uint64 {
	sk := r.str(attrSK, true)
	if len(sk) != seqDigits && r.err == nil {
		r.err = errors.New("sk: not a 20-digit sequence")
		return 0
	}
	n, err := strconv.ParseUint(sk, 10, 64)
	if err != nil && r.err == nil {
		r.err = errors.New("sk: not a 20-digit sequence")
	}
	return n
}

// itemReader reads attributes, keeping the first error, and counts them
// so that done can reject attributes nobody asked for.
type itemReader struct {
	item map[string]types.AttributeValue
	err  error
	seen int
}

func (r *itemReader) get(name string, required bool) (types.AttributeValue, bool) {
	av, ok := r.item[name]
	if !ok {
		if required && r.err == nil {
			r.err = fmt.Errorf("attribute %s: missing", name)
		}
		return nil, false
	}
	r.seen++
	return av, true
}

func (r *itemReader) fail(name, what string) {
	if r.err == nil {
		r.err = fmt.Errorf("attribute %s: %s", name, what)
	}
}

func (r *itemReader) str(name string, required bool) string {
	av, ok := r.get(name, required)
	if !ok {
		return ""
	}
	s, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		r.fail(name, "not a string")
		return ""
	}
	return s.Value
}

func (r *itemReader) num(name string, required bool) uint64 {
	av, ok := r.get(name, required)
	if !ok {
		return 0
	}
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		r.fail(name, "not a number")
		return 0
	}
	v, err := strconv.ParseUint(n.Value, 10, 64)
	if err != nil || strconv.FormatUint(v, 10) != n.Value {
		r.fail(name, "not a canonical unsigned integer")
	}
	return v
}

// version reads the format version, which must be one of allowed.
func (r *itemReader) version(allowed ...string) string {
	av, ok := r.get(attrVersion, true)
	if !ok {
		return ""
	}
	if n, isN := av.(*types.AttributeValueMemberN); isN && slices.Contains(allowed, n.Value) {
		return n.Value
	}
	r.fail(attrVersion, "unsupported format version")
	return ""
}

func (r *itemReader) boolean(name string) bool {
	av, ok := r.get(name, true)
	if !ok {
		return false
	}
	b, ok := av.(*types.AttributeValueMemberBOOL)
	if !ok {
		r.fail(name, "not a boolean")
		return false
	}
	return b.Value
}

func (r *itemReader) hash(name string) Hash {
	s := r.str(name, true)
	if r.err != nil {
		return Hash{}
	}
	h, err := parseHash(s)
	if err != nil {
		r.fail(name, err.Error())
	}
	return h
}

func (r *itemReader) time(name string) time.Time {
	s := r.str(name, true)
	if r.err != nil {
		return time.Time{}
	}
	t, err := parseTime(s)
	if err != nil {
		r.fail(name, err.Error())
	}
	return t
}

func (r *itemReader) unix(name string) time.Time {
	if _, ok := r.item[name]; !ok {
		return time.Time{}
	}
	n := r.num(name, true)
	if n == 0 || n > 1<<40 {
		r.fail(name, "out of range")
		return time.Time{}
	}
	return time.Unix(int64(n), 0).UTC()
}

func (r *itemReader) strMap(name string) map[string]string {
	av, ok := r.get(name, false)
	if !ok {
		return nil
	}
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok || len(m.Value) == 0 {
		r.fail(name, "not a non-empty map")
		return nil
	}
	out := make(map[string]string, len(m.Value))
	for k, v := range m.Value {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			r.fail(name, "value not a string")
			return nil
		}
		out[k] = s.Value
	}
	return out
}

func (r *itemReader) actor() Actor {
	av, ok := r.get(attrActor, true)
	if !ok {
		return Actor{}
	}
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok {
		r.fail(attrActor, "not a map")
		return Actor{}
	}
	sub := itemReader{item: m.Value}
	a := Actor{Function: sub.str(attrFunction, true), Caller: sub.str(attrCaller, true)}
	if err := sub.done(); err != nil {
		r.fail(attrActor, err.Error())
	}
	return a
}

func (r *itemReader) done() error {
	if r.err != nil {
		return r.err
	}
	if r.seen != len(r.item) {
		return errors.New("unexpected attribute")
	}
	return nil
}
