package whatsapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// ErrBadResponse is returned by the send methods when Graph answers 2xx
// without a message id. The message may have been sent: do not retry it
// blindly.
var ErrBadResponse = errors.New("whatsapp: send answered without a message id")

// APIError is an error answer from the Graph API. Meta's message text is
// not kept, because it can echo request values.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Code is Meta's error code, such as 130429 or 131026; zero when the
	// body carried none.
	Code int
	// Subcode is Meta's error_subcode, zero when absent.
	Subcode int
	// TraceID is Meta's fbtrace_id, to quote to Meta support.
	TraceID string
}

// Error describes the status and codes only.
func (e *APIError) Error() string {
	s := fmt.Sprintf("whatsapp api: status %d, code %d, subcode %d", e.Status, e.Code, e.Subcode)
	if e.TraceID != "" {
		s += ", trace " + e.TraceID
	}
	return s
}

// throttlingCodes are Meta's rate-limit codes: Graph API calls (4,
// 80007), Cloud API throughput (130429), spam rate limit (131048), pair
// rate limit (131056) and registration rate limit (133016).
var throttlingCodes = []int{4, 80007, 130429, 131048, 131056, 133016}

// transientCodes are Meta's temporary failures: unknown (1), service
// (2), something went wrong (131000), service unavailable (131016) and
// server temporarily unavailable (133004).
var transientCodes = []int{1, 2, 131000, 131016, 133004}

// Throttled reports whether Meta asked the caller to slow down: HTTP 429
// or a rate-limit code. Retry later with back-off.
func (e *APIError) Throttled() bool {
	return e.Status == http.StatusTooManyRequests || slices.Contains(throttlingCodes, e.Code)
}

// Retryable reports whether the same request may succeed later: a
// throttle, a 5xx or 408 status, or a temporary-failure code.
func (e *APIError) Retryable() bool {
	return e.Throttled() || e.Status >= 500 || e.Status == http.StatusRequestTimeout ||
		slices.Contains(transientCodes, e.Code)
}

// Permanent reports whether retrying cannot help (bad parameters, an
// invalid token, an undeliverable message…): it is !Retryable().
func (e *APIError) Permanent() bool { return !e.Retryable() }

// sendResponse is the body of a successful send.
type sendResponse struct {
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
}

// errorResponse is the body of a Graph error.
type errorResponse struct {
	Error *struct {
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

// parseSendResponse turns a Graph answer into the message id or an
// error: [*APIError] for a non-2xx status (with zero codes when the body
// is not Graph's error shape), [ErrBadResponse] for a 2xx without an id.
func parseSendResponse(status int, body []byte) (string, error) {
	if status < 200 || status > 299 {
		e := &APIError{Status: status}
		var er errorResponse
		if json.Unmarshal(body, &er) == nil && er.Error != nil {
			e.Code, e.Subcode = er.Error.Code, er.Error.Subcode
			if printableASCII(er.Error.FBTraceID, 64) {
				e.TraceID = er.Error.FBTraceID
			}
		}
		return "", e
	}
	var sr sendResponse
	if err := json.Unmarshal(body, &sr); err != nil || len(sr.Messages) == 0 || !printableASCII(sr.Messages[0].ID, maxIDLen) {
		return "", ErrBadResponse
	}
	return sr.Messages[0].ID, nil
}
