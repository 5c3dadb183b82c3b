package main

import (
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/subject"
	"github.com/waguard/waguard/shared/whatsapp"
)

// Purposes a message may be sent for; each is also its retention class.
var purposes = map[string]bool{"marketing": true, "transactional": true, "support": true, "otp": true}

// messageRequest is the body of POST /v1/messages.
type messageRequest struct {
	// To is the recipient's phone number; ToUserID their business-scoped
	// user id (Meta's "recipient"; the name follows Meta's to/to_user_id
	// pair of message echoes). Exactly one is set.
	To       string           `json:"to,omitempty"`
	ToUserID string           `json:"to_user_id,omitempty"`
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

// recipient is who a message request addresses: the person to find and
// the address to give the provider.
type recipient struct {
	who subject.Who
	to  provider.Recipient
}

// parseMessage validates a POST /v1/messages body. It returns the parsed
// request, the recipient and the canonical body the idempotency hash is
// computed over.
func parseMessage(body []byte) (messageRequest, recipient, []byte, error) {
	var r messageRequest
	if err := httpapi.Decode(body, &r); err != nil {
		return r, recipient{}, nil, errInvalidRequest
	}
	if !purposes[r.Purpose] || (r.Text == nil) == (r.Template == nil) {
		return r, recipient{}, nil, errInvalidRequest
	}
	if r.Text != nil && (*r.Text == "" || utf8.RuneCountInString(*r.Text) > 4096 || !utf8.ValidString(*r.Text)) {
		return r, recipient{}, nil, errInvalidRequest
	}
	if t := r.Template; t != nil && (t.Name == "" || len(t.Name) > 512 || t.Language == "" || len(t.Language) > 16) {
		return r, recipient{}, nil, errInvalidRequest
	}
	who, err := parseWho(r.To, r.ToUserID)
	if err != nil {
		return r, recipient{}, nil, err
	}
	rc := recipient{who: who, to: provider.ToUser(who.User)}
	if !who.Phone.IsZero() {
		r.To, rc.to = who.Phone.E164(), provider.ToPhone(who.Phone)
	}
	canonical, _ := json.Marshal(r)
	return r, rc, canonical, nil
}

// parseWho validates a request's person: exactly one of a phone number
// (400 invalid_phone when it is not E.164) and a business-scoped user id
// (400 invalid_request when it is not one; docs/api.md).
func parseWho(phoneNumber, userID string) (subject.Who, error) {
	who, err := subject.Parse(phoneNumber, userID)
	if errors.Is(err, subject.ErrInvalidPhone) {
		return who, errInvalidPhone
	}
	if err != nil {
		return who, errInvalidRequest
	}
	return who, nil
}

// template converts the request's template to the client's form; Meta's
// {"code": …} language object is built by the client.
func (r messageRequest) template() whatsapp.Template {
	return whatsapp.Template{Name: r.Template.Name, Language: r.Template.Language, Components: r.Template.Components}
}
