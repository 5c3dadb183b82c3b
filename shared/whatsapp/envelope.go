package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// ErrMalformed is returned, wrapped with the position of the problem, for
// a body that is not a webhook this package accepts: invalid JSON, the
// wrong object, a missing required field, or more than [Limits] allow.
// The error never contains payload content.
var ErrMalformed = errors.New("whatsapp: malformed payload")

// Object is the "object" of every WhatsApp Business Account webhook.
const Object = "whatsapp_business_account"

// FieldMessages is the change field that carries messages and statuses.
const FieldMessages = "messages"

// Default limits; Meta documents webhook payloads of up to 3 MB.
const (
	DefaultMaxBytes   = 4 << 20
	DefaultMaxEntries = 100
	DefaultMaxChanges = 100
	DefaultMaxEvents  = 1000
)

// Limits bounds the work a parse does. A zero field means its default.
type Limits struct {
	// MaxBytes is the largest body accepted.
	MaxBytes int
	// MaxEntries is the most entry[] elements in an envelope.
	MaxEntries int
	// MaxChanges is the most changes[] elements in one entry.
	MaxChanges int
	// MaxEvents is the most messages, statuses and errors in an
	// envelope, together; it also bounds each contacts[] list.
	MaxEvents int
}

// withDefaults fills zero fields.
func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxBytes, DefaultMaxBytes)
	def(&l.MaxEntries, DefaultMaxEntries)
	def(&l.MaxChanges, DefaultMaxChanges)
	def(&l.MaxEvents, DefaultMaxEvents)
	return l
}

// Envelope is a parsed webhook. Read it with [Events]; it prints and
// logs as counts only.
type Envelope struct {
	entries []entry
	ignored int // changes of fields other than "messages"
}

// entry is one entry[] element; values of other fields are not kept.
type entry struct {
	values []*wireValue
}

