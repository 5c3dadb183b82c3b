package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/waguard/waguard/shared/bsuid"
)

// MaxTextBody is the longest text.body the Cloud API accepts, in characters.
const MaxTextBody = 4096

// maxWAIDDigits bounds the digits of a recipient; E.164 allows 15.
const maxWAIDDigits = 15

// messageTypes are the values of "type" the sandbox accepts on a send,
// mapped to whether the sandbox checks the object's content itself.
var messageTypes = map[string]bool{
	"text": true, "template": true, "interactive": true, "reaction": true,
	"image": false, "audio": false, "video": false, "document": false,
	"sticker": false, "location": false, "contacts": false,
}

// typeList is the list Meta prints when "type" is not recognised.
const typeList = "{AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, " +
	"REACTION, STICKER, TEMPLATE, TEXT, VIDEO}"

// SendRequest is the parsed body of POST /{version}/{phone-number-id}/messages.
// Objects of other message types stay in the raw body.
type SendRequest struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type,omitempty"`
	To               string `json:"to,omitempty"`
	// Recipient is a business-scoped user id, Meta's alternative to To
	// for people known without a phone number; To wins when both are set.
	Recipient   string           `json:"recipient,omitempty"`
	Type        string           `json:"type,omitempty"`
	Text        *TextObject      `json:"text,omitempty"`
	Template    *TemplateObject  `json:"template,omitempty"`
	Interactive *json.RawMessage `json:"interactive,omitempty"`
	Reaction    *ReactionObject  `json:"reaction,omitempty"`
	// Status and MessageID are set on a mark-as-read request instead of a send.
	Status    string `json:"status,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	// CallbackData is biz_opaque_callback_data: kept with the message and
	// echoed in its status webhooks, at most 512 characters.
	CallbackData string `json:"biz_opaque_callback_data,omitempty"`
}

// TextObject is the text of a text message.
type TextObject struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// TemplateObject is the template of a template message.
type TemplateObject struct {
	Name       string          `json:"name"`
	Language   *LanguageObject `json:"language"`
	Components json.RawMessage `json:"components,omitempty"`
}

// LanguageObject names a template translation.
type LanguageObject struct {
	Code   string `json:"code"`
	Policy string `json:"policy,omitempty"`
}

// ReactionObject is the reaction of a reaction message.
type ReactionObject struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// IsMarkRead reports whether r marks a received message as read rather
// than sending one.
func (r *SendRequest) IsMarkRead() bool { return r.Status != "" }

// WAID returns the digits of To, which is what Meta answers as wa_id and
// embeds in the wamid; "" for a send to a business-scoped user id. The
// sandbox does not apply Meta's per-country number rewriting.
func (r *SendRequest) WAID() string {
	return digitsOf(r.To)
}

// UserID returns the business-scoped user id a send is addressed to: ""
// when To (which wins) is set.
func (r *SendRequest) UserID() string {
	if r.To != "" {
		return ""
	}
	return r.Recipient
}

// Addressee is the recipient as the sender wrote it: To, or Recipient.
func (r *SendRequest) Addressee() string {
	if r.To != "" {
		return r.To
	}
	return r.Recipient
}

// ParseSendRequest decodes and validates a send or mark-as-read body the
// way the Cloud API does. A non-nil error is always an [*APIError] whose
// message names the offending parameter but never repeats its value,
// except for the value of "type" (as Meta does).
func ParseSendRequest(body []byte) (*SendRequest, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	var req SendRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, paramError("Invalid parameter")
	}
	if err := req.validateCommon(); err != nil {
		return nil, err
	}
	if req.IsMarkRead() {
		if err := req.validateMarkRead(); err != nil {
			return nil, err
		}
		return &req, nil
	}
	if err := req.validateMessage(fields); err != nil {
		return nil, err
	}
	return &req, nil
}

// decodeObject requires body to be one JSON object and returns its fields.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return nil, paramError("Invalid parameter")
	}
	if dec.More() {
		return nil, paramError("Invalid parameter")
	}
	return fields, nil
}

// validateCommon checks messaging_product, present on every request.
func (r *SendRequest) validateCommon() error {
	switch r.MessagingProduct {
	case "whatsapp":
		return nil
	case "":
		return paramError("The parameter messaging_product is required.")
	default:
		return paramError(`Param messaging_product must be one of {WHATSAPP} - got "` +
			clip(r.MessagingProduct) + `".`)
	}
}

