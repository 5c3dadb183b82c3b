package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// ErrMalformed is returned, wrapped with the position of the problem, for
// a body that is not a webhook this package accepts: invalid JSON, the
// wrong object, a missing required field, or more than [Limits] allow.
// The error never contains payload content.
var ErrMalformed = errors.New("whatsapp: malformed payload")

// Object is the "object" of every WhatsApp Business Account webhook.
const Object = "whatsapp_business_account"

// Change fields this package reads; changes of other fields are ignored.
const (
	// FieldMessages carries messages (system messages included) and
	// statuses.
	FieldMessages = "messages"
	// FieldUserPreferences carries a user's stop or resume of marketing
	// messages: see [Preference].
	FieldUserPreferences = "user_preferences"
	// FieldUserIDUpdate carried a user's new BSUID. Meta documented it in
	// 2026 and retracted it on 11 August 2026 (BSUID changes arrive as
	// system messages); it is parsed in case a delivery still carries it.
	FieldUserIDUpdate = "user_id_update"
)

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
	// MaxEvents is the most messages, statuses, errors, preferences and
	// BSUID updates in an envelope, together; it also bounds each
	// contacts[] list.
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
	entries int
	events  []Event
	ignored int // changes of fields this package does not read
}

// Parse parses a webhook body with the default [Limits]. See
// [Limits.Parse].
func Parse(body []byte) (*Envelope, error) {
	return Limits{}.Parse(body)
}

// Parse parses a webhook body. It returns an error wrapping
// [ErrMalformed] when the body is too large, is not one JSON object, its
// object is not [Object], an array exceeds the limits, or a "messages"
// change lacks messaging_product "whatsapp", a phone_number_id, a
// message's id, type or timestamp, or a status's id, status or timestamp.
//
// A message's sender (from, from_user_id) and a status's recipient
// (recipient_id, recipient_user_id) are optional: a message from nobody
// this package can name still yields its event, for the caller to count
// as ignored, so that one such message never costs the others of its
// delivery. A "user_preferences" or "user_id_update" item that does not
// decode is skipped alone. Changes of other fields and unknown JSON fields
// are ignored.
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
	p := parser{limits: l, budget: l.MaxEvents, env: &Envelope{entries: len(w.Entry)}}
	for i, e := range w.Entry {
		if len(e.Changes) > l.MaxChanges {
			return nil, malformed("entry %d: %d changes exceed %d", i, len(e.Changes), l.MaxChanges)
		}
		for j, c := range e.Changes {
			if err := p.change(c.Field, c.Value); err != nil {
				return nil, fmt.Errorf("entry %d change %d: %w", i, j, err)
			}
		}
	}
	return p.env, nil
}

// parser accumulates the events of one envelope within its limits.
type parser struct {
	limits Limits
	budget int // events still allowed
	env    *Envelope
}

// change parses one change by its field.
func (p *parser) change(field string, raw json.RawMessage) error {
	switch field {
	case FieldMessages:
		v, err := parseValue(raw, &p.budget, p.limits.MaxEvents)
		if err != nil {
			return err
		}
		p.env.events = v.appendEvents(p.env.events)
	case FieldUserPreferences, FieldUserIDUpdate:
		return p.sideChange(field, raw)
	default:
		p.env.ignored++
	}
	return nil
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
		if m.ID == "" || m.Type == "" || m.Timestamp.t.IsZero() {
			return nil, malformed("message %d: missing id, type or timestamp", i)
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

// counts tallies an envelope's events by kind for printing.
func (e *Envelope) counts() map[Kind]int {
	n := make(map[Kind]int, 5)
	for _, ev := range e.events {
		n[ev.Kind]++
	}
	return n
}

// String reports counts only.
func (e *Envelope) String() string {
	if e == nil {
		return "whatsapp.Envelope(nil)"
	}
	n := e.counts()
	return fmt.Sprintf("whatsapp.Envelope{entries=%d messages=%d statuses=%d errors=%d systems=%d preferences=%d ignored_changes=%d}",
		e.entries, n[KindMessage], n[KindStatus], n[KindError], n[KindSystem], n[KindPreference], e.ignored)
}

// Format writes [Envelope.String] for every verb.
func (e *Envelope) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, e.String()) }

// LogValue logs counts only.
func (e *Envelope) LogValue() slog.Value {
	if e == nil {
		return slog.StringValue("nil")
	}
	n := e.counts()
	return slog.GroupValue(slog.Int("entries", e.entries), slog.Int("messages", n[KindMessage]),
		slog.Int("statuses", n[KindStatus]), slog.Int("errors", n[KindError]), slog.Int("systems", n[KindSystem]),
		slog.Int("preferences", n[KindPreference]), slog.Int("ignored_changes", e.ignored))
}
