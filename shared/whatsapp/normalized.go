package whatsapp

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of the normalised message object.
const (
	maxIDLen   = 256
	maxTextLen = 64 << 10
	maxNameLen = 256
)

// normalized is the wire form of the /webhooks/signed message object;
// see [ParseNormalized].
type normalized struct {
	ID              string           `json:"id"`
	From            string           `json:"from,omitempty"`
	FromUserID      string           `json:"from_user_id,omitempty"`
	Timestamp       int64            `json:"timestamp"`
	Type            string           `json:"type"`
	Text            string           `json:"text,omitempty"`
	Reply           *normalizedReply `json:"reply,omitempty"`
	Name            string           `json:"name,omitempty"`
	Username        string           `json:"username,omitempty"`
	ToPhoneNumberID string           `json:"to_phone_number_id"`
}

// normalizedReply is the button or list choice of a normalised message.
type normalizedReply struct {
	ID    string `json:"id"`
	Title string `json:"title,omitempty"`
}

// ParseNormalized parses the normalised single-message object that
// providers which do not forward Meta's envelope post to
// /webhooks/signed, with the default [Limits]:
//
//	{"id":"<provider message id>","from":"+447700900123","timestamp":1767225600,
//	 "type":"text","text":"hello","to_phone_number_id":"100000000000001"}
//
// The fields are:
//
//   - id (required): the provider's message id, 1 to 256 printable
//     ASCII characters; it becomes [Message.ID].
//   - from: the sender in E.164, "+" and 7 to 15 digits; the digits
//     become [Message.From], as a wa_id would.
//   - from_user_id: the sender's BSUID, such as
//     "US.13491208655302741918" (see package bsuid); it becomes
//     [Message.FromUserID]. At least one of from and from_user_id is
//     required.
//   - timestamp (required): when it was sent, as a JSON integer of Unix
//     seconds (milliseconds are rejected).
//   - type (required): 1 to 32 of a-z and '_', Meta's type names,
//     except "system" (identifier changes come only in Meta's envelope).
//   - text: the body, required for type "text" and forbidden otherwise.
//   - reply: {"id","title"} of the chosen button or row, only for types
//     "interactive" and "button".
//   - name: the sender's profile name, optional.
//   - username: the sender's WhatsApp username, optional.
//   - to_phone_number_id (required): the business phone number id,
//     digits.
//
// Unknown fields, trailing data and wrong types are rejected with an
// error wrapping [ErrMalformed]. The result is a [KindMessage] event.
func ParseNormalized(body []byte) (Event, error) {
	return Limits{}.ParseNormalized(body)
}

// ParseNormalized is [ParseNormalized] bounded by l.MaxBytes.
func (l Limits) ParseNormalized(body []byte) (Event, error) {
	ev, err := l.parseNormalized(body)
	if err != nil {
		return Event{}, fmt.Errorf("parse normalized message: %w", err)
	}
	return ev, nil
}

// parseNormalized is [Limits.ParseNormalized] without the error prefix.
func (l Limits) parseNormalized(body []byte) (Event, error) {
	l = l.withDefaults()
	if len(body) > l.MaxBytes {
		return Event{}, malformed("body of %d bytes exceeds %d", len(body), l.MaxBytes)
	}
	var n normalized
	if err := decodeJSON(body, &n, true); err != nil {
		return Event{}, err
	}
	if err := n.validate(); err != nil {
		return Event{}, err
	}
	m := Message{
		ID: n.ID, From: strings.TrimPrefix(n.From, "+"), FromUserID: optionalID(n.FromUserID),
		ProfileName: n.Name, Username: n.Username, Time: time.Unix(n.Timestamp, 0).UTC(), Type: n.Type, Text: n.Text,
	}
	if n.Reply != nil {
		m.ReplyID, m.ReplyTitle = n.Reply.ID, n.Reply.Title
	}
	return Event{Kind: KindMessage, PhoneNumberID: n.ToPhoneNumberID, Message: m}, nil
}

