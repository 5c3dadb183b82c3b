package idempotency

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Domain-separation labels. Changing one orphans the stored records.
const (
	keyLabel     = "waguard/v1/idempotency-key\x00"
	payloadLabel = "waguard/v1/idempotency-payload\x00"
)

// Record statuses and attribute names (see docs/data-model.md).
const (
	statusInProgress = "in_progress"
	statusCompleted  = "completed"

	sortKey         = "idem"
	attrStatus      = "status" // a DynamoDB reserved word: write #status
	attrHash        = "payload_hash"
	attrClaim       = "claim_id"
	attrCreated     = "created_at"
	attrExpires     = "expires_at"
	attrUntil       = "in_progress_until"
	attrRespStatus  = "resp_status"
	attrRespBody    = "resp_body"
	attrRespHeaders = "resp_headers"
	attrLostStatus  = "lost_status" // set by Lease.Irreversible
	attrLostBody    = "lost_body"
)

// record is one idempotency item. Times are epoch seconds.
type record struct {
	pk        string
	hash      string // payload hash, base64url
	claimID   string // random per claim; conditions name it
	status    string
	createdAt int64
	expiresAt int64
	until     int64 // in_progress_until; 0 once completed
	resp      Response
	lost      *Response // the answer for a lapsed irreversible claim
}

// expired reports whether the record's 24 hours have passed.
func (r *record) expired(now time.Time) bool { return now.Unix() >= r.expiresAt }

// stale reports whether an in-progress record's lease has passed.
func (r *record) stale(now time.Time) bool {
	return r.status == statusInProgress && now.Unix() >= r.until
}

// recordKey is the partition key for client's key; the raw key is hashed.
func (s *Store) recordKey(client, key string) string {
	h := s.newHash()
	h.Write([]byte(keyLabel))
	h.Write(binary.AppendUvarint(nil, uint64(len(client))))
	h.Write([]byte(client))
	h.Write([]byte(key))
	return "idem#" + client + "#" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// payloadHash fingerprints body, salted with the client and raw key.
func (s *Store) payloadHash(client, key string, body []byte) string {
	h := s.newHash()
	h.Write([]byte(payloadLabel))
	h.Write(binary.AppendUvarint(nil, uint64(len(client))))
	h.Write([]byte(client))
	h.Write(binary.AppendUvarint(nil, uint64(len(key))))
	h.Write([]byte(key))
	h.Write(body)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func itemKey(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sortKey},
	}
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// item encodes the record; empty response parts are left out.
func (r *record) item() map[string]types.AttributeValue {
	it := itemKey(r.pk)
	it[attrStatus] = &types.AttributeValueMemberS{Value: r.status}
	it[attrHash] = &types.AttributeValueMemberS{Value: r.hash}
	it[attrClaim] = &types.AttributeValueMemberS{Value: r.claimID}
	it[attrCreated], it[attrExpires] = num(r.createdAt), num(r.expiresAt)
	if r.status == statusInProgress {
		it[attrUntil] = num(r.until)
		return it
	}
	it[attrRespStatus] = num(int64(r.resp.Status))
	if len(r.resp.Body) > 0 {
		it[attrRespBody] = &types.AttributeValueMemberB{Value: r.resp.Body}
	}
	if len(r.resp.Headers) > 0 {
		it[attrRespHeaders] = headersAttr(r.resp.Headers)
	}
	return it
}

// headersAttr encodes response headers as a map attribute.
func headersAttr(h map[string]string) *types.AttributeValueMemberM {
	hs := make(map[string]types.AttributeValue, len(h))
	for k, v := range h {
		hs[k] = &types.AttributeValueMemberS{Value: v}
	}
	return &types.AttributeValueMemberM{Value: hs}
}

// decode parses an item written by item.
func decode(it map[string]types.AttributeValue) (*record, error) {
	d := decoder{it: it}
	r := &record{
		pk: d.str("pk"), status: d.str(attrStatus), hash: d.str(attrHash), claimID: d.str(attrClaim),
		createdAt: d.num(attrCreated), expiresAt: d.num(attrExpires),
	}
	switch r.status {
	case statusInProgress:
		r.until = d.num(attrUntil)
		if _, ok := it[attrLostStatus]; ok {
			r.lost = &Response{Status: int(d.num(attrLostStatus)), Body: d.bytes(attrLostBody)}
		}
	case statusCompleted:
		r.resp = Response{Status: int(d.num(attrRespStatus)), Body: d.bytes(attrRespBody), Headers: d.headers()}
	default:
		d.fail(attrStatus)
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// decoder reads attributes, keeping the first error.
type decoder struct {
	it  map[string]types.AttributeValue
	err error
}

func (d *decoder) fail(name string) {
	if d.err == nil {
		d.err = fmt.Errorf("attribute %s missing or malformed", name)
	}
}

func (d *decoder) str(name string) string {
	v, ok := d.it[name].(*types.AttributeValueMemberS)
	if !ok || v.Value == "" {
		d.fail(name)
		return ""
	}
	return v.Value
}

func (d *decoder) num(name string) int64 {
	v, ok := d.it[name].(*types.AttributeValueMemberN)
	if !ok {
		d.fail(name)
		return 0
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		d.fail(name)
	}
	return n
}

func (d *decoder) bytes(name string) []byte {
	switch v := d.it[name].(type) {
	case nil:
		return nil
	case *types.AttributeValueMemberB:
		return v.Value
	}
	d.fail(name)
	return nil
}

func (d *decoder) headers() map[string]string {
	v, ok := d.it[attrRespHeaders].(*types.AttributeValueMemberM)
	if !ok {
		if d.it[attrRespHeaders] != nil {
			d.fail(attrRespHeaders)
		}
		return nil
	}
	hs := make(map[string]string, len(v.Value))
	for k, a := range v.Value {
		s, ok := a.(*types.AttributeValueMemberS)
		if !ok {
			d.fail(attrRespHeaders)
			return nil
		}
		hs[k] = s.Value
	}
	return hs
}
