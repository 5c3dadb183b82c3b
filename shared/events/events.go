// Package events defines the events waguard delivers to the business
// (version 1): what happened, to whom as a stable keyed contact id, and
// nothing personal unless a destination is configured to receive content.
//
// # Types
//
//   - [TypeMessageReceived]: a verified inbound message.
//   - [TypeMessageStatus]: sent, delivered, read or failed of an outbound
//     message, with Meta's error code.
//   - [TypeConsentChanged]: a grant or revoke from any source.
//   - [TypeSubjectErased]: an erasure completed (GDPR Art. 19).
//
// # Security properties
//
//   - An event's id is derived from the audit event recorded in the same
//     transaction as the change, so it is identical on every retry and a
//     change can never exist without its event, nor an event without its
//     change (docs/events.md, "Outbox").
//   - [ContactID] is an HMAC of the subject under a key of its own: it is
//     neither the blind index nor the audit pseudonym, and it is never
//     written to the audit trail.
//   - [Data] holds ids and non-personal fields; [Content] holds the
//     personal part and is filled only for destinations configured with
//     include_content, never for the event bus.
//
// # Non-goals
//
// Order is not promised: consumers dedupe on the id and order by time.
package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Type is an event type. The zero value is invalid.
type Type string

// The event types of version 1.
const (
	TypeUnknown         Type = ""
	TypeMessageReceived Type = "message.received"
	TypeMessageStatus   Type = "message.status"
	TypeConsentChanged  Type = "consent.changed"
	TypeSubjectErased   Type = "subject.erased"
)

// Types lists every valid type.
var Types = []Type{TypeMessageReceived, TypeMessageStatus, TypeConsentChanged, TypeSubjectErased}

// Valid reports whether t is a type of version 1.
func (t Type) Valid() bool {
	for _, v := range Types {
		if t == v {
			return true
		}
	}
	return false
}

// Source is the EventBridge source of every event.
const Source = "waguard"

// Event is one event as delivered: the EventBridge detail, and the
// Standard Webhooks payload's data with type and timestamp around it.
type Event struct {
	ID   string    `json:"id"`
	Type Type      `json:"type"`
	Time time.Time `json:"time"`
	Data Data      `json:"data"`
}

// Data is an event's data: ids and non-personal fields always, the
// personal part only for a destination that receives content.
type Data struct {
	// ContactID identifies the person ([ContactID]).
	ContactID string `json:"contact_id"`
	// waguard's ids of what the event is about.
	MessageID        string `json:"message_id,omitempty"`
	ConsentEventID   string `json:"consent_event_id,omitempty"`
	ErasureRequestID string `json:"erasure_request_id,omitempty"`
	// Non-personal fields.
	Direction   string `json:"direction,omitempty"`
	MessageType string `json:"type,omitempty"`
	Purpose     string `json:"purpose,omitempty"`
	Status      string `json:"status,omitempty"`
	ErrorCode   int    `json:"error_code,omitempty"`
	Action      string `json:"action,omitempty"`
	Method      string `json:"method,omitempty"`
	// NoticeSHA256 names the notice a consent event recorded
	// (GET /v1/notices/{id}); a notice is the business's text, not personal.
	NoticeSHA256 string `json:"notice_sha256,omitempty"`
	// Confirms is, on a grant confirming a pending one (double opt-in),
	// the pending entry's consent event id.
	Confirms string `json:"confirms,omitempty"`
	// Content is the personal part, for content destinations only.
	*Content
}

// Content is an event's personal part. It is read from the encrypted
// store when a content destination receives the event, never earlier, and
// never once the person was erased.
type Content struct {
	Phone       string          `json:"phone,omitempty"`
	UserID      string          `json:"user_id,omitempty"`
	Username    string          `json:"username,omitempty"`
	ProfileName string          `json:"profile_name,omitempty"`
	Text        string          `json:"text,omitempty"`
	Template    json.RawMessage `json:"template,omitempty"`
	Reply       *ReplyContent   `json:"reply,omitempty"`
}

// ReplyContent is an interactive or button reply: its payload and title.
type ReplyContent struct {
	ID    string `json:"id,omitempty"`
	Title string `json:"title,omitempty"`
}

// WithoutContent returns e with no personal part, as the bus receives it.
func (e Event) WithoutContent() Event {
	e.Data.Content = nil
	return e
}

// idEncoding writes ids in the alphabet of waguard's other ids.
var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ErrBadAuditID is returned by [IDFromAudit] for an id that is not an
// audit event id.
var ErrBadAuditID = errors.New("events: not an audit event id")

// IDFromAudit returns the id of the event recorded with audit event
// auditID ("ev_" and 26 base32 characters): "evt_" and the same
// characters, so every delivery attempt carries the same id.
func IDFromAudit(auditID string) (string, error) {
	rest, ok := strings.CutPrefix(auditID, "ev_")
	if !ok || len(rest) != 26 {
		return "", ErrBadAuditID
	}
	for i := range len(rest) {
		if c := rest[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') && (c < 'A' || c > 'Z') {
			return "", ErrBadAuditID
		}
	}
	return "evt_" + rest, nil
}

// ContactID returns the contact id of the subject with partition key
// subject under key: "ct_" and 26 base32 characters of
// HMAC-SHA256(key, "waguard/v1/contact\x00" ‖ subject). The key is
// derived for this purpose only, so the id can be joined neither with
// the data table's keys nor with the audit trail.
func ContactID(key []byte, subject string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("waguard/v1/contact\x00"))
	m.Write([]byte(subject))
	return "ct_" + idEncoding.EncodeToString(m.Sum(nil))[:26]
}
