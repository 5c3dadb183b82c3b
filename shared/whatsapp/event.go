package whatsapp

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"
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
	}
	return "unknown"
}

// Event is one message, status or error from a webhook. It prints and
// logs its kind, type, status, error code, time and field lengths only.
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
}

// Message is an inbound message. It prints and logs its type, time and
// field lengths only.
type Message struct {
	// ID is the provider's message id: the wamid for Meta, which embeds
	// the sender's number and is therefore personal data.
	ID string
	// From is the sender's WhatsApp id, digits only as WhatsApp sends
	// it (no "+"), not validated as a phone number.
	From string
	// ProfileName is the sender's WhatsApp profile name, from the
	// contacts[] entry with the same wa_id; empty when there is none.
	ProfileName string
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
	// RecipientID is the recipient's WhatsApp id.
	RecipientID string
	// ErrorCode is errors[0].code, which Meta sets on failed messages.
	ErrorCode int
	// CallbackData is the biz_opaque_callback_data the message was sent
	// with ([WithCallbackData]), which Meta echoes in its statuses.
	CallbackData string
}

// Events flattens env into events in payload order: per change, its
// messages, then its statuses, then its errors. It returns nil for a nil
// envelope.
func Events(env *Envelope) []Event {
	if env == nil {
		return nil
	}
	var out []Event
	for _, ent := range env.entries {
		for _, v := range ent.values {
			out = v.appendEvents(out)
		}
	}
	return out
}

// appendEvents appends the events of one "messages" change value.
func (v *wireValue) appendEvents(out []Event) []Event {
	pid := v.Metadata.PhoneNumberID
	for _, m := range v.Messages {
		out = append(out, Event{Kind: KindMessage, PhoneNumberID: pid, Message: v.message(m)})
	}
	for _, s := range v.Statuses {
		st := Status{ID: s.ID, Status: s.Status, Time: s.Timestamp.t, RecipientID: s.RecipientID, CallbackData: s.CallbackData}
		if len(s.Errors) > 0 {
			st.ErrorCode = s.Errors[0].Code
		}
		out = append(out, Event{Kind: KindStatus, PhoneNumberID: pid, Status: st})
	}
	for _, e := range v.Errors {
		out = append(out, Event{Kind: KindError, PhoneNumberID: pid, ErrorCode: e.Code})
	}
	return out
}

// message converts one wire message, reading only the parts of its type.
func (v *wireValue) message(m wireMessage) Message {
	msg := Message{ID: m.ID, From: m.From, Time: m.Timestamp.t, Type: m.Type}
	for _, c := range v.Contacts {
		if c.WAID == m.From {
			msg.ProfileName = c.Profile.Name
			break
		}
	}
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

// String reports kind and the redacted form of its content.
func (e Event) String() string {
	switch e.Kind {
	case KindMessage:
		return "whatsapp.Event{message " + e.Message.String() + "}"
	case KindStatus:
		return "whatsapp.Event{status " + e.Status.String() + "}"
	case KindError:
		return fmt.Sprintf("whatsapp.Event{error code=%d}", e.ErrorCode)
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
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes the same redacted view as [Event.LogValue], so
// that an event inside a logged slice or struct reveals nothing either.
// Events are not a wire format: see [MarshalNormalized].
func (e Event) MarshalJSON() ([]byte, error) { return redactedJSON(e.LogValue()) }

// String reports the type, time and lengths only.
func (m Message) String() string {
	return fmt.Sprintf("{type=%q time=%s id_len=%d from_len=%d name_len=%d text_len=%d reply_id_len=%d reply_title_len=%d}",
		token(m.Type), formatTime(m.Time), len(m.ID), len(m.From), len(m.ProfileName), len(m.Text), len(m.ReplyID), len(m.ReplyTitle))
}

// Format writes [Message.String] for every verb.
func (m Message) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "whatsapp.Message"+m.String()) }

// LogValue logs the type, time and lengths only.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("type", token(m.Type)), slog.String("time", formatTime(m.Time)),
		slog.Int("text_len", len(m.Text)), slog.Int("name_len", len(m.ProfileName)),
		slog.Int("reply_id_len", len(m.ReplyID)), slog.Int("reply_title_len", len(m.ReplyTitle)),
	)
}

// MarshalJSON encodes the redacted view of [Message.LogValue].
func (m Message) MarshalJSON() ([]byte, error) { return redactedJSON(m.LogValue()) }

// String reports the status, time and error code only.
func (s Status) String() string {
	return fmt.Sprintf("{status=%q time=%s error_code=%d id_len=%d}", token(s.Status), formatTime(s.Time), s.ErrorCode, len(s.ID))
}

// Format writes [Status.String] for every verb.
func (s Status) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "whatsapp.Status"+s.String()) }

// LogValue logs the status, time and error code only.
func (s Status) LogValue() slog.Value {
	return slog.GroupValue(slog.String("status", token(s.Status)), slog.String("time", formatTime(s.Time)), slog.Int("error_code", s.ErrorCode))
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
