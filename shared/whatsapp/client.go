package whatsapp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/waguard/waguard/shared/bsuid"
	"github.com/waguard/waguard/shared/deadline"
)

// Graph API defaults for [NewClient].
const (
	DefaultBaseURL = "https://graph.facebook.com"
	DefaultVersion = "v23.0"
)

// Limits of outbound messages and answers.
const (
	maxTextRunes     = 4096 // Meta's limit on text.body
	maxTemplateName  = 512
	maxResponseBytes = 1 << 20
)

// ErrInvalidMessage is returned, wrapped, by the send methods for a
// message that Graph would refuse (an empty or over-long text, a bad
// recipient, template name, language or components) before any request
// is made. It is permanent. The error never contains the values.
var ErrInvalidMessage = errors.New("whatsapp: invalid message")

// Client sends messages through the Cloud API. Its exported fields may
// be changed before first use; it is then safe for concurrent use. It
// prints without its token.
type Client struct {
	// HTTP sends the requests. [NewClient] sets [NewHTTPClient]; tests
	// substitute a client of their own.
	HTTP *http.Client
	// BaseURL is the scheme and host of the Graph API, no trailing slash.
	BaseURL string
	// Version is the Graph API version path segment, such as "v23.0".
	Version string
	// PhoneNumberID is the business phone number id messages are sent from.
	PhoneNumberID string
	// RapidAPIHost, when set, authenticates the RapidAPI way used by
	// marketplace proxies of the Cloud API (the seed's provider): the token
	// goes in X-RapidAPI-Key and this host in X-RapidAPI-Host, instead of
	// an Authorization bearer. Request and response shapes are Meta's.
	RapidAPIHost string

	token string
}

// NewClient returns a client for phoneNumberID that authenticates with
// the access token, using [DefaultBaseURL], [DefaultVersion] and
// [NewHTTPClient]. It returns an error for an empty token or a phone
// number id that is not digits; the error never contains the token.
func NewClient(token, phoneNumberID string) (*Client, error) {
	if token == "" {
		return nil, errors.New("whatsapp: empty access token")
	}
	if !digits(phoneNumberID) {
		return nil, errors.New("whatsapp: phone number id must be digits")
	}
	return &Client{
		HTTP: NewHTTPClient(), BaseURL: DefaultBaseURL, Version: DefaultVersion,
		PhoneNumberID: phoneNumberID, token: token,
	}, nil
}

