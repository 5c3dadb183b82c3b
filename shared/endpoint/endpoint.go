package endpoint

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/secrets"
)

// Kind is the "kind" of an endpoint secret, which also selects its
// rotation in the rotate function.
const Kind = "webhook-endpoint"

// The fields of an endpoint secret's JSON value.
const (
	FieldKind           = "kind"
	FieldURL            = "url"
	FieldTypes          = "types"
	FieldIncludeContent = "include_content"
	FieldSecret         = "secret"
	FieldPreviousSecret = "previous_secret"
	FieldPreviousUntil  = "previous_until"
)

// Bounds on a configuration, checked before anything else.
const (
	maxDocumentLen = 16 << 10
	maxURLLen      = 2048
	minKeyLen      = 24 // bytes: the Standard Webhooks minimum
	maxKeyLen      = 64 // bytes: the Standard Webhooks maximum
)

// ErrInvalid is wrapped by every error of [Parse]: the endpoint's
// configuration is malformed and the endpoint is not used.
var ErrInvalid = errors.New("endpoint: invalid configuration")

// Endpoint is one validated endpoint. It is immutable and safe for
// concurrent use; the zero Endpoint is invalid (its Sign fails).
type Endpoint struct {
	name, url, host, version string
	types                    []events.Type
	includeContent           bool
	current, previous        secrets.Value
	previousUntil            time.Time
}

// document is an endpoint secret's JSON value.
type document struct {
	Kind           string   `json:"kind"`
	URL            string   `json:"url"`
	Types          []string `json:"types"`
	IncludeContent bool     `json:"include_content"`
	Secret         string   `json:"secret"`
	PreviousSecret string   `json:"previous_secret,omitempty"`
	PreviousUntil  string   `json:"previous_until,omitempty"`
}

// namePattern is an endpoint name: what follows the prefix in the secret
// name. It is written to delivery records and audit proofs, so it is
// kept to a safe alphabet.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ValidName reports whether name is a usable endpoint name: 1 to 64
// letters, digits, '-' or '_', starting with a letter or digit, without
// a run of eight or more digits (which the audit trail's personal-data
// guard would take for a phone number).
func ValidName(name string) bool {
	if !namePattern.MatchString(name) {
		return false
	}
	run := 0
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			run = 0
		} else if run++; run >= 8 {
			return false
		}
	}
	return true
}

// Parse validates the JSON value doc of the endpoint secret version
// versionID into the endpoint called name. Every error wraps [ErrInvalid]
// and names the offending field, never its value.
func Parse(name, versionID string, doc []byte) (Endpoint, error) {
	if !ValidName(name) {
		return Endpoint{}, invalid("name must be 1-64 letters, digits, '-' or '_'")
	}
	if len(doc) > maxDocumentLen {
		return Endpoint{}, invalid("value larger than 16 KiB")
	}
	d, err := decode(doc)
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{name: name, version: versionID, includeContent: d.IncludeContent}
	if d.Kind != Kind {
		return Endpoint{}, invalid(`field "kind" must be "` + Kind + `"`)
	}
	if e.url, e.host, err = checkURL(d.URL); err != nil {
		return Endpoint{}, err
	}
	if e.types, err = checkTypes(d.Types); err != nil {
		return Endpoint{}, err
	}
	if e.current, err = checkKey(FieldSecret, d.Secret); err != nil {
		return Endpoint{}, err
	}
	if e.previous, e.previousUntil, err = checkPrevious(d.PreviousSecret, d.PreviousUntil); err != nil {
		return Endpoint{}, err
	}
	return e, nil
}

// decode unmarshals doc strictly: one JSON object, no unknown fields.
// The error holds no JSON value (encoding/json's syntax errors quote the
// input).
func decode(doc []byte) (document, error) {
	var d document
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	err := dec.Decode(&d)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		return document{}, invalid("value has data after the JSON object")
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return d, nil
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return document{}, invalid(fmt.Sprintf("field %q has the wrong type", typeErr.Field))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		if f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`); fieldName.MatchString(f) {
			return document{}, invalid(fmt.Sprintf("unknown field %q", f))
		}
		return document{}, invalid("unknown field")
	}
	return document{}, invalid("value is not a JSON object")
}

// fieldName is an unknown field's name safe to repeat in an error.
var fieldName = regexp.MustCompile(`^[a-z_]{1,32}$`)

// checkURL accepts an absolute https URL with a host, or http on
// 127.0.0.1 with a port (the rule of the provider's base URL), without
// credentials or a fragment. It returns the URL and its host.
func checkURL(s string) (string, string, error) {
	if s == "" || len(s) > maxURLLen {
		return "", "", invalid(`field "url" is required, at most 2048 bytes`)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return "", "", invalid(`field "url" must be an absolute URL with a host, without credentials or fragment`)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "") {
		return "", "", invalid(`field "url" must be https, or http://127.0.0.1:port for the local sandbox`)
	}
	return s, u.Host, nil
}

