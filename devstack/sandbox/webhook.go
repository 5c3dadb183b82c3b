package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/waguard/waguard/shared/bsuid"
)

// Webhook header names Meta signs deliveries with.
const (
	SignatureHeader     = "X-Hub-Signature-256"
	SignatureHeaderSHA1 = "X-Hub-Signature"
)

// ErrBadEvent is returned (wrapped) by the Build functions for an event
// with a missing or malformed field.
var ErrBadEvent = errors.New("sandbox: invalid event")

// Business identifies the business account and number that a webhook is
// about; it fills entry[].id and value.metadata.
type Business struct {
	AccountID          string // WhatsApp Business Account id
	PhoneNumberID      string
	DisplayPhoneNumber string
}

// TextEvent describes a text message a WhatsApp user sent to the business.
// The sender is named by From, UserID or both: a user with a username whose
// number Meta withholds has only a UserID.
type TextEvent struct {
	From  string    // sender's wa_id digits; "" when Meta withholds the number
	Name  string    // sender's profile name
	Body  string    // message text
	WAMID string    // message id, e.g. from NewWAMID(From, false)
	Time  time.Time // when the message was sent
	// UserID is the sender's business-scoped user id (from_user_id and
	// contacts[].user_id), such as "US.13491208655302741918"; optional.
	UserID string
	// ParentUserID is the sender's parent BSUID ("US.ENT.…"), sent only to
	// businesses Meta enrolled; optional.
	ParentUserID string
	// Username is the sender's username (contacts[].profile.username);
	// optional.
	Username string
	// Button, when set, makes the message a tap on a template's
	// quick-reply button (type "button") instead of a text; Body is then
	// ignored and Context names the template message tapped.
	Button *ButtonObject
	// Context is the wamid of the message a button reply answers.
	Context string
}

// ButtonObject is a quick-reply button tap: the payload the business set
// on the button (Meta sends the label when none was set) and its label.
type ButtonObject struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

// StatusEvent describes a status update on a message the business sent.
// The recipient is named by RecipientID, UserID or both.
type StatusEvent struct {
	WAMID       string    // id of the message the status is about
	Status      string    // sent, delivered, read or failed
	RecipientID string    // recipient's wa_id digits; "" when Meta withholds it
	Time        time.Time // when the status changed
	// ErrorCode is the Meta error code of a failed message; zero means
	// 131000. It must be zero for other statuses.
	ErrorCode int
	// CallbackData is the send's biz_opaque_callback_data, if any.
	CallbackData string
	// UserID is the recipient's BSUID (recipient_user_id). With it, sent,
	// delivered and read statuses carry a contacts[] entry, as Meta's do;
	// optional.
	UserID string
	// ParentUserID is the recipient's parent BSUID
	// (recipient_parent_user_id); optional.
	ParentUserID string
	// Name and Username fill the contacts[] entry's profile; Meta omits the
	// username from sent statuses, and so does the sandbox.
	Name, Username string
}