// NewHTTPClient returns the HTTP client [NewClient] uses: TLS 1.2 or
// later, 5 s to connect and to handshake, and the provider's call
// timeout (shared/deadline, 7.5 s) to the response headers and overall, so
// that a call leaves its caller time to record the outcome; and no
// redirects (Graph does not redirect; following one could carry the
// token elsewhere).
func NewHTTPClient() *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: deadline.Provider.Timeout(),
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          10,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport:     t,
		Timeout:       deadline.Provider.Timeout(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Template is a pre-approved message template to send.
type Template struct {
	// Name is the template name: lower-case letters, digits and '_'.
	Name string
	// Language is the template's language code, such as "en_US"; it is
	// sent as Meta's {"code":"en_US"}.
	Language string
	// Components, when set, is the JSON array of template components
	// (header, body and button parameters), sent unchanged.
	Components json.RawMessage
}

// Wire shapes of a send request.
type (
	sendRequest struct {
		MessagingProduct string          `json:"messaging_product"`
		RecipientType    string          `json:"recipient_type"`
		To               string          `json:"to,omitempty"`
		Recipient        string          `json:"recipient,omitempty"`
		Type             string          `json:"type"`
		Text             *textObject     `json:"text,omitempty"`
		Template         *templateObject `json:"template,omitempty"`
		CallbackData     string          `json:"biz_opaque_callback_data,omitempty"`
	}
	textObject struct {
		PreviewURL bool   `json:"preview_url"`
		Body       string `json:"body"`
	}
	templateObject struct {
		Name     string `json:"name"`
		Language struct {
			Code string `json:"code"`
		} `json:"language"`
		Components json.RawMessage `json:"components,omitempty"`
	}
)

// MaxCallbackData is the longest biz_opaque_callback_data the Cloud API
// accepts, in characters.
const MaxCallbackData = 512

// SendOption sets an optional field of a send request.
type SendOption func(*sendRequest)

// WithCallbackData sets biz_opaque_callback_data: a string Meta keeps with
// the message and echoes in every status webhook about it
// ([Status.CallbackData]), so that a status can be matched to the send
// even when the message id from Meta's answer was lost. It must hold no
// personal data; a value longer than [MaxCallbackData] fails the send
// with [ErrInvalidMessage].
func WithCallbackData(s string) SendOption {
	return func(r *sendRequest) { r.CallbackData = s }
}

// SendText sends a text message (link previews off) to the WhatsApp user
// to, in E.164 with or without the "+" or a business-scoped user id
// (shared/bsuid), and returns its message id. It
// returns an error wrapping [ErrInvalidMessage] for a bad recipient or a
// body that is empty, not UTF-8 or over 4096 characters; [*APIError]
// for a Graph error; [ErrBadResponse] for a 2xx without an id; or a
// wrapped transport error (retryable).
func (c *Client) SendText(ctx context.Context, to, body string, opts ...SendOption) (string, error) {
	if body == "" || !utf8.ValidString(body) || utf8.RuneCountInString(body) > maxTextRunes {
		return "", fmt.Errorf("send text: body must be 1 to %d characters: %w", maxTextRunes, ErrInvalidMessage)
	}
	req, err := newSendRequest(to, "text")
	if err != nil {
		return "", fmt.Errorf("send text: %w", err)
	}
	req.Text = &textObject{Body: body}
	return c.send(ctx, "send text", req, opts)
}

// SendTemplate sends a template message to to and returns its message
// id, with the errors of [Client.SendText]; [ErrInvalidMessage] also
// covers a bad name or language, or components that are not a JSON
// array.
func (c *Client) SendTemplate(ctx context.Context, to string, t Template, opts ...SendOption) (string, error) {
	if err := t.validate(); err != nil {
		return "", fmt.Errorf("send template: %w", err)
	}
	req, err := newSendRequest(to, "template")
	if err != nil {
		return "", fmt.Errorf("send template: %w", err)
	}
	req.Template = &templateObject{Name: t.Name, Components: t.Components}
	req.Template.Language.Code = t.Language
	return c.send(ctx, "send template", req, opts)
}

// validate checks a template before it is sent.
func (t Template) validate() error {
	switch {
	case t.Name == "" || len(t.Name) > maxTemplateName || !nameChars(t.Name, false):
		return fmt.Errorf("template name must be a-z, 0-9 and _: %w", ErrInvalidMessage)
	case len(t.Language) < 2 || len(t.Language) > 15 || !nameChars(t.Language, true):
		return fmt.Errorf("template language must be a code such as en_US: %w", ErrInvalidMessage)
	case len(t.Components) > 0 && (!json.Valid(t.Components) || bytes.TrimSpace(t.Components)[0] != '['):
		return fmt.Errorf("template components must be a JSON array: %w", ErrInvalidMessage)
	}
	return nil
}

// nameChars reports whether s holds only a-z, 0-9 and '_' (and A-Z when
// upper is set).
func nameChars(s string, upper bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && (!upper || c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// newSendRequest starts a request to a recipient in E.164, with or
// without the "+", or to a business-scoped user id, which Meta takes in
// "recipient" instead of "to" (Business-scoped user IDs: "Send message
// requests").
func newSendRequest(to, typ string) (*sendRequest, error) {
	if id, err := bsuid.Parse(to); err == nil {
		return &sendRequest{MessagingProduct: "whatsapp", RecipientType: "individual", Recipient: id.Reveal(), Type: typ}, nil
	}
	d := to
	if len(d) > 0 && d[0] == '+' {
		d = d[1:]
	}
	if len(d) < 7 || len(d) > 15 || d[0] == '0' || !digits(d) {
		return nil, fmt.Errorf("recipient must be E.164 or a business-scoped user id: %w", ErrInvalidMessage)
	}
	return &sendRequest{MessagingProduct: "whatsapp", RecipientType: "individual", To: d, Type: typ}, nil
}

// send posts req and parses the answer. op prefixes errors.
func (c *Client) send(ctx context.Context, op string, req *sendRequest, opts []SendOption) (string, error) {
	if c.HTTP == nil || c.token == "" {
		return "", fmt.Errorf("%s: client not built with NewClient: %w", op, ErrNotSent)
	}
	for _, o := range opts {
		o(req)
	}
	if utf8.RuneCountInString(req.CallbackData) > MaxCallbackData || !utf8.ValidString(req.CallbackData) {
		return "", fmt.Errorf("%s: callback data must be at most %d characters of UTF-8: %w", op, MaxCallbackData, ErrInvalidMessage)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("%s: encode: %w: %w", op, ErrNotSent, err)
	}
	status, body, err := c.post(ctx, b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	id, err := parseSendResponse(status, body)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return id, nil
}

// markReadRequest is the body of a mark-as-read call.
type markReadRequest struct {
	MessagingProduct string `json:"messaging_product"`
	Status           string `json:"status"`
	MessageID        string `json:"message_id"`
}

// MarkRead marks the inbound message messageID as read: an authenticated
// call to the messages endpoint that sends nothing. It returns nil when
// the provider answers 2xx; otherwise an [*APIError] (any other status),
// an error wrapping [ErrInvalidMessage] for an empty or malformed id, or
// a wrapped transport error. The error never contains messageID.
func (c *Client) MarkRead(ctx context.Context, messageID string) error {
	if c.HTTP == nil || c.token == "" {
		return fmt.Errorf("mark read: client not built with NewClient: %w", ErrNotSent)
	}
	if !printableASCII(messageID, maxIDLen) {
		return fmt.Errorf("mark read: message id: %w", ErrInvalidMessage)
	}
	b, err := json.Marshal(markReadRequest{MessagingProduct: "whatsapp", Status: "read", MessageID: messageID})
	if err != nil {
		return fmt.Errorf("mark read: encode: %w: %w", ErrNotSent, err)
	}
	status, body, err := c.post(ctx, b)
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	if status < 200 || status > 299 {
		_, err := parseSendResponse(status, body)
		return fmt.Errorf("mark read: %w", err)
	}
	return nil
}

// post sends body to the messages endpoint, authenticated the way the
// client is configured, and returns the answer's status and (at most
// maxResponseBytes of) body. An error from before any connection to the
// provider was open wraps [ErrNotSent]: nothing was written. Any later
// failure (a timeout, a reset, a body that cannot be read) leaves open
// whether the provider acted on the request.
func (c *Client) post(ctx context.Context, body []byte) (int, []byte, error) {
	var connected atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }})
	u := c.BaseURL + "/" + url.PathEscape(c.Version) + "/" + url.PathEscape(c.PhoneNumberID) + "/messages"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("new request: %w: %w", ErrNotSent, err)
	}
	if c.RapidAPIHost != "" {
		hreq.Header.Set("X-RapidAPI-Key", c.token)
		hreq.Header.Set("X-RapidAPI-Host", c.RapidAPIHost)
	} else {
		hreq.Header.Set("Authorization", "Bearer "+c.token)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	resp, err := c.HTTP.Do(hreq)
	if err != nil {
		if !connected.Load() {
			return 0, nil, fmt.Errorf("%w: %w", ErrNotSent, err)
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, fmt.Errorf("read response: %w", err)
	}
	return resp.StatusCode, b, nil
}

// String describes the client without its token.
func (c Client) String() string {
	return fmt.Sprintf("whatsapp.Client{base=%s version=%s phone_number_id=%s}", c.BaseURL, c.Version, c.PhoneNumberID)
}

// Format writes [Client.String] for every verb, so no verb prints the
// token.
func (c Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }
