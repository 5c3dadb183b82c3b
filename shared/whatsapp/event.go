package whatsapp

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/waguard/waguard/shared/bsuid"
)

// Kind says what an [Event] carries. The zero value is invalid.
type Kind int

// Event kinds.
const (
	KindUnknown Kind = iota
	// KindMessage is an inbound message: see [Event.Message].
	KindMessage
	// KindStatus is a status update on an outbound message: see
	// [Event.Status].
	KindStatus
	// KindError is a webhook-level error (value.errors[]): see
	// [Event.ErrorCode].
	KindError
	// KindSystem is a change of a user's identifiers (a "system"
	// message, or an item of the retracted user_id_update field): see
	// [Event.System].
	KindSystem
	// KindPreference is a user's stop or resume of marketing messages:
	// see [Event.Preference].
	KindPreference
)

// String returns a stable lower-case name.
func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindStatus:
		return "status"
	case KindError:
		return "error"
	case KindSystem:
		return "system"
	case KindPreference:
		return "preference"
	}
	return "unknown"
}

// Event is one message, status, error, identifier change or preference
// from a webhook. It prints and logs its kind, type, status, error code,
// time and field lengths only.
type Event struct {
	Kind Kind
	// PhoneNumberID is the business phone number id the event concerns:
	// the number a message was sent to, or that sent the message a status
	// is about.
	PhoneNumberID string
	// Message is set for KindMessage.
	Message Message
	// Status is set for KindStatus.
	Status Status
	// ErrorCode is Meta's error code, for KindError.
	ErrorCode int
	// System is set for KindSystem.
	System System
	// Preference is set for KindPreference.
	Preference Preference
}

// Message is an inbound message. It prints and logs its type, time and
// field lengths only.
//
// Its sender is named by From, FromUserID, or both; Meta omits From for a
// user with a username whose number it withholds. A message with neither
// is still an event: the caller cannot attribute it and should ignore it.
type Message struct {
	// ID is the provider's message id: the wamid for Meta, which embeds
	// the sender's number and is therefore personal data.
	ID string
	// From is the sender's WhatsApp id, digits only as WhatsApp sends
	// it (no "+"), not validated as a phone number; "" when Meta
	// withholds it.
	From string
	// FromUserID is the sender's BSUID (from_user_id); zero when absent
	// or not a valid BSUID.
	FromUserID bsuid.ID
	// FromParentUserID is the sender's parent BSUID
	// (from_parent_user_id), only for businesses Meta enrolled.
	FromParentUserID bsuid.ID
	// ProfileName is the sender's WhatsApp profile name, from the
	// contacts[] entry with the same wa_id or user_id; empty when there
	// is none.
	ProfileName string
	// Username is the sender's WhatsApp username, from the same contacts[]
	// entry, for users who adopted one. It is display data that the user
	// can change, personal data, and never an identifier.
	Username string
	// Time is when the user sent the message.
	Time time.Time
	// Type is Meta's message type: text, interactive, button, image,
	// audio, document, sticker, location, contacts, reaction,
	// unsupported and so on.
	Type string
	// Text is the body of a text message.
	Text string
	// ReplyID is the id of the button_reply or list_reply of an
	// interactive message, or the payload of a quick-reply button.
	ReplyID string
	// ReplyTitle is the title of the button or row, or the text of a
	// quick-reply button.
	ReplyTitle string
}

// Status is a status update on a message the business sent. It prints
// and logs its status, time and error code only.
type Status struct {
	// ID is the wamid of the outbound message.
	ID string
	// Status is sent, delivered, read or failed (Meta may add others).
	Status string
	// Time is when the status changed.
	Time time.Time
	// RecipientID is the recipient's WhatsApp id (wa_id digits); ""
	// when the message went to a BSUID and Meta withholds the number.
	RecipientID string
	// RecipientUserID is the recipient's BSUID (recipient_user_id); zero
	// when absent (a failed status of a message sent to a number) or not
	// a valid BSUID.
	RecipientUserID bsuid.ID
	// RecipientParentUserID is the recipient's parent BSUID
	// (recipient_parent_user_id), only for businesses Meta enrolled.
	RecipientParentUserID bsuid.ID
	// Username is the recipient's username, from the contacts[] entry
	// with the same wa_id or user_id (delivered and read statuses only).
	Username string
	// ErrorCode is errors[0].code, which Meta sets on failed messages.
	ErrorCode int
	// CallbackData is the biz_opaque_callback_data the message was sent
	// with ([WithCallbackData]), which Meta echoes in its statuses.
	CallbackData string
}