// Wire shapes of the "messages" webhook, in Meta's field order.
type (
	envelope struct {
		Object string  `json:"object"`
		Entry  []entry `json:"entry"`
	}
	entry struct {
		ID      string   `json:"id"`
		Changes []change `json:"changes"`
	}
	change struct {
		Value changeValue `json:"value"`
		Field string      `json:"field"`
	}
	changeValue struct {
		MessagingProduct string             `json:"messaging_product"`
		Metadata         metadata           `json:"metadata"`
		Contacts         []contact          `json:"contacts,omitempty"`
		Messages         []inboundMsg       `json:"messages,omitempty"`
		Statuses         []messageStatus    `json:"statuses,omitempty"`
		UserPreferences  []preferenceItem   `json:"user_preferences,omitempty"`
		UserIDUpdate     []userIDUpdateItem `json:"user_id_update,omitempty"`
	}
	metadata struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	}
	contact struct {
		Profile struct {
			Name     string `json:"name"`
			Username string `json:"username,omitempty"`
		} `json:"profile"`
		WAID         string `json:"wa_id,omitempty"`
		UserID       string `json:"user_id,omitempty"`
		ParentUserID string `json:"parent_user_id,omitempty"`
	}
	inboundMsg struct {
		From             string         `json:"from,omitempty"`
		FromUserID       string         `json:"from_user_id,omitempty"`
		FromParentUserID string         `json:"from_parent_user_id,omitempty"`
		ID               string         `json:"id"`
		Timestamp        string         `json:"timestamp"`
		Type             string         `json:"type"`
		Context          *msgContext    `json:"context,omitempty"`
		Text             *TextObject    `json:"text,omitempty"`
		Button           *ButtonObject  `json:"button,omitempty"`
		System           *systemContent `json:"system,omitempty"`
	}
	// msgContext names the message a reply answers.
	msgContext struct {
		From string `json:"from"`
		ID   string `json:"id"`
	}
	messageStatus struct {
		ID                    string `json:"id"`
		Status                string `json:"status"`
		Timestamp             string `json:"timestamp"`
		RecipientID           string `json:"recipient_id,omitempty"`
		RecipientUserID       string `json:"recipient_user_id,omitempty"`
		RecipientParentUserID string `json:"recipient_parent_user_id,omitempty"`
		// CallbackData follows recipient_id, as in Meta's examples.
		CallbackData string         `json:"biz_opaque_callback_data,omitempty"`
		Pricing      *pricing       `json:"pricing,omitempty"`
		Errors       []webhookError `json:"errors,omitempty"`
	}
	pricing struct {
		Billable     bool   `json:"billable"`
		PricingModel string `json:"pricing_model"`
		Category     string `json:"category"`
		Type         string `json:"type"`
	}
	webhookError struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
		Href string `json:"href"`
	}
)

// BuildTextEvent returns the webhook body Meta posts when a user sends
// the business a text message. It returns an error wrapping [ErrBadEvent]
// when Body or WAMID is empty, or the sender is not named by digits in
// From, a BSUID in UserID, or both (see validUser).
func BuildTextEvent(b Business, ev TextEvent) ([]byte, error) {
	if (ev.Body == "" && ev.Button == nil) || ev.WAMID == "" || !validUser(ev.From, ev.UserID, ev.ParentUserID) {
		return nil, fmt.Errorf("build text event: %w", ErrBadEvent)
	}
	v := b.value()
	v.Contacts = []contact{newContact(ev.Name, ev.Username, ev.From, ev.UserID, ev.ParentUserID)}
	m := inboundMsg{From: ev.From, FromUserID: ev.UserID, FromParentUserID: ev.ParentUserID, ID: ev.WAMID,
		Timestamp: unixString(ev.Time), Type: "text", Text: &TextObject{Body: ev.Body}}
	if ev.Button != nil {
		m.Type, m.Text, m.Button = "button", nil, ev.Button
		if ev.Context != "" {
			m.Context = &msgContext{From: b.DisplayPhoneNumber, ID: ev.Context}
		}
	}
	v.Messages = []inboundMsg{m}
	return b.encode(v)
}

// BuildStatusEvent returns the webhook body Meta posts when a message the
// business sent changes status. It returns an error wrapping
// [ErrBadEvent] for an unknown status, a recipient not named by digits in
// RecipientID, a BSUID in UserID, or both, an empty WAMID or an error code
// on a status other than failed.
func BuildStatusEvent(b Business, ev StatusEvent) ([]byte, error) {
	if !validStatus(ev.Status) || !validUser(ev.RecipientID, ev.UserID, ev.ParentUserID) || ev.WAMID == "" ||
		(ev.ErrorCode != 0 && ev.Status != "failed") {
		return nil, fmt.Errorf("build status event: %w", ErrBadEvent)
	}
	st := messageStatus{
		ID: ev.WAMID, Status: ev.Status, Timestamp: unixString(ev.Time), RecipientID: ev.RecipientID,
		RecipientUserID: ev.UserID, RecipientParentUserID: ev.ParentUserID, CallbackData: ev.CallbackData,
	}
	v := b.value()
	if ev.Status == "failed" {
		st.Errors = []webhookError{newWebhookError(ev.ErrorCode)}
	} else {
		st.Pricing = &pricing{Billable: true, PricingModel: "PMP", Category: "utility", Type: "regular"}
		if ev.UserID != "" { // Meta adds contacts to sent, delivered and read statuses
			username := ev.Username
			if ev.Status == "sent" {
				username = ""
			}
			v.Contacts = []contact{newContact(ev.Name, username, ev.RecipientID, ev.UserID, ev.ParentUserID)}
		}
	}
	v.Statuses = []messageStatus{st}
	return b.encode(v)
}

