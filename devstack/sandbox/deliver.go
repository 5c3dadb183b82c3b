package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Delivery limits.
const (
	maxRepeat        = 100
	maxResponseBytes = 1 << 20
	defaultName      = "Sandbox User"
)

// ErrNoWebhookURL is returned by [Sandbox.Deliver] when no webhook URL
// is configured.
var ErrNoWebhookURL = errors.New("sandbox: no webhook url configured")

// Attempt is the receiver's answer to one delivery.
type Attempt struct {
	// Status is the HTTP status the webhook answered with.
	Status int `json:"status"`
	// Body is the webhook's response body: its JSON when it is valid
	// JSON, otherwise a JSON string of the text.
	Body json.RawMessage `json:"body"`
}

// Delivery is the outcome of [Sandbox.Deliver].
type Delivery struct {
	// Signature is the X-Hub-Signature-256 header sent with every attempt.
	Signature string `json:"signature"`
	// Attempts holds one entry per POST, in order.
	Attempts []Attempt `json:"attempts"`
}

// Deliver signs payload with the current app secret and POSTs the exact
// bytes to the webhook URL 1+repeat times, as Meta does when it
// redelivers. It stops at the first transport error and returns it
// wrapped, together with the attempts made so far; a non-2xx answer is
// not an error. It returns [ErrNoWebhookURL] without a URL.
func (s *Sandbox) Deliver(ctx context.Context, payload []byte, repeat int) (Delivery, error) {
	if s.opts.WebhookURL == "" {
		return Delivery{}, ErrNoWebhookURL
	}
	secret := s.secret()
	d := Delivery{Signature: Sign(secret, payload)}
	sha1Sig := signSHA1(secret, payload)
	for range 1 + max(0, min(repeat, maxRepeat)) {
		a, err := s.post(ctx, payload, d.Signature, sha1Sig)
		if err != nil {
			return d, fmt.Errorf("deliver webhook: %w", err)
		}
		d.Attempts = append(d.Attempts, a)
	}
	return d, nil
}

// post makes one delivery attempt.
func (s *Sandbox) post(ctx context.Context, payload []byte, sig256, sig1 string) (Attempt, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.WebhookURL, bytes.NewReader(payload))
	if err != nil {
		return Attempt{}, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	req.Header.Set(SignatureHeader, sig256)
	req.Header.Set(SignatureHeaderSHA1, sig1)
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return Attempt{}, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return Attempt{}, fmt.Errorf("read response: %w", err)
	}
	return Attempt{Status: resp.StatusCode, Body: jsonOrString(body)}, nil
}

// jsonOrString returns b when it is valid JSON, else b as a JSON string.
func jsonOrString(b []byte) json.RawMessage {
	if len(bytes.TrimSpace(b)) > 0 && json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b)) // Marshalling a string cannot fail.
	return s
}