// checkTypes returns the event types, sorted and without duplicates; an
// empty list means every type.
func checkTypes(in []string) ([]events.Type, error) {
	out := make([]events.Type, 0, len(in))
	for i, s := range in {
		t := events.Type(s)
		if !t.Valid() {
			return nil, invalid(fmt.Sprintf(`field "types": item %d is not an event type`, i))
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// checkKey returns the key of a "whsec_" secret: standard padded base64,
// as every official Standard Webhooks library reads it, of 24 to 64 bytes.
func checkKey(field, s string) (secrets.Value, error) {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return secrets.Value{}, invalid(fmt.Sprintf("field %q must be whsec_ and base64", field))
	}
	k, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(k) < minKeyLen || len(k) > maxKeyLen {
		return secrets.Value{}, invalid(fmt.Sprintf("field %q must be whsec_ and the padded base64 of 24 to 64 bytes", field))
	}
	return secrets.NewValue(k), nil
}

// ValidSecret reports whether s is a usable signing secret: "whsec_" and
// the padded standard base64 of 24 to 64 bytes.
func ValidSecret(s string) bool {
	_, err := checkKey(FieldSecret, s)
	return err == nil
}

// checkPrevious returns the previous key and the end of its overlap. An
// empty previous_secret means none, and then previous_until is ignored;
// a previous secret needs an RFC 3339 previous_until.
func checkPrevious(secret, until string) (secrets.Value, time.Time, error) {
	if secret == "" {
		return secrets.Value{}, time.Time{}, nil
	}
	k, err := checkKey(FieldPreviousSecret, secret)
	if err != nil {
		return secrets.Value{}, time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, until)
	if err != nil {
		return secrets.Value{}, time.Time{}, invalid(`field "previous_until" must be an RFC 3339 time when "previous_secret" is set`)
	}
	return k, t, nil
}

func invalid(msg string) error { return fmt.Errorf("%w: %s", ErrInvalid, msg) }

// Name returns the endpoint's name, the last part of its secret's name.
func (e Endpoint) Name() string { return e.name }

// URL returns where deliveries are posted. It may carry a token in its
// path or query: never log it.
func (e Endpoint) URL() string { return e.url }

// Host returns the URL's host (and port), safe to log.
func (e Endpoint) Host() string { return e.host }

// VersionID returns the Secrets Manager version the configuration came
// from.
func (e Endpoint) VersionID() string { return e.version }

// Types returns the event types the endpoint receives, sorted; empty
// means every type.
func (e Endpoint) Types() []events.Type { return slices.Clone(e.types) }

// IncludeContent reports whether the endpoint receives events' personal
// content (events.Content).
func (e Endpoint) IncludeContent() bool { return e.includeContent }

// Accepts reports whether the endpoint receives events of type t.
func (e Endpoint) Accepts(t events.Type) bool {
	return t.Valid() && (len(e.types) == 0 || slices.Contains(e.types, t))
}

// PreviousUntil returns when the rotation overlap ends: until then
// deliveries are signed with the previous secret too. It is the zero
// time when there is no previous secret.
func (e Endpoint) PreviousUntil() time.Time {
	if e.previous.Empty() {
		return time.Time{}
	}
	return e.previousUntil
}

// String names the endpoint and its settings, never a secret, the URL's
// path or its query.
func (e Endpoint) String() string {
	types := "all"
	if len(e.types) > 0 {
		s := make([]string, len(e.types))
		for i, t := range e.types {
			s[i] = string(t)
		}
		types = strings.Join(s, ",")
	}
	overlap := ""
	if u := e.PreviousUntil(); !u.IsZero() {
		overlap = " previous_until=" + u.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("endpoint.Endpoint{%s host=%s types=%s include_content=%t version=%s%s}",
		e.name, e.host, types, e.includeContent, e.version, overlap)
}

// Format writes [Endpoint.String] for every verb, so no verb prints a
// secret or the URL.
func (e Endpoint) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, e.String()) }

// LogValue logs the name, host and settings only.
func (e Endpoint) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", e.name), slog.String("host", e.host),
		slog.Int("types", len(e.types)), slog.Bool("include_content", e.includeContent), slog.String("version", e.version))
}
