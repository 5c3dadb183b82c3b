package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Delivery limits.
const (
	maxRepeat        = 100
	maxResponseBytes = 1 << 20
	defaultName      = "Sandbox User"
)

// ErrNoWebhookURL is returned by [Sandbox.Deliver] when no webhook URL
// is configured.
var ErrNoWebhookURL = errors.New("sandbox: no webhook url configured")

// Attempt is the receiver's answer to one delivery.
type Attempt struct {
	// Status is the HTTP status the webhook answered with.
	Status int `json:"status"`
	// Body is the webhook's response body: its JSON when it is valid
	// JSON, otherwise a JSON string of the text.
	Body json.RawMessage `json:"body"`
}

// Delivery is the outcome of [Sandbox.Deliver].
type Delivery struct {
	// Signature is the X-Hub-Signature-256 header sent with every attempt.
	Signature string `json:"signature"`
	// Attempts holds one entry per POST, in order.
	Attempts []Attempt `json:"attempts"`
}

// Deliver signs payload with the current app secret and POSTs the exact
// bytes to the webhook URL 1+repeat times, as Meta does when it
// redelivers. It stops at the first transport error and returns it
// wrapped, together with the attempts made so far; a non-2xx answer is
// not an error. It returns [ErrNoWebhookURL] without a URL.
func (s *Sandbox) Deliver(ctx context.Context, payload []byte, repeat int) (Delivery, error) {
	if s.opts.WebhookURL == "" {
		return Delivery{}, ErrNoWebhookURL
	}
	secret := s.secret()
	d := Delivery{Signature: Sign(secret, payload)}
	sha1Sig := signSHA1(secret, payload)
	for range 1 + max(0, min(repeat, maxRepeat)) {
		a, err := s.post(ctx, payload, d.Signature, sha1Sig)
		if err != nil {
			return d, fmt.Errorf("deliver webhook: %w", err)
		}
		d.Attempts = append(d.Attempts, a)
	}
	return d, nil
}

// post makes one delivery attempt.
func (s *Sandbox) post(ctx context.Context, payload []byte, sig256, sig1 string) (Attempt, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.WebhookURL, bytes.NewReader(payload))
	if err != nil {
		return Attempt{}, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	req.Header.Set(SignatureHeader, sig256)
	req.Header.Set(SignatureHeaderSHA1, sig1)
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return Attempt{}, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return Attempt{}, fmt.Errorf("read response: %w", err)
	}
	return Attempt{Status: resp.StatusCode, Body: jsonOrString(body)}, nil
}

// jsonOrString returns b when it is valid JSON, else b as a JSON string.
func jsonOrString(b []byte) json.RawMessage {
	if len(bytes.TrimSpace(b)) > 0 && json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b)) // Marshalling a string cannot fail.
	return s
}

// DeliverRequest is the body of POST /_sandbox/deliver.
type DeliverRequest struct {
	// Kind is "text", "status" or "raw".
	Kind string `json:"kind"`
	// From, Text and Name describe an inbound text (kind "text").
	From string `json:"from,omitempty"`
	Text string `json:"text,omitempty"`
	Name string `json:"name,omitempty"`
	// WAMID, Status, Recipient and ErrorCode describe a status (kind
	// "status"). Without WAMID the newest recorded send is used; without
	// Recipient the send's recipient, or the number inside the wamid.
	WAMID     string `json:"wamid,omitempty"`
	Status    string `json:"status,omitempty"`
	Recipient string `json:"recipient,omitempty"`
	ErrorCode int    `json:"error_code,omitempty"`
	// Payload is delivered byte for byte (kind "raw").
	Payload json.RawMessage `json:"payload,omitempty"`
	// Repeat redelivers the identical bytes this many more times (at most 100).
	Repeat int `json:"repeat,omitempty"`
}

