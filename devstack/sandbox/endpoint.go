package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// EndpointPath is where the sandbox receives Standard Webhooks
// deliveries, as an operator's endpoint would.
const EndpointPath = "/_sandbox/endpoint"

// EndpointDelivery is one Standard Webhooks delivery the receiving endpoint got,
// as listed by GET /_sandbox/deliveries.
type EndpointDelivery struct {
	// Seq numbers deliveries from 1 in arrival order.
	Seq int `json:"seq"`
	// Time is the sandbox clock when the delivery arrived.
	Time time.Time `json:"time"`
	// ID and Timestamp are the webhook-id and webhook-timestamp headers.
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	// Type and EventTime are the payload's type and timestamp.
	Type      string `json:"type"`
	EventTime string `json:"event_time,omitempty"`
	// Verified reports whether the official Standard Webhooks library
	// verified the delivery with one of the configured secrets.
	Verified bool `json:"verified"`
	// Signatures counts the entries of webhook-signature (two during a
	// secret rotation's overlap).
	Signatures int `json:"signatures"`
	// Error says why the delivery did not verify or parse (the library's
	// message; never a secret).
	Error string `json:"error,omitempty"`
	// Status is the HTTP status the sandbox answered.
	Status int `json:"status"`
	// Headers are the webhook-*, Content-Type and User-Agent headers.
	Headers map[string]string `json:"headers"`
	// Data is the payload's data, as received.
	Data json.RawMessage `json:"data,omitempty"`
}

// EndpointFault makes the receiving endpoint answer Status, after
// DelayMS, for the next Count deliveries (one when zero), or for every
// delivery with Always. It is the body of POST /_sandbox/endpoint/faults.
type EndpointFault struct {
	// Status is the HTTP status to answer (200 to 599); zero only delays
	// a delivery that is then accepted.
	Status int `json:"status,omitempty"`
	// Count is how many deliveries the fault applies to; zero means one.
	Count int `json:"count,omitempty"`
	// Always applies the fault to every delivery until cleared.
	Always bool `json:"always,omitempty"`
	// DelayMS delays the answer by this many milliseconds (at most one
	// minute), so a sender's timeout can be tested.
	DelayMS int `json:"delay_ms,omitempty"`
	// Type and ContactID, when set, limit the fault to deliveries of that
	// event type or whose data.contact_id is that, so tests sharing the
	// sandbox cannot consume each other's faults.
	Type      string `json:"type,omitempty"`
	ContactID string `json:"contact_id,omitempty"`
}

// validate fills defaults and checks ranges.
func (f *EndpointFault) validate() error {
	if f.Count == 0 {
		f.Count = 1
	}
	if f.Count < 0 || f.Count > maxFaultCount || f.DelayMS < 0 || time.Duration(f.DelayMS)*time.Millisecond > maxFaultDelay ||
		(f.Status != 0 && (f.Status < 200 || f.Status > 599)) || (f.Status == 0 && f.DelayMS == 0) {
		return ErrBadFault
	}
	return nil
}

// endpointReceiver holds the endpoint's secrets, deliveries and faults.
type endpointReceiver struct {
	mu         sync.Mutex
	secrets    []string
	seq        int
	deliveries []EndpointDelivery
	faults     []EndpointFault
}

// SetEndpointSecrets replaces the whsec_ secrets the receiving endpoint
// verifies deliveries with (any one verifying is enough, as for a
// receiver configured with the old and the new secret during a rotation).
func (s *Sandbox) SetEndpointSecrets(secrets ...string) {
	s.recv.mu.Lock()
	defer s.recv.mu.Unlock()
	s.recv.secrets = slices.DeleteFunc(slices.Clone(secrets), func(v string) bool { return v == "" })
}

// EndpointDeliveries returns the deliveries received, oldest first.
func (s *Sandbox) EndpointDeliveries() []EndpointDelivery {
	s.recv.mu.Lock()
	defer s.recv.mu.Unlock()
	return append([]EndpointDelivery{}, s.recv.deliveries...)
}

// ResetEndpointDeliveries forgets the deliveries received.
func (s *Sandbox) ResetEndpointDeliveries() {
	s.recv.mu.Lock()
	defer s.recv.mu.Unlock()
	s.recv.deliveries = nil
}

// InjectEndpointFault queues f behind the faults already queued. It
// returns [ErrBadFault] for values out of range.
func (s *Sandbox) InjectEndpointFault(f EndpointFault) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.recv.mu.Lock()
	defer s.recv.mu.Unlock()
	s.recv.faults = append(s.recv.faults, f)
	return nil
}

// EndpointFaults returns the queued endpoint faults with their remaining
// counts.
func (s *Sandbox) EndpointFaults() []EndpointFault {
	s.recv.mu.Lock()
	defer s.recv.mu.Unlock()
	return append([]EndpointFault{}, s.recv.faults...)
}

// ClearEndpointFaults drops every queued endpoint fault.
func (s *Sandbox) ClearEndpointFaults() {
	s.recv.mu.Lock()
	defer s.recv.mu.Unlock()
	s.recv.faults = nil
}

