// Package sandbox is a loopback stand-in for the WhatsApp Business
// Platform Cloud API (Meta's Graph API), for development and tests only.
// It never talks to Meta and must never be deployed: it accepts whatever
// tokens it is told to, keeps every message it is sent in memory, and
// its sandbox-only routes are unauthenticated.
//
// A [Sandbox] is an [http.Handler]. Tests mount it on an
// httptest.Server; the wasandbox command serves it on 127.0.0.1.
//
// # Routes
//
// The Graph route, as the Cloud API serves it:
//
//   - POST /{version}/{phone-number-id}/messages with
//     "Authorization: Bearer <token>" sends a message (or, with
//     {"status":"read","message_id":...}, marks one as read).
//
// Sandbox-only routes, under /_sandbox/:
//
//   - GET /_sandbox/health answers {"ok":true}.
//   - GET /_sandbox/messages lists accepted calls as [Record] values,
//     oldest first; DELETE /_sandbox/messages clears them.
//   - POST /_sandbox/faults queues a [Fault], for example
//     {"code":130429,"count":2} or {"status":500,"code":131000} or
//     {"delay_ms":3000}; a gateway's answer without Graph's error body,
//     {"status":502,"body":"none"} or {"status":504,"body":"html"}; and,
//     with "accept":true, a message the provider accepted although the
//     answer says otherwise. GET lists the queue; DELETE clears it.
//   - POST /_sandbox/deliver builds, signs and posts a webhook; see
//     [DeliverRequest]. It answers
//     {"status":...,"body":...,"wamid":...,"signature":...,"attempts":[...],"payload":...}.
//     Kinds: "text" (an inbound text), "button" (a tap on a template's
//     quick-reply button: "button_payload" and/or "button_text"), "status"
//     (with "error_code" for a failed one, e.g. 131050), "system" (a user's BSUID
//     or number changed), "preference" (user_preferences stop or resume),
//     "user_id_update" (the field Meta retracted in August 2026) and "raw".
//     A user is named by a number ("from", or "recipient" for a status),
//     a business-scoped user id ("user_id", with optional
//     "parent_user_id" and "username"), or both; "withhold_phone" leaves
//     the number out as Meta does for a user with a username, for example
//     {"kind":"text","user_id":"US.13491208655302741918","username":"test.user","text":"hi"}
//     or {"kind":"status","status":"delivered","user_id":"US.13491208655302741918","withhold_phone":true}
//     or {"kind":"system","previous_user_id":"US.13491208655302741918","user_id":"US.27381940563712094455"}
//     or {"kind":"preference","preference":"stop","user_id":"US.13491208655302741918"}
//     or {"kind":"button","from":"447700900123","button_text":"Stop promotions"}.
//   - PUT /_sandbox/credentials with {"access_tokens":[...],"app_secret":"...","endpoint_secrets":[...]}
//     replaces any of the values in a running sandbox (for secret rotation).
//
// The receiving endpoint, standing in for an operator's HTTPS endpoint
// that waguard's events function delivers Standard Webhooks to
// (docs/events.md):
//
//   - POST /_sandbox/endpoint verifies the delivery's webhook-id,
//     webhook-timestamp and webhook-signature with the official Standard
//     Webhooks Go library against each configured whsec_ secret alone
//     ([Options.EndpointSecrets], [Options.EndpointSecretSource],
//     [Sandbox.SetEndpointSecrets]; one verifying is enough), records it
//     as an [EndpointDelivery] (id, timestamp, type, verified, headers,
//     data) and answers {"verified":…,"seq":…}: 200, 401 when it did not
//     verify, 400 for a body without a type, or a queued fault's status.
//   - GET /_sandbox/deliveries lists the deliveries, oldest first, failed
//     attempts included; DELETE clears them.
//   - POST /_sandbox/endpoint/faults queues an [EndpointFault]: a status
//     for the next deliveries, {"status":503,"count":2}, or every one,
//     {"status":500,"always":true}; a slow endpoint, {"delay_ms":12000}
//     (with or without a status); optionally only for one event "type" or
//     one "contact_id". GET lists the queue; DELETE clears it.
//
// With [Options.RapidAPIHost] the sandbox plays a RapidAPI-style proxy
// of the Cloud API instead: the same routes and shapes, authenticated
// with X-RapidAPI-Key and X-RapidAPI-Host rather than a bearer token.
//
// The same controls exist in Go: [Sandbox.SetTokens],
// [Sandbox.SetAppSecret], [Sandbox.Messages], [Sandbox.InjectFault],
// [Sandbox.EndpointDeliveries], [Sandbox.InjectEndpointFault],
// [Sandbox.Deliver], and the builders [BuildTextEvent],
// [BuildStatusEvent], [BuildSystemEvent], [BuildPreferenceEvent],
// [BuildUserIDUpdateEvent] and [Sign] for tests that post webhooks
// themselves.
//
// # Faithful to Meta
//
//   - Error bodies use Graph's shape
//     {"error":{"message","type","code","error_subcode","error_data","fbtrace_id"}}
//     with Meta's "(#code) title" messages, and each code is served with
//     the HTTP status of Meta's error-code reference (130429 as 429,
//     131000 as 500, most others as 400).
//   - A missing or unknown token gets 401 with code 190; a token that was
//     accepted before and has since been removed gets subcode 463
//     (session expired), as a revoked token does.
//   - Sends are checked in Meta's order: token, path (unknown version,
//     foreign phone number id as GraphMethodException subcode 33), then
//     body: messaging_product must be "whatsapp", "to" is required,
//     "type" defaults to text and must be a known type, text.body is
//     required and at most 4096 characters, template.name and
//     template.language.code are required, interactive needs type and
//     action, media needs an id or a link.
//   - The success body is
//     {"messaging_product":"whatsapp","contacts":[{"input","wa_id"}],"messages":[{"id"}]}.
//   - Users are named as Meta names them since 2026: a business-scoped
//     user id (user_id, from_user_id, recipient_user_id; a parent BSUID
//     "CC.ENT.…" in the parent_ fields) next to or instead of the number
//     (wa_id, from, recipient_id), and a profile.username. Statuses that
//     name a BSUID carry a contacts[] entry, except failed ones, and sent
//     ones without the username; system messages carry none. BSUIDs must
//     have Meta's syntax (package bsuid). The shapes follow the research
//     fixtures in shared/whatsapp/testdata/bsuid, which the tests compare
//     field by field.
//   - Message ids have the structure of real wamids: "wamid." and the
//     base64 of a Thrift compact struct embedding the user's number, a
//     sent/received flag and a random hex key. Like Meta's, they are
//     therefore personal data; [ParseWAMID] recovers the number.
//   - Webhooks use the "messages" field envelope (object
//     whatsapp_business_account, entry[].changes[].value with metadata,
//     contacts and messages, or statuses with pricing or errors), or the
//     "user_preferences" and "user_id_update" fields, and carry
//     X-Hub-Signature-256 (HMAC-SHA256 of the exact body under the app
//     secret) and the legacy X-Hub-Signature (SHA-1), and escape "/" and
//     non-ASCII characters as Meta does, so a receiver must verify the raw
//     bytes rather than re-encoded JSON. Redelivery sends identical bytes.
//
// # Simplified
//
//   - Any token in the configured set is valid for any phone number; no
//     scopes, expiry dates, or app-secret proofs. Graph answers a missing
//     token with code 104; the sandbox uses 190 for every token failure.
//   - wa_id is the digits of "to"; Meta's per-country rewriting (for
//     example Brazil's ninth digit) and the "user is not on WhatsApp"
//     check are not modelled. Delivery failures are what faults and
//     failed-status webhooks are for.
//   - Only text, template, interactive and reaction objects are checked
//     in depth; template components, media upload and the 24-hour
//     customer-service window are not modelled.
//   - Faults apply to sends that passed validation, in queue order. In
//     reality 131026, 131047, 131049 and 131050 usually arrive in a
//     failed-status webhook, not the send response; use
//     {"kind":"status","status":"failed","error_code":...} for that path.
//   - Which users Meta sends a number for (the 30-day and contact-book
//     rules) is not modelled: a delivery has the identifiers it is given.
//     A text without a number gets a wamid embedding the number 0.
//   - Status webhooks carry a fixed pricing object (PMP, utility) and no
//     conversation object; there is no GET verification handshake, no
//     automatic sent/delivered/read progression and no retry schedule:
//     redelivery happens only when asked for with "repeat".
//   - Records and endpoint deliveries are kept in memory (the newest
//     10,000 of each) and are lost when the process stops.
//   - The receiving endpoint checks the timestamp against the real clock
//     (the library's five minutes), not [Options.Now], and does not
//     deduplicate webhook-ids: it records every attempt, as a test wants.
//
// # Security
//
// The sandbox stores only a [Fingerprint] of each token, never the token,
// and its error messages never echo a token, a number or a message body.
// It does store message bodies and numbers in memory, because tests read
// them back; use synthetic numbers only (+44 7700 900xxx, +1 555 01xx).
package sandbox