// validateMarkRead checks a {"status":"read","message_id":...} request.
func (r *SendRequest) validateMarkRead() error {
	if r.Status != "read" {
		return paramError("Param status must be one of {READ}.")
	}
	if r.MessageID == "" {
		return paramError("The parameter message_id is required.")
	}
	return nil
}

// validateMessage checks the recipient, the type and the type's object.
func (r *SendRequest) validateMessage(fields map[string]json.RawMessage) error {
	if r.RecipientType != "" && r.RecipientType != "individual" {
		return paramError("Param recipient_type must be one of {INDIVIDUAL}.")
	}
	if r.To == "" && r.Recipient != "" {
		if _, err := bsuid.Parse(r.Recipient); err != nil {
			return NewAPIError(0, CodeParameterNotValid, "Invalid WhatsApp recipient.")
		}
	} else if err := validateRecipient(r.To); err != nil {
		return err
	}
	if utf8.RuneCountInString(r.CallbackData) > 512 {
		return paramError("Param biz_opaque_callback_data must be at most 512 characters long.")
	}
	if r.Type == "" {
		r.Type = "text" // The Cloud API defaults an omitted type to text.
	}
	checked, ok := messageTypes[r.Type]
	if !ok {
		return paramError("Param type must be one of " + typeList + ` - got "` + clip(r.Type) + `".`)
	}
	if !checked {
		return validateMediaLike(r.Type, fields[r.Type])
	}
	return r.validateTyped()
}

// validateRecipient checks that "to" is a phone number in a form the
// Cloud API accepts: digits, optionally with "+", spaces, dashes and
// parentheses.
func validateRecipient(to string) error {
	if to == "" {
		return paramError("The parameter to is required.")
	}
	for _, c := range to {
		if !strings.ContainsRune("0123456789+ -()", c) {
			return NewAPIError(0, CodeParameterNotValid, "Invalid WhatsApp recipient.")
		}
	}
	if n := len(digitsOf(to)); n < 7 || n > maxWAIDDigits {
		return NewAPIError(0, CodeParameterNotValid, "Invalid WhatsApp recipient.")
	}
	return nil
}

// validateTyped checks the object of a text, template, interactive or
// reaction message.
func (r *SendRequest) validateTyped() error {
	switch r.Type {
	case "text":
		return validateText(r.Text)
	case "template":
		return validateTemplate(r.Template)
	case "interactive":
		return validateInteractive(r.Interactive)
	default: // reaction
		if r.Reaction == nil || r.Reaction.MessageID == "" {
			return paramError("The parameter reaction['message_id'] is required.")
		}
		return nil
	}
}

// validateText checks text.body.
func validateText(t *TextObject) error {
	if t == nil || t.Body == "" {
		return paramError("The parameter text['body'] is required.")
	}
	if utf8.RuneCountInString(t.Body) > MaxTextBody {
		return paramError(fmt.Sprintf("Param text['body'] must be at most %d characters long.", MaxTextBody))
	}
	return nil
}

// validateTemplate checks template.name and template.language.code.
func validateTemplate(t *TemplateObject) error {
	switch {
	case t == nil || t.Name == "":
		return paramError("The parameter template['name'] is required.")
	case t.Language == nil || t.Language.Code == "":
		return paramError("The parameter template['language']['code'] is required.")
	}
	return nil
}

// validateInteractive checks that interactive has a type and an action.
func validateInteractive(raw *json.RawMessage) error {
	var obj struct {
		Type   string          `json:"type"`
		Action json.RawMessage `json:"action"`
	}
	if raw == nil || json.Unmarshal(*raw, &obj) != nil || obj.Type == "" {
		return paramError("The parameter interactive['type'] is required.")
	}
	if len(obj.Action) == 0 || string(obj.Action) == "null" {
		return paramError("The parameter interactive['action'] is required.")
	}
	return nil
}

// validateMediaLike checks that the object named by the type is present:
// a non-empty array for contacts, an object otherwise, and for media types
// an object carrying an id or a link.
func validateMediaLike(typ string, raw json.RawMessage) error {
	if typ == "contacts" {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
			return paramError("The parameter contacts is required.")
		}
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return paramError("The parameter " + typ + " is required.")
	}
	switch typ {
	case "image", "audio", "video", "document", "sticker":
		if obj["id"] == nil && obj["link"] == nil {
			return missingError("Either id or link is required for " + typ + ".")
		}
	}
	return nil
}

// digitsOf keeps the ASCII digits of s.
func digitsOf(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// clip shortens a value echoed in an error message.
func clip(s string) string {
	const limit = 32
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit]) + "…"
}