// Events returns env's events in payload order: per change, its
// messages (system messages as [KindSystem]), then its statuses, then its
// errors, or its preferences or BSUID updates. It returns nil for a nil
// envelope or one without events.
func Events(env *Envelope) []Event {
	if env == nil || len(env.events) == 0 {
		return nil
	}
	return slices.Clone(env.events)
}

// appendEvents appends the events of one "messages" change value.
func (v *wireValue) appendEvents(out []Event) []Event {
	pid := v.Metadata.PhoneNumberID
	for _, m := range v.Messages {
		if m.Type == "system" {
			out = append(out, Event{Kind: KindSystem, PhoneNumberID: pid, System: m.system()})
			continue
		}
		out = append(out, Event{Kind: KindMessage, PhoneNumberID: pid, Message: v.message(m)})
	}
	for _, s := range v.Statuses {
		out = append(out, Event{Kind: KindStatus, PhoneNumberID: pid, Status: v.status(s)})
	}
	for _, e := range v.Errors {
		out = append(out, Event{Kind: KindError, PhoneNumberID: pid, ErrorCode: e.Code})
	}
	return out
}

// contact returns the contacts[] entry with wa_id waID or user_id
// userID, ignoring empty ones.
func (v *wireValue) contact(waID, userID string) (wireContact, bool) {
	for _, c := range v.Contacts {
		if waID != "" && c.WAID == waID || userID != "" && c.UserID == userID {
			return c, true
		}
	}
	return wireContact{}, false
}

// message converts one wire message, reading only the parts of its type.
// The sender's identifiers that the message lacks are taken from its
// contacts[] entry, which pairs them for one person.
func (v *wireValue) message(m wireMessage) Message {
	from, userID, parentID := m.From, m.FromUserID, m.FromParentUserID
	msg := Message{ID: m.ID, Time: m.Timestamp.t, Type: m.Type}
	if c, ok := v.contact(from, userID); ok {
		msg.ProfileName, msg.Username = c.Profile.Name, c.Profile.Username
		from, userID, parentID = or(from, c.WAID), or(userID, c.UserID), or(parentID, c.ParentUserID)
	}
	msg.From, msg.FromUserID, msg.FromParentUserID = from, optionalID(userID), optionalID(parentID)
	switch {
	case m.Type == "text" && m.Text != nil:
		msg.Text = m.Text.Body
	case m.Type == "interactive" && m.Interactive != nil:
		r := m.Interactive.ButtonReply
		if m.Interactive.Type == "list_reply" {
			r = m.Interactive.ListReply
		} else if m.Interactive.Type != "button_reply" {
			r = nil
		}
		if r != nil {
			msg.ReplyID, msg.ReplyTitle = r.ID, r.Title
		}
	case m.Type == "button" && m.Button != nil:
		msg.ReplyID, msg.ReplyTitle = m.Button.Payload, m.Button.Text
	}
	return msg
}

// status converts one wire status, completing the recipient's
// identifiers from its contacts[] entry as [wireValue.message] does.
func (v *wireValue) status(s wireStatus) Status {
	st := Status{ID: s.ID, Status: s.Status, Time: s.Timestamp.t, CallbackData: s.CallbackData}
	if len(s.Errors) > 0 {
		st.ErrorCode = s.Errors[0].Code
	}
	waID, userID, parentID := s.RecipientID, s.RecipientUserID, s.RecipientParentUserID
	if c, ok := v.contact(waID, userID); ok {
		st.Username = c.Profile.Username
		waID, userID, parentID = or(waID, c.WAID), or(userID, c.UserID), or(parentID, c.ParentUserID)
	}
	st.RecipientID, st.RecipientUserID, st.RecipientParentUserID = waID, optionalID(userID), optionalID(parentID)
	return st
}

// or returns a, or b when a is empty.
func or(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

// String reports kind and the redacted form of its content.
func (e Event) String() string {
	switch e.Kind {
	case KindMessage:
		return "whatsapp.Event{message " + e.Message.String() + "}"
	case KindStatus:
		return "whatsapp.Event{status " + e.Status.String() + "}"
	case KindError:
		return fmt.Sprintf("whatsapp.Event{error code=%d}", e.ErrorCode)
	case KindSystem:
		return "whatsapp.Event{system " + e.System.String() + "}"
	case KindPreference:
		return "whatsapp.Event{preference " + e.Preference.String() + "}"
	}
	return "whatsapp.Event{unknown}"
}

// Format writes [Event.String] for every verb.
func (e Event) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, e.String()) }

