package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
)

// Meta error codes the sandbox knows by name. Tests inject the others
// through [Fault] with an explicit HTTP status.
const (
	CodeInvalidParameter   = 100    // Graph API: invalid or missing parameter
	CodeAccessToken        = 190    // Graph API: access token invalid or expired
	CodeThroughput         = 130429 // Cloud API throughput (rate limit hit)
	CodeSomethingWrong     = 131000 // unknown error; retry
	CodeMissingParameter   = 131008 // required parameter is missing
	CodeParameterNotValid  = 131009 // parameter value is not valid
	CodeUndeliverable      = 131026 // message undeliverable
	CodeReengagement       = 131047 // more than 24 hours since the user last replied
	CodeEcosystem          = 131049 // not delivered to maintain ecosystem engagement
	CodeStoppedMarketing   = 131050 // user stopped marketing messages
	CodePairRateLimit      = 131056 // (business, consumer) pair rate limit hit
	SubcodeSessionExpired  = 463    // OAuth: session has expired
	SubcodeUnsupportedPost = 33     // Graph: object does not exist or no permission
)

// errorsHref is where Meta's asynchronous (webhook) errors point.
const errorsHref = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

// codeInfo is what the sandbox knows about one Meta error code: the HTTP
// status the Graph API answers with, the title Meta puts into the message
// and the error_data.details text.
type codeInfo struct {
	status  int
	title   string
	details string
}

// knownCodes follows the "HTTP Status Code" column of Meta's Cloud API
// error-code reference. Codes missing here default to 400.
var knownCodes = map[int]codeInfo{
	CodeInvalidParameter:  {http.StatusBadRequest, "Invalid parameter", ""},
	CodeAccessToken:       {http.StatusUnauthorized, "Access token has expired", ""},
	CodeThroughput:        {http.StatusTooManyRequests, "Rate limit hit", "Cloud API message throughput has been reached."},
	CodeSomethingWrong:    {http.StatusInternalServerError, "Something went wrong", "Message failed to send due to an unknown error."},
	CodeMissingParameter:  {http.StatusBadRequest, "Required parameter is missing", ""},
	CodeParameterNotValid: {http.StatusBadRequest, "Parameter value is not valid", ""},
	CodeUndeliverable:     {http.StatusBadRequest, "Message undeliverable", "Message Undeliverable."},
	CodeReengagement:      {http.StatusBadRequest, "Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
	CodeEcosystem:         {http.StatusBadRequest, "This message was not delivered to maintain healthy ecosystem engagement.", "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."},
	CodeStoppedMarketing:  {http.StatusBadRequest, "User has stopped marketing messages", "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business."},
	CodePairRateLimit:     {http.StatusBadRequest, "(Business Account, Consumer Account) pair rate limit hit", "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."},
	2:                     {http.StatusServiceUnavailable, "Service temporarily unavailable", ""},
	131048:                {http.StatusBadRequest, "Spam rate limit hit", "Message failed to send because there are restrictions on how many messages can be sent from this phone number."},
	131051:                {http.StatusBadRequest, "Unsupported message type", ""},
	132001:                {http.StatusNotFound, "Template does not exist", ""},
}

// StatusForCode returns the HTTP status the Graph API uses for a Meta
// error code, or 400 for codes the sandbox does not know.
func StatusForCode(code int) int {
	if info, ok := knownCodes[code]; ok {
		return info.status
	}
	return http.StatusBadRequest
}

// TitleForCode returns Meta's title for a known error code, or
// "Unknown error" for the others.
func TitleForCode(code int) string {
	if info, ok := knownCodes[code]; ok {
		return info.title
	}
	return "Unknown error"
}

// ErrorData is the error_data object of a Meta error.
type ErrorData struct {
	MessagingProduct string `json:"messaging_product"`
	Details          string `json:"details"`
}

// APIError is a Graph API error, the body {"error": {...}} that Meta
// returns for every failed call. It implements error so that
// [ParseSendRequest] can return it directly.
type APIError struct {
	// HTTPStatus is the status the error is served with; not serialised.
	HTTPStatus int        `json:"-"`
	Message    string     `json:"message"`
	Type       string     `json:"type"`
	Code       int        `json:"code"`
	Subcode    int        `json:"error_subcode,omitempty"`
	Data       *ErrorData `json:"error_data,omitempty"`
	FBTraceID  string     `json:"fbtrace_id"`
}

// Error formats the error as Meta's message, which carries the code.
func (e *APIError) Error() string {
	return fmt.Sprintf("graph api %d: %s", e.HTTPStatus, e.Message)
}

// errorBody is the wire envelope of an [APIError].
type errorBody struct {
	Error *APIError `json:"error"`
}

// NewAPIError builds the error Meta returns for code, with Meta's
// "(#code) title" message, the code's HTTP status and, when details is
// not empty, an error_data object. A zero status means the code's default.
func NewAPIError(status, code int, details string) *APIError {
	if status == 0 {
		status = StatusForCode(code)
	}
	if details == "" {
		details = knownCodes[code].details
	}
	e := &APIError{
		HTTPStatus: status,
		Message:    fmt.Sprintf("(#%d) %s", code, TitleForCode(code)),
		Type:       "OAuthException",
		Code:       code,
		FBTraceID:  newTraceID(),
	}
	if details != "" {
		e.Data = &ErrorData{MessagingProduct: "whatsapp", Details: details}
	}
	return e
}

// paramError is the 400 / code 100 error Graph returns for a bad
// parameter, with a message such as "(#100) The parameter to is required.".
func paramError(message string) *APIError {
	return &APIError{
		HTTPStatus: http.StatusBadRequest,
		Message:    "(#100) " + message,
		Type:       "OAuthException",
		Code:       CodeInvalidParameter,
		FBTraceID:  newTraceID(),
	}
}

// missingError is the 131008 error with a details text.
func missingError(details string) *APIError {
	return NewAPIError(0, CodeMissingParameter, details)
}

// tokenError is the 401 / code 190 error for a missing, unknown or
// retired access token.
func tokenError(message string, subcode int) *APIError {
	return &APIError{
		HTTPStatus: http.StatusUnauthorized,
		Message:    message,
		Type:       "OAuthException",
		Code:       CodeAccessToken,
		Subcode:    subcode,
		FBTraceID:  newTraceID(),
	}
}

// unknownObjectError is Graph's answer to a POST on a phone number id
// that does not belong to the caller.
func unknownObjectError(id string) *APIError {
	return &APIError{
		HTTPStatus: http.StatusBadRequest,
		Message: fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist, "+
			"cannot be loaded due to missing permissions, or does not support this operation.", id),
		Type:      "GraphMethodException",
		Code:      CodeInvalidParameter,
		Subcode:   SubcodeUnsupportedPost,
		FBTraceID: newTraceID(),
	}
}

// newTraceID returns an opaque fbtrace_id in the style Meta uses.
func newTraceID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error.
	return "A" + base64.RawURLEncoding.EncodeToString(b)
}
