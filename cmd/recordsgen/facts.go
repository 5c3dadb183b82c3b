package main

import (
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/retention"
)

// The descriptions below are the facts about waguard that live in prose
// (docs/data-model.md, docs/gdpr.md), keyed by the identifiers the code and
// template.yaml use. A class, table, route or audit event type without a
// description here fails the build, so a new one cannot reach the record
// of processing undescribed.

// classUse says which items each retention class applies to.
var classUse = map[retention.Class]string{
	retention.ClassTransactional: "outbound messages sent with purpose `transactional`",
	retention.ClassMarketing:     "outbound messages sent with purpose `marketing`",
	retention.ClassSupport:       "inbound messages (the webhook's class for them), outbound `support` messages, keyword replies",
	retention.ClassOTP:           "outbound one-time-password messages (purpose `otp`)",
	retention.ClassStatus:        "delivery statuses and read receipts of outbound messages",
	retention.ClassMetadata:      "the time of the person's last inbound message (the 24-hour customer service window)",
}

// purpose is one of the send purposes of POST /v1/messages; each is also
// the retention class of the messages sent for it.
type purpose struct {
	Class retention.Class
	// What the business uses it for, and the suggested legal basis (the
	// controller's decision, marked as such in the record).
	What, Basis string
}

// purposes lists the send purposes in the order the record shows them.
// TestPurposesMatchOpenAPI checks them against docs/openapi.yaml.
var purposes = []purpose{
	{retention.ClassMarketing, "promotional messages and offers",
		"consent, Art. 6(1)(a): waguard refuses a send without a live grant in the consent ledger"},
	{retention.ClassTransactional, "messages about an order, booking, account or contract the person has with the business",
		"performance of a contract, Art. 6(1)(b), or legitimate interests, Art. 6(1)(f); waguard still requires a recorded grant in the ledger before it sends"},
	{retention.ClassSupport, "answers in a conversation the person started",
		"legitimate interests, Art. 6(1)(f), or contract, Art. 6(1)(b); no grant needed inside the 24-hour window the person opened"},
	{retention.ClassOTP, "one-time passwords and verification codes the person asked for",
		"performance of a contract, Art. 6(1)(b), or legitimate interests, Art. 6(1)(f); waguard still requires a recorded grant in the ledger before it sends"},
}

// tableUse says what each DynamoDB table holds.
var tableUse = map[string]string{
	"DataTable":  "messages (content encrypted), delivery statuses, consent ledger, consent notices (the business's own text, kept), suppressions, erasure requests and markers, rate-limit, idempotency, replay and flood-control records, event records and their delivery state (8 days; no content)",
	"KeysTable":  "per-subject data keys, wrapped under a KMS-protected branch key",
	"AuditTable": "the append-only audit trail and its signed daily digests",
}

// route describes one HTTP entry point: who calls it and what personal
// data comes in with the request.
type route struct{ Caller, Data string }

// routeUse is keyed by "METHOD /path" as template.yaml declares it.
var routeUse = map[string]route{
	"GET /webhooks/meta":                 {"Meta (subscription handshake)", "none"},
	"POST /webhooks/meta":                {"Meta's WhatsApp Cloud API", "inbound messages (number and/or WhatsApp user id, username, profile name, text or reply), delivery statuses, identifier changes"},
	"POST /webhooks/signed":              {"a signing provider or internal sender", "inbound messages (number and/or WhatsApp user id, username, profile name, text or reply), delivery statuses, identifier changes"},
	"POST /v1/messages":                  {"the controller's systems (API key, scope `messages:send`)", "recipient number or WhatsApp user id, message text or template parameters"},
	"POST /v1/consents":                  {"the controller's systems (`consents:write`)", "number or WhatsApp user id, consent event, optional evidence, optional notice text (not personal data)"},
	"POST /v1/consents/query":            {"the controller's systems (`consents:read`)", "number or WhatsApp user id (answer: consent state and ledger)"},
	"GET /v1/notices/{id}":               {"the controller's systems (`consents:read`)", "none (answer: a consent notice's text, the business's own wording)"},
	"POST /v1/erasure-requests":          {"the controller's systems (`subjects:erase`)", "number or WhatsApp user id, reason"},
	"GET /v1/erasure-requests/{id}":      {"the controller's systems (`subjects:erase`)", "none (answer: status and counts, no number)"},
	"POST /v1/exports":                   {"the controller's systems (`subjects:export`)", "number or WhatsApp user id (answer: the person's decrypted data and identifiers)"},
	"GET /v1/messages/{id}":              {"the controller's systems (`messages:read`)", "a message id (answer: the message, decrypted)"},
	"POST /v1/messages/query":            {"the controller's systems (`messages:read`)", "number, WhatsApp user id or contact id (answer: the person's messages, decrypted)"},
	"GET /v1/dead-letters":               {"the controller's operators (`events:manage`)", "none (answer: undelivered event ids, destinations and errors)"},
	"POST /v1/dead-letters/{id}/redrive": {"the controller's operators (`events:manage`)", "none"},
}

// auditMeaning says what each audit event type records. TestAuditEventTypes
// checks the keys against the constants in shared/audit.
var auditMeaning = map[audit.EventType]string{
	audit.EventMessageReceived:         "an inbound message was stored (or dropped, with the reason)",
	audit.EventMessageSent:             "a message was handed to the provider (outcome submitted, written before the call), or a send was refused (consent, suppression), with the outcome",
	audit.EventMessageStatus:           "a delivery status or read receipt was recorded, or the provider refused a submitted message (status failed)",
	audit.EventConsentGranted:          "a consent grant was appended to the ledger",
	audit.EventConsentRevoked:          "a consent revocation was appended to the ledger",
	audit.EventConsentResumed:          "a person's resume of marketing messages in WhatsApp's settings was appended to the ledger (not a grant)",
	audit.EventConsentRequested:        "a grant waiting for the person's confirmation on WhatsApp (double opt-in) was appended to the ledger (not a grant)",
	audit.EventDataDeletion:            "a person's data was erased (with counts)",
	audit.EventDataExport:              "a page of a person's data was exported",
	audit.EventDataAccess:              "an API client read a person's data (route, records returned), through the read API or the consent query",
	audit.EventErasureRequested:        "an erasure request was opened",
	audit.EventRetentionSweep:          "the retention sweep ran (counts per class)",
	audit.EventAPIKeyRotated:           "a secret or API key was rotated",
	audit.EventAPIKeyFallbackUsed:      "the fallback provider token was used",
	audit.EventRateLimitExceeded:       "a send was refused by a rate limit",
	audit.EventWebhookValidationFailed: "webhook deliveries failed verification (once per source and minute)",
	audit.EventAuthFailed:              "API requests failed authentication (once per source and minute)",
	audit.EventIdentityLinked:          "a phone number and a business-scoped user id (or a user id and its successor) found to be one person",
}
