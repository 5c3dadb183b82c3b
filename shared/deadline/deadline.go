// Package deadline gives every remote call its own timeout under the
// invocation's deadline, keeping a reserve to record the call's outcome
// and audit it.
//
// A call of a [Kind] gets
//
//	min(the kind's timeout, time left before the context's deadline − the kind's reserve)
//
// ([Budget]): a hung DynamoDB, KMS, Secrets Manager, EventBridge,
// provider or endpoint call ends on its own, while the invocation still
// has the reserve to withdraw or confirm a message, write the audit
// event and answer. A call that would start inside the reserve gets a
// context that has already expired, so it fails at once without being
// sent: an invocation never spends its last moments on a call whose
// outcome it could not record.
//
// [For] bounds one call at its call site; [AWS] bounds every call of an
// SDK client built from an aws.Config that carries it (shared/coldstart
// adds it), so no DynamoDB, KMS, Secrets Manager or EventBridge call
// goes without a deadline, whoever makes it. A call already bounded for
// its kind by [For] or [Within] is not bounded again by [AWS]; one of
// another kind made under it (a Secrets Manager read under a provider
// call's deadline) is, within what is left.
//
// The timeouts and reserves are documented in docs/reliability.md
// ("Deadlines").
//
// # Non-goals
//
// It does not retry, and it does not know which deadline is the
// invocation's: the reserve is kept before the nearest deadline the
// context carries (a caller's own shorter timeout included).
package deadline

import (
	"context"
	"time"

	"github.com/aws/smithy-go/middleware"
)

// Kind is a kind of remote call. Its zero value, [Unknown], has no
// timeout of its own.
type Kind uint8

// The kinds of remote call.
const (
	// Unknown is not a kind of call: it keeps no reserve and takes the
	// context's deadline as it is.
	Unknown Kind = iota
	// DynamoDB is one DynamoDB operation (with the SDK's retries).
	DynamoDB
	// KMS is one KMS operation.
	KMS
	// SecretsManager is one Secrets Manager operation.
	SecretsManager
	// EventBridge is one PutEvents.
	EventBridge
	// Provider is one request to the WhatsApp provider (Meta's Graph API
	// or a RapidAPI proxy of it). Its reserve covers recording the
	// outcome: a withdrawal or confirmation, with its audit event, in one
	// DynamoDB transaction, and the answer.
	Provider
	// Endpoint is one delivery to a customer's webhook endpoint; its
	// outcome is recorded in DynamoDB afterwards.
	Endpoint
)

// limit is a kind's timeout and reserve.
type limit struct {
	name             string
	timeout, reserve time.Duration
}

// limits holds each kind's timeout and reserve (docs/reliability.md,
// "Deadlines"). The provider's timeout plus its reserve stays below the
// shortest Lambda timeout of a function that calls it (the webhook's 10
// s; template_test.go checks it).
var limits = [...]limit{
	Unknown:        {"unknown", 0, 0},
	DynamoDB:       {"dynamodb", 6 * time.Second, 250 * time.Millisecond},
	KMS:            {"kms", 3 * time.Second, 250 * time.Millisecond},
	SecretsManager: {"secretsmanager", 5 * time.Second, 250 * time.Millisecond},
	EventBridge:    {"eventbridge", 5 * time.Second, 250 * time.Millisecond},
	Provider:       {"provider", 7500 * time.Millisecond, 2 * time.Second},
	Endpoint:       {"endpoint", 10 * time.Second, 2 * time.Second},
}

// Kinds lists every kind but [Unknown].
func Kinds() []Kind {
	return []Kind{DynamoDB, KMS, SecretsManager, EventBridge, Provider, Endpoint}
}

func (k Kind) limit() limit {
	if int(k) >= len(limits) {
		return limits[Unknown]
	}
	return limits[k]
}

// Timeout is the longest a call of kind k may take (0 for [Unknown]:
// only the context's deadline).
func (k Kind) Timeout() time.Duration { return k.limit().timeout }

// Reserve is the time a call of kind k leaves before the context's
// deadline.
func (k Kind) Reserve() time.Duration { return k.limit().reserve }

// String names the kind.
func (k Kind) String() string { return k.limit().name }

// Budget is how long a call may take given timeout and reserve, with
// left until the context's deadline (bounded false: the context has
// none): min(timeout, left − reserve), never below zero. A timeout of
// zero or less means none of the call's own.
func Budget(timeout, reserve, left time.Duration, bounded bool) time.Duration {
	if !bounded {
		return timeout
	}
	b := max(left-reserve, 0)
	if timeout > 0 {
		b = min(b, timeout)
	}
	return b
}

// For returns a context for one call of kind k: done after [Budget] of
// the kind's timeout and reserve, or at once when the context's deadline
// is nearer than the reserve. Call cancel when the call returns.
func For(ctx context.Context, k Kind) (context.Context, context.CancelFunc) {
	return Within(ctx, k, k.Timeout())
}

// Within is [For] with timeout in place of the kind's own (a configured
// attempt timeout); the kind's reserve is kept.
func Within(ctx context.Context, k Kind, timeout time.Duration) (context.Context, context.CancelFunc) {
	left, bounded := time.Duration(0), false
	if dl, ok := ctx.Deadline(); ok {
		left, bounded = time.Until(dl), true
	}
	b := Budget(timeout, k.Reserve(), left, bounded)
	ctx = context.WithValue(ctx, boundKey{}, k)
	if !bounded && b <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b)
}

// boundKey marks a context bounded by [Within] for one call.
type boundKey struct{}

// Bound reports whether ctx was bounded by [For] or [Within], and for
// which kind.
func Bound(ctx context.Context) (Kind, bool) {
	k, ok := ctx.Value(boundKey{}).(Kind)
	return k, ok
}

// services maps the SDK's service ids to kinds.
var services = map[string]Kind{
	"DynamoDB":        DynamoDB,
	"KMS":             KMS,
	"Secrets Manager": SecretsManager,
	"EventBridge":     EventBridge,
}

// KindOf returns the kind of the SDK service with id serviceID (a
// client's ServiceID constant), or [Unknown].
func KindOf(serviceID string) Kind { return services[serviceID] }

// AWS adds to an SDK operation's middleware stack the deadline of its
// service's kind ([KindOf]), for the whole operation with its retries.
// Add it to aws.Config.APIOptions; an operation whose context is
// already bounded for its kind ([Bound]) or whose service has no kind is
// left alone.
func AWS(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("waguard/deadline",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			k := KindOf(middleware.GetServiceID(ctx))
			if b, ok := Bound(ctx); (ok && b == k) || k == Unknown {
				return next.HandleInitialize(ctx, in)
			}
			ctx, cancel := For(ctx, k)
			defer cancel()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}
