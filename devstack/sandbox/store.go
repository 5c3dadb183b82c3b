package sandbox

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// Limits on what the sandbox keeps in memory.
const (
	maxRecords    = 10000
	maxFaultCount = 10000
	maxFaultDelay = time.Minute
)

// Record is one accepted call to the messages endpoint, as listed by
// GET /_sandbox/messages.
type Record struct {
	// Seq numbers accepted calls from 1 in arrival order.
	Seq int `json:"seq"`
	// Kind is "message" for a send and "read" for a mark-as-read call.
	Kind string `json:"kind"`
	// Time is the sandbox clock when the call was accepted.
	Time time.Time `json:"time"`
	// Version is the Graph API version from the path, such as "v21.0".
	Version string `json:"version"`
	// PhoneNumberID is the business phone number id from the path.
	PhoneNumberID string `json:"phone_number_id"`
	// TokenFingerprint is [Fingerprint] of the bearer token used; the
	// token itself is never stored.
	TokenFingerprint string `json:"token_fingerprint"`
	// WAMID is the message id issued; empty for mark-as-read calls.
	WAMID string `json:"wamid,omitempty"`
	// WAID is the recipient's wa_id; empty for mark-as-read calls and
	// sends to a business-scoped user id, which set UserID instead.
	WAID   string `json:"wa_id,omitempty"`
	UserID string `json:"user_id,omitempty"`
	// CallbackData is the send's biz_opaque_callback_data, echoed in the
	// statuses the sandbox delivers about it.
	CallbackData string `json:"callback_data,omitempty"`
	// Request is the JSON body as received.
	Request json.RawMessage `json:"request"`
}

// Fault makes the next Count sends fail, or only slows them down. It is
// the body of POST /_sandbox/faults.
type Fault struct {
	// Status is the HTTP status; zero means the default for Code.
	Status int `json:"status,omitempty"`
	// Code is the Meta error code, such as 130429 or 131026. Zero with a
	// non-zero Status means 131000; zero with a zero Status means the
	// fault only delays a send that then succeeds.
	Code int `json:"code,omitempty"`
	// Subcode is the optional error_subcode.
	Subcode int `json:"error_subcode,omitempty"`
	// Details overrides error_data.details.
	Details string `json:"details,omitempty"`
	// Count is how many sends the fault applies to; zero means one.
	Count int `json:"count,omitempty"`
	// DelayMS delays the response, failing or not, by this many
	// milliseconds (at most one minute).
	DelayMS int `json:"delay_ms,omitempty"`
	// To, when set, limits the fault to sends to this recipient (wa_id
	// digits, or E.164), so tests running side by side on one sandbox
	// cannot consume each other's faults.
	To string `json:"to,omitempty"`
	// Body, when set, answers Status with a body that is not Graph's
	// error, as a gateway or CDN in front of the Cloud API (Meta's edge,
	// a RapidAPI-style proxy) does: [BodyNone] or [BodyHTML]. Code,
	// Subcode and Details must then be empty.
	Body string `json:"body,omitempty"`
	// Accept makes the sandbox accept the message (record it and issue
	// its wamid, so statuses can be delivered about it) before answering
	// with the fault: the provider sent it, but the answer the client gets
	// says otherwise, as when a gateway loses Meta's answer.
	Accept bool `json:"accept,omitempty"`
}

// Bodies of a [Fault] that answers like a gateway instead of Graph.
const (
	// BodyNone answers the status with an empty body.
	BodyNone = "none"
	// BodyHTML answers the status with a gateway's HTML error page.
	BodyHTML = "html"
)

// ErrBadFault is returned by [Sandbox.InjectFault] for a fault with a
// value out of range.
var ErrBadFault = errors.New("sandbox: invalid fault")

// validate fills defaults and checks ranges.
func (f *Fault) validate() error {
	if f.Count == 0 {
		f.Count = 1
	}
	if f.Count < 0 || f.Count > maxFaultCount || f.DelayMS < 0 ||
		time.Duration(f.DelayMS)*time.Millisecond > maxFaultDelay || f.Code < 0 {
		return ErrBadFault
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		return ErrBadFault
	}
	switch f.Body {
	case "":
	case BodyNone, BodyHTML:
		if f.Status == 0 || f.Code != 0 || f.Subcode != 0 || f.Details != "" {
			return ErrBadFault
		}
	default:
		return ErrBadFault
	}
	if f.Code == 0 && f.Status != 0 && f.Body == "" {
		f.Code = CodeSomethingWrong
	}
	if f.Accept && !f.fails() {
		return ErrBadFault
	}
	return nil
}

// fails reports whether the fault answers with an error rather than
// only delaying a send that then succeeds.
func (f Fault) fails() bool { return f.Code != 0 || f.Body != "" }

// apiError returns the Graph error the fault produces, or nil for a
// delay-only or gateway fault.
func (f Fault) apiError() *APIError {
	if f.Code == 0 {
		return nil
	}
	e := NewAPIError(f.Status, f.Code, f.Details)
	e.Subcode = f.Subcode
	return e
}

// store holds the records and the queued faults.
type store struct {
	mu      sync.Mutex
	seq     int
	records []Record
	faults  []Fault
}

// add appends r, numbering it, and drops the oldest beyond maxRecords.
func (s *store) add(r Record) Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	r.Seq = s.seq
	s.records = append(s.records, r)
	if len(s.records) > maxRecords {
		s.records = slices.Delete(s.records, 0, len(s.records)-maxRecords)
	}
	return r
}

// list returns a copy of the records, oldest first.
func (s *store) list() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record{}, s.records...)
}

// find returns the newest record with the given wamid, or the newest
// message record when wamid is empty.
func (s *store) find(wamid string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.records) - 1; i >= 0; i-- {
		r := s.records[i]
		if r.Kind == kindMessage && (wamid == "" || r.WAMID == wamid) {
			return r, true
		}
	}
	return Record{}, false
}

// clear forgets all records.
func (s *store) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = nil
}

// pushFault queues f behind the faults already queued.
func (s *store) pushFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// takeFault consumes one use of the oldest queued fault that applies to
// a send to recipient.
func (s *store) takeFault(recipient string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.To != "" && strings.TrimPrefix(f.To, "+") != strings.TrimPrefix(recipient, "+") {
			continue
		}
		s.faults[i].Count--
		if s.faults[i].Count == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f, true
	}
	return Fault{}, false
}

// listFaults returns the queued faults with their remaining counts.
func (s *store) listFaults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fault{}, s.faults...)
}

// clearFaults drops every queued fault.
func (s *store) clearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Record kinds.
const (
	kindMessage = "message"
	kindRead    = "read"
)
