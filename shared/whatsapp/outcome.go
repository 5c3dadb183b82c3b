package whatsapp

import (
	"errors"
	"net/http"
	"slices"
)

// ErrNotSent is wrapped by the send methods' errors when the request
// never reached the provider: it was refused before any request was made
// (other than for [ErrInvalidMessage]), or no connection could be opened
// (DNS, dial, TLS handshake or proxy failure). The provider got nothing,
// so the same send may be retried.
var ErrNotSent = errors.New("whatsapp: request not sent")

// Outcome is what an answer to a send proves about the message.
type Outcome int

// Outcomes of a send. The zero value is [OutcomeUnknown]: whoever cannot
// tell must assume the message may have gone out.
const (
	// OutcomeUnknown: the message may or may not have been accepted (a
	// timeout, a connection lost after the request was written, a 5xx
	// without Meta's error body, a 2xx without a message id). Sending it
	// again could deliver it twice; only Meta's status webhook can tell.
	OutcomeUnknown Outcome = iota
	// OutcomeSent: Meta accepted the message and returned its id.
	OutcomeSent
	// OutcomeRefusedRetryable: the message was not accepted and the same
	// request may succeed later (a rate limit, or a failure Meta documents
	// as "not processed").
	OutcomeRefusedRetryable
	// OutcomeRefusedPermanent: the message was not accepted and sending
	// it again cannot help (bad parameters, a refused token, an
	// undeliverable recipient…).
	OutcomeRefusedPermanent
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case OutcomeSent:
		return "sent"
	case OutcomeRefusedRetryable:
		return "refused_retryable"
	case OutcomeRefusedPermanent:
		return "refused_permanent"
	}
	return "unknown"
}

// NotSent reports whether the outcome proves the provider did not accept
// the message.
func (o Outcome) NotSent() bool {
	return o == OutcomeRefusedRetryable || o == OutcomeRefusedPermanent
}

// Classify is the provider-answer table: it says what the error of a
// send method (nil for success) proves about the message.
//
//   - nil: [OutcomeSent].
//   - [*APIError]: see [APIError.Outcome].
//   - [ErrInvalidMessage]: [OutcomeRefusedPermanent] (no request made).
//   - [ErrNotSent]: [OutcomeRefusedRetryable].
//   - anything else ([ErrBadResponse], a timeout, a connection reset
//     after the request was written, an unreadable answer):
//     [OutcomeUnknown].
func Classify(err error) Outcome {
	var api *APIError
	switch {
	case err == nil:
		return OutcomeSent
	case errors.As(err, &api):
		return api.Outcome()
	case errors.Is(err, ErrInvalidMessage):
		return OutcomeRefusedPermanent
	case errors.Is(err, ErrNotSent):
		return OutcomeRefusedRetryable
	}
	return OutcomeUnknown
}

// throttlingCodes are Meta's rate-limit codes: Graph API calls (4,
// 80007), Cloud API throughput (130429), spam rate limit (131048), pair
// rate limit (131056) and registration rate limit (133016). Each refuses
// the request: "message failed to send because…".
var throttlingCodes = []int{4, 80007, 130429, 131048, 131056, 133016}

// notProcessedCodes are Meta's temporary failures that say the request
// was not processed: service temporarily unavailable (2), "message
// failed to send due to an unknown error" (131000), service unavailable
// (131016) and server temporarily unavailable (133004). Code 1 ("invalid
// request or possible server error") is not among them: it does not say
// whether the message went out.
var notProcessedCodes = []int{2, 131000, 131016, 133004}

// Outcome classifies a Graph error answer:
//
//   - a throttling or not-processed code (see [APIError.Throttled]), or
//     HTTP 429 or 408 (the request was refused, or never fully received):
//     [OutcomeRefusedRetryable];
//   - any other Meta error code with a 4xx status, or a 4xx without
//     Meta's error body (a gateway refused the request: a bad key, a
//     quota, an unknown route): [OutcomeRefusedPermanent];
//   - a 5xx (or 1xx, 3xx) with any other code or without Meta's error
//     body, such as a gateway's 502 or 504 or an HTML error page:
//     [OutcomeUnknown]. The gateway may have passed the message on before
//     it failed.
func (e *APIError) Outcome() Outcome {
	switch {
	case e.Throttled(), slices.Contains(notProcessedCodes, e.Code), e.Status == http.StatusRequestTimeout:
		return OutcomeRefusedRetryable
	case e.Status >= 400 && e.Status <= 499:
		return OutcomeRefusedPermanent
	}
	return OutcomeUnknown
}

// Throttled reports whether Meta asked the caller to slow down: HTTP 429
// or a rate-limit code. The message was not sent; retry later with
// back-off.
func (e *APIError) Throttled() bool {
	return e.Status == http.StatusTooManyRequests || slices.Contains(throttlingCodes, e.Code)
}

// Retryable reports whether the answer proves the message was not sent
// and the same request may succeed later: [OutcomeRefusedRetryable].
func (e *APIError) Retryable() bool { return e.Outcome() == OutcomeRefusedRetryable }

// Permanent reports whether the answer proves the message was not sent
// and retrying cannot help: [OutcomeRefusedPermanent]. An answer that is
// neither Retryable nor Permanent leaves the outcome unknown.
func (e *APIError) Permanent() bool { return e.Outcome() == OutcomeRefusedPermanent }