// newContact is a contacts[] entry.
func newContact(name, username, waID, userID, parentUserID string) contact {
	c := contact{WAID: waID, UserID: userID, ParentUserID: parentUserID}
	c.Profile.Name, c.Profile.Username = name, username
	return c
}

// validUser reports whether a WhatsApp user is named as Meta names one in a
// webhook: by waID (digits), userID (a BSUID such as
// "US.13491208655302741918"), or both, with parentUserID empty or a parent
// BSUID ("US.ENT.…") that comes with a userID.
func validUser(waID, userID, parentUserID string) bool {
	switch {
	case waID == "" && userID == "":
		return false
	case waID != "" && !isDigits(waID):
		return false
	case userID != "" && !isBSUID(userID, false):
		return false
	}
	return parentUserID == "" || userID != "" && isBSUID(parentUserID, true)
}

// isBSUID reports whether s is a BSUID, or a parent BSUID if parent.
func isBSUID(s string, parent bool) bool {
	id, err := bsuid.Parse(s)
	return err == nil && id.IsParent() == parent
}

// Sign returns the X-Hub-Signature-256 value for body:
// "sha256=" + hex(HMAC-SHA256(appSecret, body)).
func Sign(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// signSHA1 returns the legacy X-Hub-Signature value Meta still sends.
func signSHA1(appSecret string, body []byte) string {
	mac := hmac.New(sha1.New, []byte(appSecret))
	mac.Write(body)
	return "sha1=" + hex.EncodeToString(mac.Sum(nil))
}

// validStatus reports whether s is a status the messages webhook reports.
func validStatus(s string) bool {
	switch s {
	case "sent", "delivered", "read", "failed":
		return true
	}
	return false
}

// newWebhookError is the errors[] entry of a failed status.
func newWebhookError(code int) webhookError {
	if code == 0 {
		code = CodeSomethingWrong
	}
	e := webhookError{Code: code, Title: TitleForCode(code), Message: TitleForCode(code), Href: errorsHref}
	e.ErrorData.Details = knownCodes[code].details
	if e.ErrorData.Details == "" {
		e.ErrorData.Details = e.Title
	}
	return e
}

// value starts a change value for the business number.
func (b Business) value() changeValue {
	return changeValue{
		MessagingProduct: "whatsapp",
		Metadata:         metadata{DisplayPhoneNumber: b.DisplayPhoneNumber, PhoneNumberID: b.PhoneNumberID},
	}
}

// encode wraps v, a "messages" change, in the whatsapp_business_account
// envelope and encodes it.
func (b Business) encode(v changeValue) ([]byte, error) { return b.encodeField(v, "messages") }

// encodeField wraps v, a change of field, in the envelope and encodes it.
func (b Business) encodeField(v changeValue, field string) ([]byte, error) {
	env := envelope{
		Object: "whatsapp_business_account",
		Entry:  []entry{{ID: b.AccountID, Changes: []change{{Value: v, Field: field}}}},
	}
	return EncodeLikeMeta(env)
}

// EncodeLikeMeta marshals v to compact JSON escaped the way Meta's
// webhook bodies are: "/" as "\/" and every non-ASCII character as a
// \uXXXX escape (surrogate pairs beyond the BMP). A receiver that
// re-encodes the JSON before checking the signature will therefore fail,
// as it would against Meta.
func EncodeLikeMeta(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode webhook: %w", err)
	}
	return escapeLikeMeta(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// escapeLikeMeta rewrites valid JSON text. "/" and non-ASCII characters
// can only occur inside strings, so a byte-level rewrite is safe.
func escapeLikeMeta(in []byte) []byte {
	out := make([]byte, 0, len(in))
	for len(in) > 0 {
		r, size := utf8.DecodeRune(in)
		in = in[size:]
		switch {
		case r == '/':
			out = append(out, '\\', '/')
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
		case r > 0xFFFF:
			hi, lo := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out
}

// unixString is a webhook timestamp: Unix seconds as a decimal string.
func unixString(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10)
}