// LogValue logs the kind and the redacted content.
func (e Event) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("kind", e.Kind.String())}
	switch e.Kind {
	case KindMessage:
		attrs = append(attrs, slog.Any("message", e.Message))
	case KindStatus:
		attrs = append(attrs, slog.Any("status", e.Status))
	case KindError:
		attrs = append(attrs, slog.Int("error_code", e.ErrorCode))
	case KindSystem:
		attrs = append(attrs, slog.Any("system", e.System))
	case KindPreference:
		attrs = append(attrs, slog.Any("preference", e.Preference))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes the same redacted view as [Event.LogValue], so
// that an event inside a logged slice or struct reveals nothing either.
// Events are not a wire format: see [MarshalNormalized].
func (e Event) MarshalJSON() ([]byte, error) { return redactedJSON(e.LogValue()) }

// String reports the type, time and lengths only.
func (m Message) String() string {
	return fmt.Sprintf("{type=%q time=%s id_len=%d from_len=%d user_id_len=%d parent_user_id_len=%d name_len=%d username_len=%d text_len=%d reply_id_len=%d reply_title_len=%d}",
		token(m.Type), formatTime(m.Time), len(m.ID), len(m.From), idLen(m.FromUserID), idLen(m.FromParentUserID),
		len(m.ProfileName), len(m.Username), len(m.Text), len(m.ReplyID), len(m.ReplyTitle))
}

// Format writes [Message.String] for every verb.
func (m Message) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "whatsapp.Message"+m.String()) }

// LogValue logs the type, time, lengths and which identifiers are
// present only.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("type", token(m.Type)), slog.String("time", formatTime(m.Time)),
		slog.Bool("has_phone", m.From != ""), slog.Bool("has_user_id", !m.FromUserID.IsZero()),
		slog.Int("text_len", len(m.Text)), slog.Int("name_len", len(m.ProfileName)), slog.Int("username_len", len(m.Username)),
		slog.Int("reply_id_len", len(m.ReplyID)), slog.Int("reply_title_len", len(m.ReplyTitle)),
	)
}

// MarshalJSON encodes the redacted view of [Message.LogValue].
func (m Message) MarshalJSON() ([]byte, error) { return redactedJSON(m.LogValue()) }

// String reports the status, time and error code only.
func (s Status) String() string {
	return fmt.Sprintf("{status=%q time=%s error_code=%d id_len=%d recipient_len=%d user_id_len=%d parent_user_id_len=%d username_len=%d}",
		token(s.Status), formatTime(s.Time), s.ErrorCode, len(s.ID), len(s.RecipientID), idLen(s.RecipientUserID),
		idLen(s.RecipientParentUserID), len(s.Username))
}

// Format writes [Status.String] for every verb.
func (s Status) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "whatsapp.Status"+s.String()) }

// LogValue logs the status, time, error code and which identifiers are
// present only.
func (s Status) LogValue() slog.Value {
	return slog.GroupValue(slog.String("status", token(s.Status)), slog.String("time", formatTime(s.Time)), slog.Int("error_code", s.ErrorCode),
		slog.Bool("has_phone", s.RecipientID != ""), slog.Bool("has_user_id", !s.RecipientUserID.IsZero()))
}

// MarshalJSON encodes the redacted view of [Status.LogValue].
func (s Status) MarshalJSON() ([]byte, error) { return redactedJSON(s.LogValue()) }

// redactedJSON encodes a redacted LogValue group as a JSON object.
func redactedJSON(v slog.Value) ([]byte, error) {
	b, err := json.Marshal(attrValue(v))
	if err != nil {
		return nil, fmt.Errorf("encode redacted event: %w", err)
	}
	return b, nil
}

// attrValue turns a resolved slog value into a JSON-encodable value.
func attrValue(v slog.Value) any {
	v = v.Resolve()
	if v.Kind() != slog.KindGroup {
		return v.Any()
	}
	m := make(map[string]any, len(v.Group()))
	for _, a := range v.Group() {
		m[a.Key] = attrValue(a.Value)
	}
	return m
}

// formatTime is RFC 3339 in UTC, or "-" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// token returns s when it looks like a Meta type or status name (1 to
// 32 of a-z and '_'), and "other" otherwise, so that printing never
// copies arbitrary payload text.
func token(s string) string {
	if !isToken(s) {
		return "other"
	}
	return s
}

// isToken reports whether s is 1 to 32 of a-z and '_'.
func isToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}