// validate checks the rules of [ParseNormalized], naming fields only.
func (n *normalized) validate() error {
	switch {
	case !printableASCII(n.ID, maxIDLen):
		return malformed("id must be 1 to %d printable ASCII characters", maxIDLen)
	case n.From == "" && n.FromUserID == "":
		return malformed("from or from_user_id is required")
	case n.From != "" && (len(n.From) < 8 || len(n.From) > 16 || n.From[0] != '+' || n.From[1] == '0' || !digits(n.From[1:])):
		return malformed("from must be E.164")
	case n.FromUserID != "" && optionalID(n.FromUserID).IsZero():
		return malformed("from_user_id must be a business-scoped user id")
	case n.Timestamp <= 0 || n.Timestamp > maxUnixSeconds:
		return malformed("timestamp must be Unix seconds")
	case !isToken(n.Type) || n.Type == "system":
		return malformed("type must be 1 to 32 of a-z and _, not system")
	case (n.Type == "text") != (n.Text != ""), len(n.Text) > maxTextLen, !utf8.ValidString(n.Text):
		return malformed("text is required for type text only, at most %d bytes", maxTextLen)
	case n.Reply != nil && (n.Type != "interactive" && n.Type != "button" ||
		!printableASCII(n.Reply.ID, maxIDLen) || len(n.Reply.Title) > maxNameLen):
		return malformed("reply needs type interactive or button and an id")
	case n.Reply != nil && !utf8.ValidString(n.Reply.Title):
		return malformed("reply title must be UTF-8")
	case len(n.Name) > maxNameLen || !utf8.ValidString(n.Name):
		return malformed("name must be UTF-8 of at most %d bytes", maxNameLen)
	case len(n.Username) > maxNameLen || !utf8.ValidString(n.Username):
		return malformed("username must be UTF-8 of at most %d bytes", maxNameLen)
	case n.ToPhoneNumberID == "" || len(n.ToPhoneNumberID) > 32 || !digits(n.ToPhoneNumberID):
		return malformed("to_phone_number_id must be digits")
	}
	return nil
}

// MarshalNormalized returns the normalised object for a message event,
// the inverse of [ParseNormalized]; tests and the sandbox use it to post
// to /webhooks/signed. It returns an error wrapping [ErrMalformed] for
// an event that is not a message or that [ParseNormalized] would refuse.
// The normalised shape has no parent BSUID: FromParentUserID is dropped.
func MarshalNormalized(ev Event) ([]byte, error) {
	if ev.Kind != KindMessage {
		return nil, fmt.Errorf("marshal normalized: %w", malformed("event is not a message"))
	}
	m := ev.Message
	n := normalized{
		ID: m.ID, FromUserID: m.FromUserID.Reveal(), Timestamp: m.Time.Unix(), Type: m.Type, Text: m.Text,
		Name: m.ProfileName, Username: m.Username, ToPhoneNumberID: ev.PhoneNumberID,
	}
	if m.From != "" {
		n.From = "+" + m.From
	}
	if m.ReplyID != "" || m.ReplyTitle != "" {
		n.Reply = &normalizedReply{ID: m.ReplyID, Title: m.ReplyTitle}
	}
	if err := n.validate(); err != nil {
		return nil, fmt.Errorf("marshal normalized: %w", err)
	}
	b, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("marshal normalized: %w", err)
	}
	return b, nil
}

// ParseAny parses either Meta's envelope (a body with an "object" key)
// or the normalised object, with the default [Limits], and returns its
// events. Errors wrap [ErrMalformed].
func ParseAny(body []byte) ([]Event, error) {
	return Limits{}.ParseAny(body)
}

// ParseAny is [ParseAny] with limits l.
func (l Limits) ParseAny(body []byte) ([]Event, error) {
	l = l.withDefaults()
	if len(body) > l.MaxBytes {
		return nil, fmt.Errorf("parse webhook: %w", malformed("body of %d bytes exceeds %d", len(body), l.MaxBytes))
	}
	var probe struct {
		Object json.RawMessage `json:"object"`
	}
	if err := decodeJSON(body, &probe, false); err != nil {
		return nil, fmt.Errorf("parse webhook: %w", err)
	}
	if probe.Object != nil {
		env, err := l.Parse(body)
		if err != nil {
			return nil, err
		}
		return Events(env), nil
	}
	ev, err := l.ParseNormalized(body)
	if err != nil {
		return nil, err
	}
	return []Event{ev}, nil
}

// digits reports whether s is non-empty ASCII digits.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// printableASCII reports whether s is 1 to max bytes of '!' to '~'.
func printableASCII(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
