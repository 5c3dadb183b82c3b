package whatsapp

import (
	"encoding/json"
	"errors"
	"fmt"
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
