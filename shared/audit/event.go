package audit

import (
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// EventType names what happened. The zero value, [EventUnknown], is invalid.
type EventType string

// The event types waguard records.
const (
	EventUnknown                 EventType = ""
	EventMessageReceived         EventType = "message_received"
	EventMessageSent             EventType = "message_sent"
	EventMessageStatus           EventType = "message_status"
	EventConsentGranted          EventType = "consent_granted"
	EventConsentRevoked          EventType = "consent_revoked"
	EventDataDeletion            EventType = "data_deletion"
	EventDataExport              EventType = "data_export"
	EventErasureRequested        EventType = "erasure_requested"
	EventRetentionSweep          EventType = "retention_sweep"
	EventAPIKeyRotated           EventType = "api_key_rotated"
	EventAPIKeyFallbackUsed      EventType = "api_key_fallback_used"
	EventRateLimitExceeded       EventType = "rate_limit_exceeded"
	EventWebhookValidationFailed EventType = "webhook_validation_failed"
	EventAuthFailed              EventType = "auth_failed"
	// EventIdentityLinked: WhatsApp showed identifiers of one person
	// together (a phone number and a business-scoped user id, or a user
	// id and the one it replaced), and they now lead to one subject.
	EventIdentityLinked EventType = "identity_linked"
	// EventDataAccess: an API client read a person's data through the API
	// (the read API, the consent query), with the route and how many
	// records it returned, so a DPO can answer who read whose data. The
	// subject-access export keeps its own EventDataExport.
	EventDataAccess EventType = "data_access"
	// EventConsentResumed: a person resumed marketing messages in
	// WhatsApp's own settings (user_preferences resume). Recorded in the
	// ledger; not a grant.
	EventConsentResumed EventType = "consent_resumed"
	// EventConsentRequested: a grant waiting for the person's
	// confirmation on WhatsApp (double opt-in) was appended to the
	// ledger, and the confirmation template is sent. Not a grant.
	EventConsentRequested EventType = "consent_requested"
)

// Valid reports whether t is one of the event types above.
func (t EventType) Valid() bool {
	switch t {
	case EventMessageReceived, EventMessageSent, EventMessageStatus,
		EventConsentGranted, EventConsentRevoked, EventDataDeletion,
		EventDataExport, EventErasureRequested, EventRetentionSweep,
		EventAPIKeyRotated, EventAPIKeyFallbackUsed, EventRateLimitExceeded,
		EventWebhookValidationFailed, EventAuthFailed, EventIdentityLinked, EventDataAccess, EventConsentResumed,
		EventConsentRequested:
		return true
	}
	return false
}

// Actor says who caused an event: the function that recorded it and the
// caller it acted for (an API client ID, "meta", "scheduler"), never a
// person's identifier.
type Actor struct {
	Function string
	Caller   string
}

// Event is one audit record. Callers set Type, Actor.Caller, Subject,
// RequestID and Details; the [Writer] sets everything else and ignores
// what the caller put there.
type Event struct {
	// ID is "ev_" followed by 26 base32 characters (128 random bits).
	ID string
	// Time is when the writer stamped the event, in UTC. It never goes
	// backwards within a chain.
	Time time.Time
	// Type is what happened.
	Type EventType
	// Actor is who caused it. Actor.Function defaults to the writer's.
	Actor Actor
	// Subject is the data subject's pseudonym (optional): an opaque string
	// the caller computed with the audit pseudonym key, never a phone number.
	Subject string
	// RequestID is the Lambda or API request ID.
	RequestID string
	// Details are non-personal facts (counts, purposes, error codes, IDs of
	// waguard records). Callers must not put personal data here: see
	// [ErrPersonalData] for the cheap guard the writer applies.
	Details map[string]string

	// Chain is the writer ID: the event's hash chain.
	Chain string
	// Seq is the event's position in its chain, from 1.
	Seq uint64
	// PrevHash is the hash of the previous event in the chain, or
	// the zero Hash (the genesis hash) for Seq 1.
	PrevHash Hash
	// Hash is SHA-256 over the event's canonical encoding (see [Event.ComputeHash]).
	Hash Hash
	// ExpiresAt is when DynamoDB TTL may delete the event (zero: never).
	ExpiresAt time.Time
}

// Day is the event's UTC day, YYYY-MM-DD: the by-day index key.
func (e *Event) Day() string { return e.Time.UTC().Format(dayLayout) }

// ErrPersonalData is returned (wrapped) when an event looks like it holds
// personal data: a detail with a run of eight or more digits (a phone
// number), a "+" before a digit, an "@" or a provider message ID
// ("wamid"), a detail key such as "phone" or "body", or a subject or
// caller without a single letter (a phone number, not a pseudonym). The
// guard is a cheap heuristic, not a guarantee; callers remain responsible
// for what they record.
var ErrPersonalData = errors.New("detail looks like personal data")

const (
	dayLayout     = "2006-01-02"
	maxDetails    = 16
	maxKeyLen     = 64
	maxValueLen   = 256
	maxIDLen      = 128
	maxDigitRun   = 7
	idPrefix      = "ev_"
	randomIDBytes = 16
)

var (
	idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

	deniedKeys = map[string]bool{
		"phone": true, "to": true, "from": true, "body": true, "text": true,
		"token": true, "name": true, "profile_name": true, "email": true,
		"wamid": true, "msisdn": true, "number": true, "ip": true,
	}
)

// validate checks the caller's part of an event.
func (e *Event) validate() error {
	if !e.Type.Valid() {
		return fmt.Errorf("event type %q: invalid", e.Type)
	}
	if err := checkToken("actor caller", e.Actor.Caller, true); err != nil {
		return err
	}
	if looksLikeNumber(e.Actor.Caller) || (e.Subject != "" && looksLikeNumber(e.Subject)) {
		return fmt.Errorf("actor caller or subject: %w", ErrPersonalData)
	}
	if err := checkToken("actor function", e.Actor.Function, false); err != nil {
		return err
	}
	if err := checkToken("subject", e.Subject, false); err != nil {
		return err
	}
	if err := checkToken("request id", e.RequestID, false); err != nil {
		return err
	}
	return checkDetails(e.Details)
}

// checkToken bounds an identifier and keeps control characters out.
func checkToken(what, s string, required bool) error {
	if s == "" && required {
		return fmt.Errorf("%s: empty", what)
	}
	if len(s) > maxIDLen {
		return fmt.Errorf("%s: longer than %d bytes", what, maxIDLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s: control character", what)
		}
	}
	return nil
}

// checkDetails applies the personal-data guard. Errors name the key, which
// is validated first, but never the value.
func checkDetails(d map[string]string) error {
	if len(d) > maxDetails {
		return fmt.Errorf("details: more than %d entries", maxDetails)
	}
	for k, v := range d {
		if !validKey(k) {
			return errors.New("details: invalid key")
		}
		if deniedKeys[k] || len(v) > maxValueLen || looksPersonal(v) {
			return fmt.Errorf("detail %q: %w", k, ErrPersonalData)
		}
		if err := checkToken("detail "+k, v, false); err != nil {
			return err
		}
	}
	return nil
}

// validKey accepts [a-z0-9_] keys of 1 to 64 bytes.
func validKey(k string) bool {
	if k == "" || len(k) > maxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// looksPersonal is the cheap guard: long digit runs (phone numbers), "+"
// before a digit (E.164), "@" (e-mail) and "wamid" (provider message IDs
// embed the phone number).
func looksPersonal(v string) bool {
	if strings.Contains(v, "@") || strings.Contains(strings.ToLower(v), "wamid") {
		return true
	}
	run := 0
	for i := 0; i < len(v); i++ {
		if v[i] >= '0' && v[i] <= '9' {
			if run++; run > maxDigitRun {
				return true
			}
			if i > 0 && v[i-1] == '+' {
				return true
			}
			continue
		}
		run = 0
	}
	return false
}

// looksLikeNumber guards identifiers that must be opaque (a pseudonym, a
// client ID): no "@", no "wamid", and at least one letter, since a phone
// number in any format has none. Digit runs are not checked here, as a
// base64url HMAC may contain them.
func looksLikeNumber(v string) bool {
	if strings.Contains(v, "@") || strings.Contains(strings.ToLower(v), "wamid") {
		return true
	}
	for i := 0; i < len(v); i++ {
		if c := v[i] | 0x20; c >= 'a' && c <= 'z' {
			return false
		}
	}
	return true
}

// randomID returns prefix followed by n random bytes in lower-case base32.
func randomID(r io.Reader, prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return prefix + strings.ToLower(idEncoding.EncodeToString(b)), nil
}