// DeliverRequest is the body of POST /_sandbox/deliver.
//
// A WhatsApp user is named as Meta names them: by a phone number (From,
// or Recipient for a status), a business-scoped user id (UserID, such as
// "US.13491208655302741918"), or both, plus an optional ParentUserID
// ("US.ENT.…") and Username. With WithholdPhone the number is left out,
// as Meta does for a user with a username it may not reveal.
type DeliverRequest struct {
	// Kind is "text", "button", "status", "system", "preference",
	// "user_id_update" or "raw".
	Kind string `json:"kind"`
	// From, Text and Name describe an inbound text (kind "text"); From is
	// optional when UserID is set. Name also fills the profile of the
	// other kinds' contacts and the body of a system message.
	From string `json:"from,omitempty"`
	Text string `json:"text,omitempty"`
	Name string `json:"name,omitempty"`
	// UserID, ParentUserID and Username identify the user by BSUID for
	// kinds text, status and preference; UserID is the new BSUID of kinds
	// system and user_id_update.
	UserID       string `json:"user_id,omitempty"`
	ParentUserID string `json:"parent_user_id,omitempty"`
	Username     string `json:"username,omitempty"`
	// WithholdPhone leaves the number out of a text (from, wa_id) or a
	// status (recipient_id, wa_id); it needs UserID.
	WithholdPhone bool `json:"withhold_phone,omitempty"`
	// SystemType is the type of kind "system": "user_changed_user_id"
	// (the default; needs PreviousUserID and UserID) or
	// "user_changed_number" (needs From, the old number, and NewFrom).
	SystemType string `json:"system_type,omitempty"`
	// PreviousUserID and PreviousParentUserID are the BSUIDs before the
	// change (kinds system and user_id_update).
	PreviousUserID       string `json:"previous_user_id,omitempty"`
	PreviousParentUserID string `json:"previous_parent_user_id,omitempty"`
	// NewFrom is the new number of a user_changed_number system message.
	NewFrom string `json:"new_from,omitempty"`
	// ButtonPayload and ButtonText are a quick-reply tap (kind "button",
	// sent like a text: From or UserID): the payload the business set and
	// the label. Meta's "Stop promotions" button sends its label as both.
	ButtonPayload string `json:"button_payload,omitempty"`
	ButtonText    string `json:"button_text,omitempty"`
	// Preference is "stop" or "resume" (kind "preference").
	Preference string `json:"preference,omitempty"`
	// WAMID, Status, Recipient and ErrorCode describe a status (kind
	// "status"). Without WAMID the newest recorded send is used; without
	// Recipient the send's recipient, or the number inside the wamid; a
	// send to a BSUID gives the status its user_id and no number.
	WAMID     string `json:"wamid,omitempty"`
	Status    string `json:"status,omitempty"`
	Recipient string `json:"recipient,omitempty"`
	ErrorCode int    `json:"error_code,omitempty"`
	// Payload is delivered byte for byte (kind "raw").
	Payload json.RawMessage `json:"payload,omitempty"`
	// Repeat redelivers the identical bytes this many more times (at most 100).
	Repeat int `json:"repeat,omitempty"`
}

// deliverResponse is the answer of POST /_sandbox/deliver: the last
// attempt's status and body, plus every attempt.
type deliverResponse struct {
	Status    int             `json:"status"`
	Body      json.RawMessage `json:"body"`
	WAMID     string          `json:"wamid"`
	Signature string          `json:"signature"`
	Attempts  []Attempt       `json:"attempts"`
	Payload   json.RawMessage `json:"payload"`
}

// handleDeliver serves POST /_sandbox/deliver.
func (s *Sandbox) handleDeliver(w http.ResponseWriter, r *http.Request) {
	var dr DeliverRequest
	if err := decodeAdmin(w, r, &dr); err != nil {
		writeAdminError(w, http.StatusBadRequest, "deliver: "+err.Error())
		return
	}
	payload, wamid, err := s.buildPayload(dr)
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, err.Error())
		return
	}
	d, err := s.Deliver(r.Context(), payload, dr.Repeat)
	if err != nil {
		writeAdminError(w, http.StatusBadGateway, err.Error())
		return
	}
	last := d.Attempts[len(d.Attempts)-1]
	writeJSON(w, http.StatusOK, deliverResponse{
		Status: last.Status, Body: last.Body, WAMID: wamid,
		Signature: d.Signature, Attempts: d.Attempts, Payload: payload,
	})
}

// buildPayload turns a deliver request into webhook bytes and the wamid
// they carry. Error texts name fields, never their values.
func (s *Sandbox) buildPayload(dr DeliverRequest) ([]byte, string, error) {
	if dr.Repeat < 0 || dr.Repeat > maxRepeat {
		return nil, "", fmt.Errorf("deliver: repeat must be 0 to %d", maxRepeat)
	}
	if dr.WithholdPhone && (dr.UserID == "" || dr.Kind != "text" && dr.Kind != "button" && dr.Kind != "status") {
		return nil, "", errors.New("deliver: withhold_phone needs kind text, button or status and a user_id")
	}
	for _, number := range []string{dr.From, dr.NewFrom} {
		if number != "" && validateRecipient(number) != nil {
			return nil, "", errors.New("deliver: from and new_from must be phone numbers")
		}
	}
	if dr.Name == "" {
		dr.Name = defaultName
	}
	switch dr.Kind {
	case "text", "button":
		return s.buildText(dr)
	case "status":
		return s.buildStatus(dr)
	case "system":
		return s.buildSystem(dr)
	case "preference":
		return s.buildPreference(dr)
	case "user_id_update":
		return s.buildUserIDUpdate(dr)
	case "raw":
		if len(dr.Payload) == 0 || string(dr.Payload) == "null" {
			return nil, "", errors.New("deliver: raw needs a payload")
		}
		return dr.Payload, "", nil
	default:
		return nil, "", errors.New(`deliver: kind must be "text", "button", "status", "system", "preference", "user_id_update" or "raw"`)
	}
}

