// Package endpoint provides the operator's webhook endpoints: their
// configuration, read from Secrets Manager and validated, and the
// Standard Webhooks signatures of the deliveries waguard sends them
// (https://www.standardwebhooks.com/, docs/events.md "Endpoints").
//
// # Configuration
//
// Each endpoint is a Secrets Manager secret named
// "waguard/<stage>/endpoints/<name>" whose value is a JSON object:
//
//	{"kind": "webhook-endpoint",
//	 "url": "https://crm.example.com/hooks/waguard",
//	 "types": ["message.received", "subject.erased"],
//	 "include_content": false,
//	 "secret": "whsec_<base64 of 24 to 64 random bytes>",
//	 "previous_secret": "whsec_…", "previous_until": "2026-01-02T00:00:00Z"}
//
// [Parse] validates one value into an [Endpoint]; [Loader] finds every
// endpoint under a name prefix (ListSecrets, paged) and reads each one,
// refreshing at most [RefreshPeriod] after the last read, so a new,
// changed, rotated or deleted endpoint takes effect within a minute
// without a redeploy.
//
// # Signing
//
// [Endpoint.Sign] returns the webhook-id, webhook-timestamp and
// webhook-signature headers of one delivery attempt. The signature is
// "v1,<base64 HMAC-SHA256 of '<id>.<timestamp>.<body>'>" under the current
// secret, followed, space-separated, by the same under the previous secret
// while the rotation overlap lasts ("previous_until"), so a receiver that
// has not yet switched to the new secret keeps verifying. The rotate
// function's "webhook-endpoint" kind writes previous_secret and
// previous_until (docs/rotation.md).
//
// # Security properties
//
//   - Secrets live in unexported fields of [secrets.Value]; an
//     [Endpoint] prints, formats and logs as its name, host and settings
//     only, never a secret, the URL's path or its query.
//   - Errors never hold a secret, a URL or a JSON value: a URL may carry
//     a token in its path or query, so errors name fields, never values.
//   - Fail closed, per endpoint: a value that does not parse exactly
//     (unknown fields included, so that a typo cannot silently widen an
//     endpoint) is skipped and reported by name in [Set.Problems]; the
//     other endpoints are unaffected. A listing that fails fails the load.
//   - Only https URLs, or http on 127.0.0.1 with a port (the local
//     stack's sandbox), the same rule as the provider's base URL.
//   - Verification ([Endpoint.Verify]) compares signatures in constant
//     time through package signature.
//
// # Non-goals
//
// It does not send deliveries, retry, or decide what an event contains
// (the events function does), and it does not rotate secrets (the rotate
// function does). The signing key is symmetric: a receiver that can
// verify could also sign, which is why endpoints are configured by the
// operator and never through the API.
package endpoint
