// Package idempotency makes an API operation safe to retry: a client sends
// an optional Idempotency-Key header, and every request carrying the same
// key and body within 24 hours gets the response of one single execution.
//
// # Protocol
//
// [Store.Do] claims the key with a conditional PutItem on the data table
// (pk "idem#<client>#<hash(key)>", sk "idem"; see docs/data-model.md), runs
// the operation, and stores its response in the same record:
//
//   - first request: the claim succeeds, the operation runs, its
//     [Response] is stored (status "completed") and returned;
//   - same key, same body, completed: the stored response is returned with
//     replayed = true and the operation does not run;
//   - same key, different body: [ErrConflict] (answer 409
//     idempotency_conflict), whatever the record's status;
//   - same key, same body, still in progress: Do polls the record
//     (GetItem with ConsistentRead) for up to [Config.Wait], honouring ctx,
//     and returns the first request's response once it completes, or
//     [ErrInProgress] (answer 409 request_in_progress);
//   - the operation fails with an error marked by [Retryable]: the record
//     is deleted, so the client may retry at once;
//   - the operation fails with any other error: its outcome is unknown, so
//     the record stays in progress until its lease ends, as if the Lambda
//     had crashed;
//   - a failure decided by business rules (a 4xx or 422 the operation
//     returns as a [Response] with a nil error) is stored like a success.
//   - an operation with an effect that cannot be undone or looked up
//     (a message handed to an external API) commits [Lease.Irreversible]
//     with the write that records its intent, before the effect. Should
//     its lease then end without completion (a crash, or a store that
//     failed after the effect), the key is never claimed again: requests
//     with it get the response given to Irreversible (e.g. "outcome
//     unknown") instead of a second execution;
//   - [Lease.CompleteWrite] lets the operation commit its last write and
//     its replayable response in one transaction, and [Store.CompleteLost]
//     lets someone else who learns the outcome of an operation past its
//     point of no return complete its record ([Lease.Ref] names it).
//
// A claim holds a lease, in_progress_until = now + the time remaining
// before ctx's deadline (the Lambda's own deadline, [Config.Lease] when ctx
// has none). A claim over an in-progress record whose lease has passed
// replaces it with a PutItem conditioned on the old record's random claim
// id and status, so of several retries exactly one wins, and the timed-out
// attempt can no longer complete or release the record. Records expire 24
// hours after their creation (expires_at, the table's TTL attribute);
// since TTL deletes late (DynamoDB Local never), every read ignores expired
// records and a claim replaces them the same way.
//
// Callers that cannot wrap the operation in a closure use [Store.Claim]
// with [Lease.Complete] and [Lease.Release].
//
// # Security properties
//
//   - The raw key is never stored: the record key is
//     base64url(SHA-256("waguard/v1/idempotency-key\x00" ‖ uvarint(len client) ‖ client ‖ key)),
//     or HMAC-SHA256 under [Config.Key] when one is set. Keys are scoped
//     per API client: two clients using the same key never meet.
//   - The request body, which holds a phone number and message text, is
//     never stored either. The payload hash that catches key reuse is
//     SHA-256("waguard/v1/idempotency-payload\x00" ‖ uvarint(len client) ‖ client ‖ uvarint(len key) ‖ key ‖ body),
//     salted with the raw key so that the small space of phone numbers
//     cannot be enumerated against the table alone while keys are
//     unguessable (UUIDs). Set [Config.Key] (a secret from Secrets Manager)
//     to make both hashes keyed, so that even guessable keys do not expose
//     the body to a dictionary attack.
//   - The stored [Response] is kept for 24 hours in the clear. The CALLER
//     guarantees it holds no personal data: the send API's 202 body holds
//     only ids. Never pass a response echoing a phone number or message.
//   - Errors name no key, body, client or record key.
//   - Never a second execution while the first may still run: every state
//     change is a conditional write, and a lease ends only when the
//     claiming invocation's deadline has passed; past its point of no
//     return, not even then.
//
// # Non-goals
//
// The package does not canonicalise bodies: pass the canonical form of the
// request (for JSON APIs, the parsed and validated request marshalled
// again, so that whitespace or field order do not matter). It does not
// parse HTTP headers or map errors to status codes (the handler does, using
// [ValidKey] to answer 400), and it does not recover panics: a panicking
// operation leaves its record in progress until the lease ends.
package idempotency
