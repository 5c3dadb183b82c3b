// Package redact keeps personal data and secrets out of waguard's logs. It
// provides a [slog.Handler] wrapper that rewrites every record before the
// wrapped handler sees it, and [String] for other text that leaves the
// process, such as error messages.
//
// # What it masks
//
// Attributes whose key is on the denylist lose their value, which becomes
// "[redacted]". Keys match case-insensitively, ignoring '_' and '-'
// (so "wa_id", "waId" and "WA-ID" are one key):
//
//	phone to from body text token msisdn wa_id name profile_name
//	authorization secret key password email bsuid
//
// as does any key ending in token, secret, key, password, phone, user_id
// or username ("access_token", "apiKey", "idempotency_key",
// "from_user_id", "profile_username"). A denylisted value that
// implements [slog.LogValuer], such as a phone.Number, is trusted to redact
// itself and is logged as its LogValue (still scanned, as below).
//
// Values of kind Any are taken apart first: an error becomes its message,
// a byte slice its length ("[16 bytes]"), a struct with exported fields or a
// map with string keys a group (so the denylist applies to field names and
// map keys, up to 8 levels deep), and anything else, including any type
// with a String or Format method, its %+v text.
//
// Every string is then scanned: the message, attribute values in groups at
// any depth, map keys, error messages and formatted values. The scan
// replaces:
//
//   - runs of 7 or more digits, optionally with '+', spaces, '-', '.' and
//     parentheses, by "[phone]" (this also masks long numeric ids and AWS
//     account ids outside ARNs);
//   - WhatsApp business-scoped user ids, which identify a person as a
//     phone number does, by "[bsuid]": two upper-case letters, '.', an
//     optional "ENT." and letters and digits including a digit, not
//     preceded by a letter or digit ("US.13491208655302741918",
//     "US.ENT.11815799212886844830", "IN.aB3x9"; not "OK.Done");
//   - "wamid." and the base64 that follows by "[wamid]";
//   - the credentials after "Bearer ", and JSON Web Tokens, by "[token]";
//   - the value after keys such as access_token=, "secret":,
//     Authorization: or x-api-key: by "[secret]";
//   - runs of 32 or more base64 or hex characters that mix letters and
//     digits (keys, tokens, signatures, blind indexes) by "[secret]";
//   - e-mail addresses by "[email]" and IPv4 addresses by "[ip]".
//
// UUIDs (Lambda and API Gateway request ids), X-Ray trace ids, ISO 8601
// dates and times, and the account field of ARNs are left intact, as are
// attribute keys, group names, and numbers, booleans, times and durations.
// [String] applies the same scan; a regular expression in the package tests
// specifies it exactly, and a fuzz test holds the two to agreement.
//
// # Identifiers
//
// Random identifiers hold digit runs the scan would take for phone numbers,
// and an operator finds a log line by its request id. So a string value
// under an id key keeps its value whole when it has the shape of an
// identifier AWS or waguard generates. The id keys (normalised as above)
// are
//
//	id erasure_request message_id event_id audit_id trace_id
//
// and any key ending in request_id ("request_id", "requestId",
// "aws_request_id", "X-Request-Id"). The shapes are a UUID (Lambda and
// REST API request ids), an X-Ray trace id, an HTTP API request id (12 to
// 22 letters and digits, not all digits, and '=' padding:
// "JKJaXmPLvHcESHA="), and waguard's ids: msg_, er_, cev_ or ev_ and 16 to
// 26 base32 characters. No shape admits a space, '+', '(', '.', '@' or 32
// characters, so the shape relaxes only the digit-run rule: any other value
// under an id key ("+447700900123", "447700900123", a wamid, a key) is
// scanned like any other, and an id under another key, or in free text
// such as an error message, is scanned too.
//
// # Security properties
//
// The handler never passes an unscanned string to the wrapped handler, and
// it neither logs nor panics itself. It is safe for concurrent use if the
// wrapped handler is. Attributes that the wrapped handler adds itself, such
// as the requestId of the Lambda handler, are not scanned. On clean text
// the scan costs a few nanoseconds per byte and allocates nothing.
//
// # Non-goals
//
// Detection is heuristic. It does not find names, WhatsApp usernames
// (which have no shape of their own), addresses or free text logged under
// a key that is not on the denylist, BSUIDs made of letters only, numbers written in words
// or with non-ASCII digits, IPv6 addresses, or personal data in integer
// values. A type with a String method is trusted as far as its text goes:
// give types that hold personal data a LogValue method. The denylist is the
// first line of defence; the scan is the second.
//
// # Use in a Lambda function
//
// main builds the logger once per cold start from the aws-lambda-go handler,
// which adds requestId and honours AWS_LAMBDA_LOG_LEVEL:
//
//	log := redact.NewLambdaLogger()
//
// The Lambda handler writes JSON only when AWS_LAMBDA_LOG_FORMAT is JSON, so
// each function sets LoggingConfig.LogFormat: JSON in template.yaml. Tests
// and local tools use [NewLogger], which writes the same lines to any
// writer.
//
// Call the logger's Context methods (InfoContext, WarnContext,
// ErrorContext) with the invocation's ctx on every line inside an
// invocation, not only the summary line: only they carry the requestId
// that ties a warning to its invocation, and the request_id of the API
// request it served (shared/coldstart puts it in the API functions'
// contexts with [WithAPIRequestID]).
package redact

import (
	"context"
	"io"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// New returns a handler that redacts every record, as described in the
// package documentation, before passing it to next.
func New(next slog.Handler) slog.Handler { return &handler{next: next} }

// NewLogger returns a logger that writes redacted JSON lines to w at level
// and above as the Lambda handler writes them: with its key names
// ("timestamp", "message") and, when the context of a call carries a Lambda
// context, its requestId, and an API Gateway request id
// ([WithAPIRequestID]), request_id.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: lambdacontext.ReplaceAttr}
	return slog.New(apiRequestIDHandler{New(requestIDHandler{slog.NewJSONHandler(w, opts)})})
}

// NewLambdaLogger returns a logger that redacts records and then writes
// them with lambdacontext.NewLogHandler(opts...) to standard output, adding
// requestId from the invocation context and request_id when the context
// carries an API Gateway request id ([WithAPIRequestID]): call its methods
// with the handler's ctx (InfoContext, ErrorContext) for them to appear.
func NewLambdaLogger(opts ...lambdacontext.LogOption) *slog.Logger {
	return slog.New(apiRequestIDHandler{New(lambdacontext.NewLogHandler(opts...))})
}

// handler is the redacting slog.Handler returned by New.
type handler struct{ next slog.Handler }

var _ slog.Handler = (*handler)(nil)

// Enabled reports whether the wrapped handler handles level.
func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle passes a redacted copy of r to the wrapped handler.
func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs redacts attrs once and passes them to the wrapped handler.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{next: h.next.WithAttrs(attrList(attrs, 0))}
}

// WithGroup opens a group in the wrapped handler.
func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name)}
}

// requestIDHandler adds the requestId of the Lambda context, as
// lambdacontext.NewLogHandler does, after redaction.
type requestIDHandler struct{ slog.Handler }

// Handle adds requestId when ctx carries a Lambda context.
func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs returns a requestIDHandler over the wrapped handler's.
func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup returns a requestIDHandler over the wrapped handler's.
func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