// Wire shapes of the parts of the "messages" webhook this package reads.
// encoding/json ignores every other field.
type (
	wireEnvelope struct {
		Object *string `json:"object"`
		Entry  []struct {
			ID      string `json:"id"`
			Changes []struct {
				Field string          `json:"field"`
				Value json.RawMessage `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	wireValue struct {
		MessagingProduct string `json:"messaging_product"`
		Metadata         struct {
			PhoneNumberID string `json:"phone_number_id"`
		} `json:"metadata"`
		Contacts []wireContact `json:"contacts"`
		Messages []wireMessage `json:"messages"`
		Statuses []wireStatus  `json:"statuses"`
		Errors   []wireError   `json:"errors"`
	}
	wireContact struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WAID string `json:"wa_id"`
	}
	wireMessage struct {
		From      string   `json:"from"`
		ID        string   `json:"id"`
		Timestamp unixTime `json:"timestamp"`
		Type      string   `json:"type"`
		Text      *struct {
			Body string `json:"body"`
		} `json:"text"`
		Interactive *struct {
			Type        string     `json:"type"`
			ButtonReply *wireReply `json:"button_reply"`
			ListReply   *wireReply `json:"list_reply"`
		} `json:"interactive"`
		Button *struct {
			Payload string `json:"payload"`
			Text    string `json:"text"`
		} `json:"button"`
	}
	wireReply struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	wireStatus struct {
		ID          string      `json:"id"`
		Status      string      `json:"status"`
		Timestamp   unixTime    `json:"timestamp"`
		RecipientID string      `json:"recipient_id"`
		Errors      []wireError `json:"errors"`
		// CallbackData is what the send set as biz_opaque_callback_data.
		CallbackData string `json:"biz_opaque_callback_data"`
	}
	wireError struct {
		Code int `json:"code"`
	}
)

// unixTime is a webhook timestamp: Unix seconds, which Meta sends as a
// decimal string. A JSON number is accepted too.
type unixTime struct{ t time.Time }

// maxUnixSeconds is 9999-12-31; later timestamps are nonsense.
const maxUnixSeconds = 253402300799

// UnmarshalJSON decodes "1767225600" or 1767225600.
func (u *unixTime) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	n, ok := parseDigits(b)
	if !ok || n <= 0 || n > maxUnixSeconds {
		return ErrMalformed
	}
	u.t = time.Unix(n, 0).UTC()
	return nil
}

// parseDigits parses 1 to 18 ASCII digits, with no sign or space.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// Parse parses a webhook body with the default [Limits]. See
// [Limits.Parse].
func Parse(body []byte) (*Envelope, error) {
	return Limits{}.Parse(body)
}

// Parse parses a webhook body. It returns an error wrapping
// [ErrMalformed] when the body is too large, is not one JSON object, its
// object is not [Object], an array exceeds the limits, or a "messages"
// change lacks messaging_product "whatsapp", a phone_number_id, or a
// message's id, from, type or timestamp, or a status's id, status or
// timestamp. Unknown fields are ignored.
func (l Limits) Parse(body []byte) (*Envelope, error) {
	env, err := l.parse(body)
	if err != nil {
		return nil, fmt.Errorf("parse webhook: %w", err)
	}
	return env, nil
}

// parse is [Limits.Parse] without the error prefix.
func (l Limits) parse(body []byte) (*Envelope, error) {
	l = l.withDefaults()
	if len(body) > l.MaxBytes {
		return nil, malformed("body of %d bytes exceeds %d", len(body), l.MaxBytes)
	}
	var w wireEnvelope
	if err := decodeJSON(body, &w, false); err != nil {
		return nil, err
	}
	if w.Object == nil || *w.Object != Object {
		return nil, malformed("object is not %s", Object)
	}
	if len(w.Entry) > l.MaxEntries {
		return nil, malformed("%d entries exceed %d", len(w.Entry), l.MaxEntries)
	}
	env := &Envelope{entries: make([]entry, 0, len(w.Entry))}
	budget := l.MaxEvents
	for i, e := range w.Entry {
		if len(e.Changes) > l.MaxChanges {
			return nil, malformed("entry %d: %d changes exceed %d", i, len(e.Changes), l.MaxChanges)
		}
		var ent entry
		for j, c := range e.Changes {
			if c.Field != FieldMessages {
				env.ignored++
				continue
			}
			v, err := parseValue(c.Value, &budget, l.MaxEvents)
			if err != nil {
				return nil, fmt.Errorf("entry %d change %d: %w", i, j, err)
			}
			ent.values = append(ent.values, v)
		}
		env.entries = append(env.entries, ent)
	}
	return env, nil
}

// parseValue decodes and checks the value of a "messages" change,
// charging its events to budget.
func parseValue(raw json.RawMessage, budget *int, maxEvents int) (*wireValue, error) {
	var v wireValue
	if err := decodeJSON(raw, &v, false); err != nil {
		return nil, err
	}
	if v.MessagingProduct != "whatsapp" || v.Metadata.PhoneNumberID == "" {
		return nil, malformed("no whatsapp messaging_product or phone_number_id")
	}
	*budget -= len(v.Messages) + len(v.Statuses) + len(v.Errors)
	if *budget < 0 || len(v.Contacts) > maxEvents {
		return nil, malformed("more than %d events", maxEvents)
	}
	for i, m := range v.Messages {
		if m.ID == "" || m.From == "" || m.Type == "" || m.Timestamp.t.IsZero() {
			return nil, malformed("message %d: missing id, from, type or timestamp", i)
		}
	}
	for i, s := range v.Statuses {
		if s.ID == "" || s.Status == "" || s.Timestamp.t.IsZero() {
			return nil, malformed("status %d: missing id, status or timestamp", i)
		}
	}
	return &v, nil
}

// decodeJSON decodes exactly one JSON value from b into v, rejecting
// unknown fields when strict. Decoder error texts quote the input, so
// only a syntax error's offset or a type error's field path survives.
func decodeJSON(b []byte, v any, strict bool) error {
	var err error
	if strict {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err = dec.Decode(v); err == nil {
			if _, err := dec.Token(); err != io.EOF {
				return malformed("data after the JSON value")
			}
			return nil
		}
	} else if err = json.Unmarshal(b, v); err == nil {
		// Unmarshal scans in place (a Decoder copies into its own buffer)
		// and itself refuses data after the value.
		return nil
	}
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn) && strings.Contains(syn.Error(), "after top-level value"):
		return malformed("data after the JSON value")
	case errors.As(err, &syn):
		return malformed("invalid JSON at offset %d", syn.Offset)
	case errors.As(err, &typ):
		return malformed("wrong JSON type for %q", typ.Field)
	case errors.Is(err, ErrMalformed):
		return malformed("invalid timestamp")
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return malformed("unknown field")
	default:
		return malformed("invalid JSON")
	}
}

// malformed wraps ErrMalformed with a message that must never include
// payload content.
func malformed(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrMalformed)...)
}

// counts tallies an envelope for printing.
func (e *Envelope) counts() (entries, messages, statuses, errs int) {
	for _, ent := range e.entries {
		for _, v := range ent.values {
			messages += len(v.Messages)
			statuses += len(v.Statuses)
			errs += len(v.Errors)
		}
	}
	return len(e.entries), messages, statuses, errs
}

// String reports counts only.
func (e *Envelope) String() string {
	if e == nil {
		return "whatsapp.Envelope(nil)"
	}
	n, m, s, x := e.counts()
	return fmt.Sprintf("whatsapp.Envelope{entries=%d messages=%d statuses=%d errors=%d ignored_changes=%d}", n, m, s, x, e.ignored)
}

// Format writes [Envelope.String] for every verb.
func (e *Envelope) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, e.String()) }

// LogValue logs counts only.
func (e *Envelope) LogValue() slog.Value {
	if e == nil {
		return slog.StringValue("nil")
	}
	n, m, s, x := e.counts()
	return slog.GroupValue(slog.Int("entries", n), slog.Int("messages", m), slog.Int("statuses", s),
		slog.Int("errors", x), slog.Int("ignored_changes", e.ignored))
}
