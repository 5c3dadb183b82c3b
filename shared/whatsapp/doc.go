// Package whatsapp speaks the WhatsApp Business Platform Cloud API:
// it parses the webhooks Meta posts and sends messages through the
// Graph API.
//
// # Inbound
//
// [Parse] reads Meta's webhook envelope
//
//	{"object":"whatsapp_business_account","entry":[{"id":…,"changes":[
//	  {"field":"messages","value":{"messaging_product":"whatsapp",
//	    "metadata":{"display_phone_number":…,"phone_number_id":…},
//	    "contacts":[…],"messages":[…],"statuses":[…],"errors":[…]}}]}]}
//
// and [Events] flattens it into one [Event] per inbound message, status
// update, webhook-level error, identifier change or marketing preference.
// Changes of the fields "messages", [FieldUserPreferences] and
// [FieldUserIDUpdate] are read; changes of other fields (template or
// account updates) are accepted and yield no events. [ParseNormalized]
// reads the single-message object of the /webhooks/signed route (see
// [ParseNormalized] for its shape), and [ParseAny] accepts either.
//
// Only what waguard acts on is decoded: the text of text messages, the id
// and title of interactive button and list replies, the payload and text
// of quick-reply buttons, and the sender's profile name and username.
// Media, location, contacts, reactions and other types yield their type
// and id only; media is never downloaded.
//
// # Identifiers
//
// Since April 2026 Meta names every WhatsApp user by a business-scoped
// user id (BSUID, package bsuid) and, for a user with a username, may
// withhold the phone number. So a [Message] names its sender by
// [Message.From] (wa_id digits), [Message.FromUserID] (the BSUID), or
// both, plus [Message.FromParentUserID] for enrolled businesses; a
// [Status] names its recipient likewise. Identifiers a message or status
// lacks are completed from its contacts[] entry, matched by wa_id or
// user_id, which is also where [Message.Username] comes from. A BSUID that
// does not have Meta's syntax is left zero rather than refusing the
// delivery.
//
// A message with neither identifier still yields its [KindMessage] event,
// for the caller to count as ignored: one event that cannot be attributed
// never costs the others of its delivery. System messages
// (type "system": user_changed_user_id, user_changed_number) and items of
// the retracted user_id_update field yield [KindSystem] events whose
// [System] links the old and new identifiers of one person;
// user_preferences items yield [KindPreference] events. Items of those two
// fields that do not decode are skipped one by one.
//
// # Outbound
//
// A [Client] sends text and template messages with
// POST {base}/{version}/{phone-number-id}/messages and a bearer token
// (or a RapidAPI-style proxy's key headers). Graph errors come back as
// [*APIError]. [Classify] is the one table of what an answer proves
// about the message: sent, refused (retryable or permanent), or unknown.
// Only a refusal proves the message was not accepted: a documented Meta
// code such as 130429, a 4xx, or a connection that failed before the
// request was written ([ErrNotSent]). A 5xx without Meta's error body (a
// gateway's 502 or 504), a timeout or a connection lost after writing
// leaves the outcome unknown, and sending again could deliver the
// message twice.
//
// # Security properties
//
//   - Parsing is bounded: bodies over [Limits.MaxBytes], and envelopes
//     with more entries, changes or events than [Limits] allows, are
//     rejected rather than processed.
//   - Every parse failure wraps [ErrMalformed] with a position ("entry 0
//     change 1 message 3: no id") and never with payload content; JSON
//     decoder messages, which quote input, are dropped.
//   - [Event], [Message], [Status], [System], [Preference] and [Envelope]
//     print (String, every fmt verb), log (slog.LogValuer) and marshal to
//     JSON only kinds, types, statuses, error codes, times, lengths and
//     whether an identifier is present: never a phone number, BSUID,
//     username, wamid, profile name or message text. Code that needs
//     those reads the fields explicitly; a BSUID field is a bsuid.ID,
//     which must be revealed explicitly too.
//   - The access token lives in an unexported field; neither errors nor
//     a printed [Client] contain it, and Graph's error messages (which
//     can echo request values) are not kept. [NewHTTPClient] requires
//     TLS 1.2 or later, sets timeouts and does not follow redirects.
//
// # Non-goals
//
// It does not verify webhook signatures (package signature does), does
// not deduplicate redeliveries, does not normalise phone numbers
// ([Message.From] is the wa_id digits as sent), and does not decide who a
// user is: linking a BSUID to a number is the caller's. It does not model the
// 24-hour customer-service window, media upload, or message types other
// than text and template on the outbound side.
package whatsapp
