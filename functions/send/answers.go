package main

import (
	"errors"
	"strconv"

	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/whatsapp"
)

// errOutcomeUnknown is replayed for an Idempotency-Key whose send reached
// the provider but never recorded the answer (the invocation crashed, or
// DynamoDB failed afterwards): the message may have gone out, so it is
// never sent again under that key.
var errOutcomeUnknown = &httpapi.Problem{Status: 502, Code: "provider_error",
	Message: "the provider's answer to this request was lost; the message may have been sent and is not sent again with this key"}

// Answers for a provider call that did not prove the message was sent.
// The key is freed after errProviderUnreachable (nothing was written) and
// kept, with the answer replayed, after the two unknown outcomes.
var (
	errProviderUnreachable = &httpapi.Problem{Status: 502, Code: "provider_error", Transient: true,
		Message: "the provider could not be reached; nothing was sent"}
	errProviderSilent = &httpapi.Problem{Status: 502, Code: "provider_error",
		Message: "the provider did not answer; the message may have been sent and is not sent again with this key"}
	errProviderAmbiguous = &httpapi.Problem{Status: 502, Code: "provider_error",
		Message: "the provider's answer does not show whether it accepted the message; it may have been sent and is not sent again with this key"}
)

// providerAnswer is the provider-answer table of docs/api.md (check 9): the
// answer to a provider call that failed with err, and whether it is Meta's
// 131050, which also revokes marketing consent ([Handler.stopMarketing]).
// Unreadable credentials are a dependency failure (503); an outcome the
// answer does not prove keeps the key (not Transient); a refusal that
// proves nothing was sent and may succeed later frees it (Transient).
func providerAnswer(err error) (answer error, stopMarketing bool) {
	if errors.Is(err, provider.ErrCredentials) {
		return err, false // Secrets Manager: dependency_unavailable
	}
	var api *whatsapp.APIError
	isAPI := errors.As(err, &api)
	switch outcome := whatsapp.Classify(err); {
	case outcome == whatsapp.OutcomeUnknown && isAPI:
		return errProviderAmbiguous, false
	case outcome == whatsapp.OutcomeUnknown:
		return errProviderSilent, false
	case !isAPI && outcome == whatsapp.OutcomeRefusedRetryable:
		return errProviderUnreachable, false
	case !isAPI:
		return &httpapi.Problem{Status: 502, Code: "provider_error", Message: "the provider client refused the message; nothing was sent"}, false
	}
	switch api.Code {
	case 131047:
		return errTemplateRequired, false
	case 131050:
		return errSuppressed, true
	case 131026:
		return &httpapi.Problem{Status: 422, Code: "undeliverable", Message: "the message cannot be delivered to this recipient"}, false
	case 131049:
		return &httpapi.Problem{Status: 422, Code: "not_delivered", Message: "the provider did not deliver the message (per-user marketing limit)"}, false
	case 130429, 131056:
		return &httpapi.Problem{Status: 429, Code: "upstream_rate_limited", Message: "the provider is rate limiting; retry later", RetryAfter: 60, Transient: true}, false
	}
	return &httpapi.Problem{Status: 502, Code: "provider_error", Message: "the provider refused the message (code " + strconv.Itoa(api.Code) + ")",
		Transient: api.Retryable()}, false
}