// buildText builds an inbound text event with a fresh inbound wamid. The
// wamid of a message without a number embeds the number 0.
func (s *Sandbox) buildText(dr DeliverRequest) ([]byte, string, error) {
	from := digitsOf(dr.From)
	button := dr.Kind == "button"
	if (dr.From != "" || dr.UserID == "") && validateRecipient(dr.From) != nil || (!button && dr.Text == "") ||
		(button && dr.ButtonPayload == "" && dr.ButtonText == "") {
		return nil, "", errors.New("deliver: text and button need a valid from or user_id, and a text or a button payload or text")
	}
	wamid := NewWAMID(or(from, "0"), false)
	if dr.WithholdPhone {
		from = ""
	}
	b, err := BuildTextEvent(s.Business(), TextEvent{
		From: from, Name: dr.Name, Body: dr.Text, WAMID: wamid, Time: s.opts.Now(),
		UserID: dr.UserID, ParentUserID: dr.ParentUserID, Username: dr.Username,
	}.withButton(button, dr))
	if err != nil {
		return nil, "", fmt.Errorf("deliver: %w", err)
	}
	return b, wamid, nil
}

// withButton makes ev a tap on dr's quick-reply button when button is
// set (the payload defaults to the label, as Meta sends it).
func (ev TextEvent) withButton(button bool, dr DeliverRequest) TextEvent {
	if button {
		ev.Button = &ButtonObject{Payload: or(dr.ButtonPayload, dr.ButtonText), Text: or(dr.ButtonText, dr.ButtonPayload)}
	}
	return ev
}

// buildStatus builds a status event, filling the wamid, recipient and
// BSUID from the recorded sends when they are omitted.
func (s *Sandbox) buildStatus(dr DeliverRequest) ([]byte, string, error) {
	wamid := dr.WAMID
	rec, found := s.store.find(wamid)
	if wamid == "" {
		if !found {
			return nil, "", errors.New("deliver: status needs a wamid (no recorded send)")
		}
		wamid = rec.WAMID
	}
	if dr.UserID == "" && found {
		dr.UserID = rec.UserID // a send to a BSUID
	}
	recipient, err := statusRecipient(dr, rec, found, wamid)
	if err != nil {
		return nil, "", err
	}
	ev := StatusEvent{WAMID: wamid, Status: dr.Status, RecipientID: recipient, Time: s.opts.Now(), ErrorCode: dr.ErrorCode,
		UserID: dr.UserID, ParentUserID: dr.ParentUserID, Name: dr.Name, Username: dr.Username}
	if found {
		ev.CallbackData = rec.CallbackData
	}
	b, err := BuildStatusEvent(s.Business(), ev)
	if err != nil {
		return nil, "", fmt.Errorf("deliver: %w", err)
	}
	return b, wamid, nil
}

// statusRecipient is the recipient_id of a status: none when withheld,
// else the request's, the recorded send's (none for a send to a BSUID, as
// the sandbox knows no number for it), or the number in the wamid. A
// status with a user_id needs none.
func statusRecipient(dr DeliverRequest, rec Record, found bool, wamid string) (string, error) {
	switch {
	case dr.WithholdPhone:
		return "", nil
	case dr.Recipient != "":
		return digitsOf(dr.Recipient), nil
	case found && (rec.WAID != "" || rec.UserID != ""):
		return rec.WAID, nil
	}
	if w, err := ParseWAMID(wamid); err == nil {
		return w.Number, nil
	}
	if dr.UserID != "" {
		return "", nil
	}
	return "", errors.New("deliver: status needs a recipient (wamid has none)")
}
