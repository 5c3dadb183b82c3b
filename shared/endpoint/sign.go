package endpoint

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/signature"
)

// ErrBadID is returned by [Endpoint.Sign] for a webhook-id that
// [signature.ValidID] refuses (empty, over 256 bytes, not printable
// ASCII, or containing '.').
var ErrBadID = errors.New("endpoint: invalid webhook-id")

// errNoKey is returned by Sign on the zero Endpoint.
var errNoKey = errors.New("endpoint: no signing secret")

// keys returns the keys that sign an attempt at t: the current one, and
// the previous one while t is before the end of the overlap.
func (e Endpoint) keys(t time.Time) [][]byte {
	k := [][]byte{e.current.Reveal()}
	if !e.previous.Empty() && t.Before(e.previousUntil) {
		k = append(k, e.previous.Reveal())
	}
	return k
}

// Sign returns the Standard Webhooks headers of one delivery attempt of
// body with webhook-id id (the event id, identical on every retry) at t
// (the attempt's time, in whole seconds): the signature under the current
// secret and, while the rotation overlap lasts, under the previous one,
// space-separated. It returns [ErrBadID] for an unusable id.
func (e Endpoint) Sign(id string, t time.Time, body []byte) (signature.Headers, error) {
	if !signature.ValidID(id) {
		return signature.Headers{}, ErrBadID
	}
	if e.current.Empty() {
		return signature.Headers{}, errNoKey
	}
	return signature.SignStandardWebhooks(id, t, body, e.keys(t)...), nil
}

// NewRequest returns the POST of one delivery attempt to the endpoint's
// URL: body as application/json with the headers of [Endpoint.Sign].
// The error names no URL.
func (e Endpoint) NewRequest(ctx context.Context, id string, t time.Time, body []byte) (*http.Request, error) {
	h, err := e.Sign(id, t, body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: build request", e.name)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "waguard-webhooks/1")
	for name, v := range h.Map() {
		req.Header.Set(name, v)
	}
	return req, nil
}

// Verify checks a delivery as a receiver holding every secret of the
// endpoint (the current one and, during the overlap, the previous one)
// would: at least one v1 signature must match, and the timestamp must be
// within [signature.DefaultTolerance] of now. It returns
// [signature.ErrBadSignature] or [signature.ErrStaleTimestamp].
func (e Endpoint) Verify(h signature.Headers, body []byte, now time.Time) error {
	_, err := signature.VerifySigned(signature.Headers{ID: h.ID, Timestamp: h.Timestamp, Signature: h.Signature},
		body, now, 0, e.keys(now)...)
	return err
}

// GenerateSecret returns a new signing secret: "whsec_" and the padded
// standard base64 of 32 random bytes from crypto/rand. The result is
// plaintext key material; it goes only into a secret's value.
func GenerateSecret() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	return "whsec_" + base64.StdEncoding.EncodeToString(k)
}

// NewSecretDocument returns the JSON value of a new endpoint secret with
// a fresh signing secret ([GenerateSecret]) and no previous one. The
// result is plaintext key material; it goes only into a secret's value.
func NewSecretDocument(url string, types []events.Type, includeContent bool) ([]byte, error) {
	ts := make([]string, 0, len(types))
	for _, t := range types {
		ts = append(ts, string(t))
	}
	doc, err := json.Marshal(document{Kind: Kind, URL: url, Types: ts, IncludeContent: includeContent, Secret: GenerateSecret()})
	if err != nil {
		return nil, fmt.Errorf("encode endpoint: %w", err)
	}
	if _, err := Parse("new", "", doc); err != nil {
		return nil, err
	}
	return doc, nil
}
