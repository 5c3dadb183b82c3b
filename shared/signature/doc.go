// Package signature verifies the HMAC-SHA256 signatures on waguard's
// inbound webhooks, using only the standard library.
//
// # Schemes
//
//   - Meta: [VerifyMeta] checks X-Hub-Signature-256, "sha256=" followed
//     by the hex HMAC-SHA256 of the exact raw body under the app secret.
//     Meta's signature covers no timestamp, so replays are the caller's
//     problem (deduplicate on the wamid).
//   - Seed: X-Webhook-Timestamp (milliseconds since the Unix epoch) and
//     X-Webhook-Signature, the hex HMAC-SHA256 of "<timestamp>.<body>",
//     as waguard's seed specification defines them.
//   - Standard Webhooks: webhook-id, webhook-timestamp (seconds) and
//     webhook-signature, a space-separated list of "v1,<base64>" entries,
//     each an HMAC-SHA256 of "<id>.<timestamp>.<body>".
//
// [VerifySigned] handles the two timestamped schemes; its [Result] names
// the scheme that matched and a replay key to deduplicate on. The Sign
// functions produce each scheme's headers for tests and the sandbox.
//
// # Secrets
//
// Every verifier accepts several keys, so that the current and previous
// secret both pass during a rotation. [Key] turns a configured secret
// into key bytes: a value starting with "whsec_" (the Standard Webhooks
// serialisation) is the base64 of the key, anything else is the key
// itself. Empty keys are ignored: an HMAC under an empty key proves
// nothing.
//
// # Security properties
//
//   - Signatures are compared as decoded bytes in constant time
//     (crypto/subtle), so hex case does not matter and timing reveals
//     nothing about how much of a guess was right.
//   - Every failure of a signature check, whether a missing or malformed
//     header, a wrong length or a wrong value, returns the single opaque
//     [ErrBadSignature]. The error text never holds the expected or
//     received signature, the body or a secret.
//   - [ErrStaleTimestamp] is returned only for a request whose signature
//     is valid, so an unauthenticated caller learns nothing from it; it
//     means a replay or a sender with a skewed clock.
//   - Header values are bounded in length and list size before any
//     decoding, so verification does O(len(body) × keys) work at most.
//   - MACs are crypto/hmac HMAC-SHA256; the tests also pin them to the
//     RFC 4231 vectors.
//
// # Non-goals
//
// It does not read bodies or enforce size limits (API Gateway does), and
// it does not remember replay keys: callers store [Result.ReplayKey]
// with a conditional write. It supports neither Meta's legacy SHA-1
// header nor Standard Webhooks' asymmetric "v1a" signatures.
package signature
