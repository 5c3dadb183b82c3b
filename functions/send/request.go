package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/whatsapp"
)

// Purposes a message may be sent for; each is also its retention class.
var purposes = map[string]bool{"marketing": true, "transactional": true, "support": true, "otp": true}

// messageRequest is the body of POST /v1/messages.
type messageRequest struct {
	To       string           `json:"to"`
	Purpose  string           `json:"purpose"`
	Text     *string          `json:"text,omitempty"`
	Template *templateRequest `json:"template,omitempty"`
}

type templateRequest struct {
	Name       string          `json:"name"`
	Language   string          `json:"language"`
	Components json.RawMessage `json:"components,omitempty"`
}

var (
	errInvalidRequest = &httpapi.Problem{Status: 400, Code: "invalid_request", Message: "the request body is not valid"}
	errInvalidPhone   = &httpapi.Problem{Status: 400, Code: "invalid_phone", Message: "the phone number is not a valid E.164 number"}
)

// parseMessage validates a POST /v1/messages body. It returns the parsed
// request, the recipient and the canonical body the idempotency hash is
// computed over.
func parseMessage(body []byte) (messageRequest, phone.Number, []byte, error) {
	var r messageRequest
	if err := strictJSON(body, &r); err != nil {
		return r, phone.Number{}, nil, errInvalidRequest
	}
	if !purposes[r.Purpose] || (r.Text == nil) == (r.Template == nil) {
		return r, phone.Number{}, nil, errInvalidRequest
	}
	if r.Text != nil && (*r.Text == "" || utf8.RuneCountInString(*r.Text) > 4096 || !utf8.ValidString(*r.Text)) {
		return r, phone.Number{}, nil, errInvalidRequest
	}
	if t := r.Template; t != nil && (t.Name == "" || len(t.Name) > 512 || t.Language == "" || len(t.Language) > 16) {
		return r, phone.Number{}, nil, errInvalidRequest
	}
	n, err := phone.Parse(r.To)
	if err != nil {
		return r, phone.Number{}, nil, errInvalidPhone
	}
	r.To = n.E164()
	canonical, _ := json.Marshal(r)
	return r, n, canonical, nil
}

// template converts the request's template to the client's form; Meta's
// {"code": …} language object is built by the client.
func (r messageRequest) template() whatsapp.Template {
	return whatsapp.Template{Name: r.Template.Name, Language: r.Template.Language, Components: r.Template.Components}
}

// content is what is stored (encrypted) as the message body.
func (r messageRequest) content() []byte {
	if r.Text != nil {
		return []byte(*r.Text)
	}
	b, _ := json.Marshal(r.Template)
	return b
}

// strictJSON decodes exactly one JSON object, refusing unknown fields.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}
