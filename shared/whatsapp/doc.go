// Package whatsapp speaks the WhatsApp Business Platform Cloud API:
// it parses the webhooks Meta posts and sends messages through the
// Graph API.
//
// # Inbound
//
// [Parse] reads Meta's "messages" webhook envelope
//
//	{"object":"whatsapp_business_account","entry":[{"id":…,"changes":[
//	  {"field":"messages","value":{"messaging_product":"whatsapp",
//	    "metadata":{"display_phone_number":…,"phone_number_id":…},
//	    "contacts":[…],"messages":[…],"statuses":[…],"errors":[…]}}]}]}
//
// and [Events] flattens it into one [Event] per inbound message, status
// update or webhook-level error. Changes of other fields (template or
// account updates) are accepted and yield no events. [ParseNormalized]
// reads the single-message object of the /webhooks/signed route (see
// [ParseNormalized] for its shape), and [ParseAny] accepts either.
//
// Only what waguard acts on is decoded: the text of text messages, the id
// and title of interactive button and list replies, the payload and text
// of quick-reply buttons, and the sender's profile name. Media, location,
// contacts, reactions and other types yield their type and id only;
// media is never downloaded.
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
//   - [Event], [Message], [Status] and [Envelope] print (String, every
//     fmt verb) and log (slog.LogValuer) only kinds, types, statuses,
//     error codes, times and lengths: never a phone number, wamid,
//     profile name or message text. Code that needs those reads the
//     fields explicitly.
//   - The access token lives in an unexported field; neither errors nor
//     a printed [Client] contain it, and Graph's error messages (which
//     can echo request values) are not kept. [NewHTTPClient] requires
//     TLS 1.2 or later, sets timeouts and does not follow redirects.
//
// # Non-goals
//
// It does not verify webhook signatures (package signature does), does
// not deduplicate redeliveries, and does not normalise phone numbers:
// [Message.From] is the wa_id digits as sent. It does not model the
// 24-hour customer-service window, media upload, or message types other
// than text and template on the outbound side.
package whatsapp
