// Package httpapi builds API Gateway HTTP API (payload format 2.0)
// responses in waguard's one error shape:
//
//	{"error":{"code":"invalid_signature","message":"…"}}
//
// Messages are fixed strings chosen by the caller; they never carry
// request data, personal data or secrets.
package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// Response is the API Gateway HTTP API response type.
type Response = events.APIGatewayV2HTTPResponse

var securityHeaders = map[string]string{
	"Cache-Control":          "no-store",
	"X-Content-Type-Options": "nosniff",
}

// JSON returns status with v encoded as the JSON body.
func JSON(status int, v any) Response {
	body, err := json.Marshal(v)
	if err != nil {
		return Error(500, "internal_error", "internal error")
	}
	return Response{StatusCode: status, Headers: headers("application/json"), Body: string(body)}
}

// Text returns status with a plain-text body.
func Text(status int, body string) Response {
	return Response{StatusCode: status, Headers: headers("text/plain; charset=utf-8"), Body: body}
}

// Error returns status with the error document for code and message.
func Error(status int, code, message string) Response {
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	body, _ := json.Marshal(struct {
		Error detail `json:"error"`
	}{detail{code, message}})
	return Response{StatusCode: status, Headers: headers("application/json"), Body: string(body)}
}

// RetryAfter returns r with the Retry-After header (whole seconds, at
// least 1) added to a copy of its headers.
func RetryAfter(r Response, seconds int) Response {
	if seconds < 1 {
		seconds = 1
	}
	h := make(map[string]string, len(r.Headers)+1) // never write to r's map
	maps.Copy(h, r.Headers)
	h["Retry-After"] = strconv.Itoa(seconds)
	r.Headers = h
	return r
}

func headers(contentType string) map[string]string {
	h := map[string]string{"Content-Type": contentType}
	for k, v := range securityHeaders {
		h[k] = v
	}
	return h
}

// Problem is a refusal with a stable code and a fixed message that
// carries no request data. Handlers return it as an error; ErrorResponse
// turns it into the response.
type Problem struct {
	Status        int
	Code, Message string
	// RetryAfter, in seconds, is sent as Retry-After when positive.
	RetryAfter int
	// Transient marks a refusal after which nothing was done, so an
	// idempotency key may be freed.
	Transient bool
}

// Error returns the code.
func (p *Problem) Error() string { return p.Code }

// Unavailable is the answer when a dependency (DynamoDB, KMS, Secrets
// Manager) failed: the caller retries later; nothing was done.
var Unavailable = &Problem{Status: 503, Code: "dependency_unavailable", Message: "a dependency is unavailable; retry later"}

// ErrorResponse maps err to its response: a *Problem (possibly wrapped)
// to itself, anything else to [Unavailable].
func ErrorResponse(err error) Response {
	var p *Problem
	if !errors.As(err, &p) {
		p = Unavailable
	}
	resp := Error(p.Status, p.Code, p.Message)
	if p.Status == 401 {
		resp.Headers["WWW-Authenticate"] = "Bearer"
	}
	if p.RetryAfter > 0 {
		resp = RetryAfter(resp, p.RetryAfter)
	}
	return resp
}

// Internal returns err unless it is a *Problem: what a handler must log as
// a failure rather than a refusal.
func Internal(err error) error {
	var p *Problem
	if errors.As(err, &p) {
		return nil
	}
	return err
}

// Body returns a request's body as the client sent it: API Gateway
// passes a binary body base64-encoded (IsBase64Encoded). The error is
// for a body that does not decode (the caller answers 400).
func Body(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if req.IsBase64Encoded {
		return base64.StdEncoding.DecodeString(req.Body)
	}
	return []byte(req.Body), nil
}

// ErrTrailingData is returned by [Decode] for a body with more after its
// JSON value.
var ErrTrailingData = errors.New("httpapi: data after the JSON value")

// Decode decodes a request body that must be exactly one JSON value into
// v, refusing fields v does not have and anything after the value but
// white space ([ErrTrailingData]). encoding/json's errors may quote the
// body: callers answer with a fixed refusal, never the error's text.
func Decode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrTrailingData
	}
	return nil
}

// PageBudget is the most bytes the items of one paged answer (an export's
// messages, a message query's page) may take in Lambda's response. Lambda
// refuses a response above 6 MB; the rest of the document and a margin
// fit in the difference. A page always holds at least one item.
const PageBudget = 4 << 20

// WireSize is how many bytes v takes in Lambda's response: encoded as
// JSON, then escaped once more as the JSON string that carries the body
// (a '<' in a message is one byte stored and seven on the wire), plus the
// comma that separates it from the next item of a list.
func WireSize(v any) int {
	inner, _ := json.Marshal(v)
	outer, _ := json.Marshal(string(inner))
	return len(outer) + 1
}
