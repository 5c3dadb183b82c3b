package signature

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Header names of the timestamped schemes, lower-cased as API Gateway
// delivers them. http.Header.Get accepts them too.
const (
	HeaderSeedTimestamp = "x-webhook-timestamp"
	HeaderSeedSignature = "x-webhook-signature"
	HeaderWebhookID     = "webhook-id"
	HeaderTimestamp     = "webhook-timestamp"
	HeaderSignature     = "webhook-signature"
)

// DefaultTolerance is how far a signed timestamp may be from now, in
// either direction, when [VerifySigned] is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Bounds on header values, checked before any decoding.
const (
	maxIDLen          = 256  // webhook-id
	maxTimestampLen   = 19   // digits of an int64
	maxSignatureLen   = 2048 // webhook-signature, the whole list
	maxSignatureItems = 16   // entries in the webhook-signature list
)

// Scheme names a signature scheme. The zero value is invalid.
type Scheme int

// Signature schemes. [VerifySigned] reports SchemeSeed or
// SchemeStandardWebhooks; SchemeMeta exists for callers that record
// which route verified a request.
const (
	SchemeUnknown Scheme = iota
	SchemeMeta
	SchemeSeed
	SchemeStandardWebhooks
)

// String returns a stable lower-case name for logs and metrics.
func (s Scheme) String() string {
	switch s {
	case SchemeMeta:
		return "meta"
	case SchemeSeed:
		return "seed"
	case SchemeStandardWebhooks:
		return "standard_webhooks"
	}
	return "unknown"
}

// Headers holds the request headers the timestamped schemes read. Build
// it with [HeadersFrom], or get it from [SignSeed] or
// [SignStandardWebhooks].
type Headers struct {
	SeedTimestamp string // X-Webhook-Timestamp
	SeedSignature string // X-Webhook-Signature
	ID            string // webhook-id
	Timestamp     string // webhook-timestamp
	Signature     string // webhook-signature
}

// HeadersFrom reads the headers through get, which is called with the
// lower-case names above: pass a lookup in API Gateway's (lower-cased)
// header map, or http.Header.Get.
func HeadersFrom(get func(name string) string) Headers {
	return Headers{
		SeedTimestamp: get(HeaderSeedTimestamp),
		SeedSignature: get(HeaderSeedSignature),
		ID:            get(HeaderWebhookID),
		Timestamp:     get(HeaderTimestamp),
		Signature:     get(HeaderSignature),
	}
}

// Map returns the non-empty headers keyed by their lower-case names, the
// shape of an API Gateway request's Headers.
func (h Headers) Map() map[string]string {
	m := make(map[string]string, 3)
	for name, v := range map[string]string{
		HeaderSeedTimestamp: h.SeedTimestamp, HeaderSeedSignature: h.SeedSignature,
		HeaderWebhookID: h.ID, HeaderTimestamp: h.Timestamp, HeaderSignature: h.Signature,
	} {
		if v != "" {
			m[name] = v
		}
	}
	return m
}

// String names the headers that are present, never their values.
func (h Headers) String() string {
	var present []string
	for _, p := range []struct{ name, v string }{
		{HeaderSeedTimestamp, h.SeedTimestamp}, {HeaderSeedSignature, h.SeedSignature},
		{HeaderWebhookID, h.ID}, {HeaderTimestamp, h.Timestamp}, {HeaderSignature, h.Signature},
	} {
		if p.v != "" {
			present = append(present, p.name)
		}
	}
	return "signature.Headers[" + strings.Join(present, " ") + "]"
}

// Format writes [Headers.String] for every verb.
func (h Headers) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, h.String()) }

// LogValue logs [Headers.String].
func (h Headers) LogValue() slog.Value { return slog.StringValue(h.String()) }

// Result describes a verified request.
type Result struct {
	// Scheme is the scheme whose signature matched.
	Scheme Scheme
	// ReplayKey identifies the delivery for deduplication: the webhook-id
	// for Standard Webhooks, and for the seed scheme the lower-case hex
	// SHA-256 of "<timestamp>.<body>", the signed content. Store it for at
	// least twice the tolerance and refuse a repeat.
	ReplayKey string
	// Timestamp is the signed timestamp.
	Timestamp time.Time
}