// deliverResponse is the answer of POST /_sandbox/deliver: the last
// attempt's status and body, plus every attempt.
type deliverResponse struct {
	Status    int             `json:"status"`
	Body      json.RawMessage `json:"body"`
	WAMID     string          `json:"wamid"`
	Signature string          `json:"signature"`
	Attempts  []Attempt       `json:"attempts"`
	Payload   json.RawMessage `json:"payload"`
}

// handleDeliver serves POST /_sandbox/deliver.
func (s *Sandbox) handleDeliver(w http.ResponseWriter, r *http.Request) {
	var dr DeliverRequest
	if err := decodeAdmin(w, r, &dr); err != nil {
		writeAdminError(w, http.StatusBadRequest, "deliver: "+err.Error())
		return
	}
	payload, wamid, err := s.buildPayload(dr)
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, err.Error())
		return
	}
	d, err := s.Deliver(r.Context(), payload, dr.Repeat)
	if err != nil {
		writeAdminError(w, http.StatusBadGateway, err.Error())
		return
	}
	last := d.Attempts[len(d.Attempts)-1]
	writeJSON(w, http.StatusOK, deliverResponse{
		Status: last.Status, Body: last.Body, WAMID: wamid,
		Signature: d.Signature, Attempts: d.Attempts, Payload: payload,
	})
}

// buildPayload turns a deliver request into webhook bytes and the wamid
// they carry. Error texts name fields, never their values.
func (s *Sandbox) buildPayload(dr DeliverRequest) ([]byte, string, error) {
	if dr.Repeat < 0 || dr.Repeat > maxRepeat {
		return nil, "", fmt.Errorf("deliver: repeat must be 0 to %d", maxRepeat)
	}
	switch dr.Kind {
	case "text":
		return s.buildText(dr)
	case "status":
		return s.buildStatus(dr)
	case "raw":
		if len(dr.Payload) == 0 || string(dr.Payload) == "null" {
			return nil, "", errors.New("deliver: raw needs a payload")
		}
		return dr.Payload, "", nil
	default:
		return nil, "", errors.New(`deliver: kind must be "text", "status" or "raw"`)
	}
}

// buildText builds an inbound text event with a fresh inbound wamid.
func (s *Sandbox) buildText(dr DeliverRequest) ([]byte, string, error) {
	from := digitsOf(dr.From)
	if validateRecipient(dr.From) != nil || dr.Text == "" {
		return nil, "", errors.New("deliver: text needs a valid from and a text")
	}
	if dr.Name == "" {
		dr.Name = defaultName
	}
	wamid := NewWAMID(from, false)
	b, err := BuildTextEvent(s.Business(), TextEvent{
		From: from, Name: dr.Name, Body: dr.Text, WAMID: wamid, Time: s.opts.Now(),
	})
	if err != nil {
		return nil, "", fmt.Errorf("deliver: %w", err)
	}
	return b, wamid, nil
}

// buildStatus builds a status event, filling the wamid and recipient
// from the recorded sends when they are omitted.
func (s *Sandbox) buildStatus(dr DeliverRequest) ([]byte, string, error) {
	wamid, recipient := dr.WAMID, digitsOf(dr.Recipient)
	rec, found := s.store.find(wamid)
	if wamid == "" {
		if !found {
			return nil, "", errors.New("deliver: status needs a wamid (no recorded send)")
		}
		wamid = rec.WAMID
	}
	if recipient == "" && found {
		recipient = rec.WAID
	}
	if recipient == "" {
		w, err := ParseWAMID(wamid)
		if err != nil {
			return nil, "", errors.New("deliver: status needs a recipient (wamid has none)")
		}
		recipient = w.Number
	}
	ev := StatusEvent{WAMID: wamid, Status: dr.Status, RecipientID: recipient, Time: s.opts.Now(), ErrorCode: dr.ErrorCode}
	if found {
		ev.CallbackData = rec.CallbackData
	}
	b, err := BuildStatusEvent(s.Business(), ev)
	if err != nil {
		return nil, "", fmt.Errorf("deliver: %w", err)
	}
	return b, wamid, nil
}