// endpointSecrets returns the secrets set and those of the source.
func (s *Sandbox) endpointSecrets() []string {
	s.recv.mu.Lock()
	out := slices.Clone(s.recv.secrets)
	s.recv.mu.Unlock()
	if s.opts.EndpointSecretSource != nil {
		out = append(out, s.opts.EndpointSecretSource()...)
	}
	return out
}

// takeFault consumes one use of the oldest queued fault that applies to
// d.
func (r *endpointReceiver) takeFault(d EndpointDelivery, contactID string) (EndpointFault, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, f := range r.faults {
		if (f.Type != "" && f.Type != d.Type) || (f.ContactID != "" && f.ContactID != contactID) {
			continue
		}
		if !f.Always {
			if r.faults[i].Count--; r.faults[i].Count == 0 {
				r.faults = slices.Delete(r.faults, i, i+1)
			}
		}
		return f, true
	}
	return EndpointFault{}, false
}

// add numbers d and keeps it, dropping the oldest beyond maxRecords.
func (r *endpointReceiver) add(d EndpointDelivery) EndpointDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	d.Seq = r.seq
	r.deliveries = append(r.deliveries, d)
	if len(r.deliveries) > maxRecords {
		r.deliveries = slices.Delete(r.deliveries, 0, len(r.deliveries)-maxRecords)
	}
	return d
}

// payload is a Standard Webhooks body as waguard sends it.
type payload struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// handleEndpoint serves POST /_sandbox/endpoint: it verifies the delivery
// with the official library, records it, applies a queued fault, and
// answers {"verified":…,"seq":…} with 200, 401 when it did not verify,
// 400 when the body is not a payload with a type, or the fault's status.
func (s *Sandbox) handleEndpoint(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeAdminError(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	d := EndpointDelivery{Time: s.opts.Now(), ID: r.Header.Get(standardwebhooks.HeaderWebhookID),
		Timestamp: r.Header.Get(standardwebhooks.HeaderWebhookTimestamp), Status: http.StatusOK,
		Signatures: len(strings.Fields(r.Header.Get(standardwebhooks.HeaderWebhookSignature))), Headers: map[string]string{}}
	for _, h := range []string{standardwebhooks.HeaderWebhookID, standardwebhooks.HeaderWebhookTimestamp,
		standardwebhooks.HeaderWebhookSignature, "Content-Type", "User-Agent"} {
		if v := r.Header.Get(h); v != "" {
			d.Headers[strings.ToLower(h)] = v
		}
	}
	d.Verified, d.Error = s.verifyDelivery(body, r.Header)
	var p payload
	var contact struct {
		ContactID string `json:"contact_id"`
	}
	if err := json.Unmarshal(body, &p); err == nil {
		d.Type, d.EventTime, d.Data = p.Type, p.Timestamp, p.Data
		_ = json.Unmarshal(p.Data, &contact)
	}
	var f EndpointFault
	faulted := false
	switch {
	case !d.Verified:
		d.Status = http.StatusUnauthorized
	case d.Type == "":
		d.Status, d.Error = http.StatusBadRequest, "body is not a Standard Webhooks payload with a type"
	default:
		if f, faulted = s.recv.takeFault(d, contact.ContactID); faulted && f.Status != 0 {
			d.Status = f.Status
		}
	}
	d = s.recv.add(d)
	if faulted && !delay(r, Fault{DelayMS: f.DelayMS}) {
		return // the sender gave up
	}
	writeJSON(w, d.Status, map[string]any{"verified": d.Verified, "seq": d.Seq})
}

// verifyDelivery verifies with each configured secret alone, as a
// receiver would, and reports the library's last error otherwise.
func (s *Sandbox) verifyDelivery(body []byte, h http.Header) (bool, string) {
	secrets := s.endpointSecrets()
	if len(secrets) == 0 {
		return false, "no endpoint secret configured"
	}
	var last error
	for _, secret := range secrets {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			last = errors.New("a configured endpoint secret is not whsec_ and base64")
			continue
		}
		if last = wh.Verify(body, h); last == nil {
			return true, ""
		}
	}
	return false, last.Error()
}

// handleListDeliveries serves GET /_sandbox/deliveries.
func (s *Sandbox) handleListDeliveries(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.EndpointDeliveries())
}

// handleClearDeliveries serves DELETE /_sandbox/deliveries.
func (s *Sandbox) handleClearDeliveries(w http.ResponseWriter, _ *http.Request) {
	s.ResetEndpointDeliveries()
	w.WriteHeader(http.StatusNoContent)
}

// handleListEndpointFaults serves GET /_sandbox/endpoint/faults.
func (s *Sandbox) handleListEndpointFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.EndpointFaults())
}

// handleAddEndpointFault serves POST /_sandbox/endpoint/faults.
func (s *Sandbox) handleAddEndpointFault(w http.ResponseWriter, r *http.Request) {
	var f EndpointFault
	if err := decodeAdmin(w, r, &f); err != nil {
		writeAdminError(w, http.StatusBadRequest, "fault: "+err.Error())
		return
	}
	if err := s.InjectEndpointFault(f); err != nil {
		writeAdminError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, s.EndpointFaults())
}

// handleClearEndpointFaults serves DELETE /_sandbox/endpoint/faults.
func (s *Sandbox) handleClearEndpointFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearEndpointFaults()
	w.WriteHeader(http.StatusNoContent)
}