// VerifySigned verifies a request signed with the seed or the Standard
// Webhooks scheme. The scheme is chosen by the headers present: any of
// webhook-id, webhook-timestamp or webhook-signature selects Standard
// Webhooks, otherwise the X-Webhook-* pair is required. A tolerance of
// zero or less means [DefaultTolerance].
//
// It returns [ErrBadSignature] for a missing or malformed header or a
// signature that matches no key (for Standard Webhooks, no "v1" entry
// matching any key), and [ErrStaleTimestamp] when the signature is valid
// but the timestamp is more than tolerance before or after now. A
// webhook-id must be printable ASCII without '.', at most 256 bytes.
func VerifySigned(h Headers, body []byte, now time.Time, tolerance time.Duration, secrets ...[]byte) (Result, error) {
	var (
		r   Result
		err error
	)
	if h.ID != "" || h.Timestamp != "" || h.Signature != "" {
		r, err = verifyStandardWebhooks(h, body, secrets)
	} else {
		r, err = verifySeed(h, body, secrets)
	}
	if err != nil {
		return Result{}, err
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(r.Timestamp); d > tolerance || d < -tolerance {
		return Result{}, ErrStaleTimestamp
	}
	return r, nil
}

// verifySeed checks the X-Webhook-* headers; it does not check staleness.
func verifySeed(h Headers, body []byte, secrets [][]byte) (Result, error) {
	ms, ok := parseDigits(h.SeedTimestamp)
	sig, ok2 := decodeHex(h.SeedSignature)
	if !ok || !ok2 || !anyMatch(secrets, [][macSize]byte{sig}, []byte(h.SeedTimestamp), dot, body) {
		return Result{}, ErrBadSignature
	}
	return Result{
		Scheme:    SchemeSeed,
		ReplayKey: seedReplayKey(h.SeedTimestamp, body),
		Timestamp: time.UnixMilli(ms),
	}, nil
}

// verifyStandardWebhooks checks the webhook-* headers; it does not check
// staleness.
func verifyStandardWebhooks(h Headers, body []byte, secrets [][]byte) (Result, error) {
	sec, ok := parseDigits(h.Timestamp)
	var buf [maxSignatureItems][macSize]byte
	cands, ok2 := parseStandardSignatures(h.Signature, buf[:0])
	if !ok || !ok2 || !ValidID(h.ID) {
		return Result{}, ErrBadSignature
	}
	prefix := make([]byte, 0, len(h.ID)+1+len(h.Timestamp)+1)
	prefix = append(append(append(append(prefix, h.ID...), '.'), h.Timestamp...), '.')
	if !anyMatch(secrets, cands, prefix, body, nil) {
		return Result{}, ErrBadSignature
	}
	return Result{Scheme: SchemeStandardWebhooks, ReplayKey: h.ID, Timestamp: time.Unix(sec, 0)}, nil
}

// dot separates the parts of the signed content.
var dot = []byte{'.'}

// parseDigits parses a non-empty run of at most 19 ASCII digits (no sign,
// no spaces) that fits an int64.
func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > maxTimestampLen {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// ValidID reports whether id is a usable webhook-id: 1 to 256 bytes of
// printable ASCII other than '.', which would make "<id>.<ts>.<body>"
// ambiguous. [VerifySigned] refuses any other id, and a sender must not
// use one.
func ValidID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '.' {
			return false
		}
	}
	return true
}

// parseStandardSignatures decodes the "v1,<base64>" entries of a
// webhook-signature list into buf, skipping entries of other versions
// (such as "v1a") and malformed ones. It reports false for an empty or
// oversized list, or one with no usable v1 entry.
func parseStandardSignatures(list string, buf [][macSize]byte) ([][macSize]byte, bool) {
	if len(list) > maxSignatureLen {
		return nil, false
	}
	items := 0
	for item := range strings.FieldsSeq(list) {
		if items++; items > maxSignatureItems {
			return nil, false
		}
		b64, ok := strings.CutPrefix(item, "v1,")
		if !ok || len(b64) != base64.StdEncoding.EncodedLen(macSize) {
			continue
		}
		// Decode needs DecodedLen(44) = 33 bytes of room: 44 characters
		// without padding decode to 33 (FuzzStandardWebhooksHeader found
		// the panic a 32-byte buffer causes).
		var dec [macSize + 1]byte
		if n, err := base64.StdEncoding.Strict().Decode(dec[:], []byte(b64)); err != nil || n != macSize {
			continue
		}
		buf = append(buf, [macSize]byte(dec[:macSize]))
	}
	return buf, len(buf) > 0
}

// seedReplayKey is the hex SHA-256 of "<timestamp>.<body>".
func seedReplayKey(ts string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(ts))
	h.Write(dot)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// SignSeed returns the seed scheme's headers for body sent at t under
// secret: the timestamp in milliseconds and the lower-case hex
// HMAC-SHA256 of "<timestamp>.<body>".
func SignSeed(secret []byte, t time.Time, body []byte) Headers {
	ts := strconv.FormatInt(t.UnixMilli(), 10)
	sum := mac(secret, []byte(ts), dot, body)
	return Headers{SeedTimestamp: ts, SeedSignature: hex.EncodeToString(sum[:])}
}

// SignStandardWebhooks returns the Standard Webhooks headers for body
// with message id id, sent at t: one "v1,<base64>" entry per secret, in
// order, space-separated, as a sender does during a rotation.
func SignStandardWebhooks(id string, t time.Time, body []byte, secrets ...[]byte) Headers {
	ts := strconv.FormatInt(t.Unix(), 10)
	content := []byte(id + "." + ts + ".")
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sum := mac(s, content, body, nil)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(sum[:]))
	}
	return Headers{ID: id, Timestamp: ts, Signature: strings.Join(sigs, " ")}
}
