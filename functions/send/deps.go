package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/idempotency"
	"github.com/waguard/waguard/shared/ratelimit"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// The handler's dependencies, as the handler calls them: main gives the
// shared packages' types, the unit tests (handler_test.go) give fakes.
// The outbound protocol is the one dependency taken as it is
// (*outbound.Sender): it is waguard's own logic over two interfaces of
// its own (outbound.Store, outbound.Provider), which the tests fake.

// gate authenticates a request for a route's scope (*apiauth.Gate): a
// *httpapi.Problem for a refusal, any other error for a failed
// dependency.
type gate interface {
	Check(ctx context.Context, req events.APIGatewayV2HTTPRequest, scope apiauth.Scope) (apiauth.Principal, error)
}

// finder finds the data subject a request names (*subject.Finder).
type finder interface {
	Find(ctx context.Context, w subject.Who) (subject.Subject, error)
}

// auditLog appends to the audit trail (*audit.Writer).
type auditLog interface {
	Append(ctx context.Context, ev audit.Event) (audit.Event, error)
}

// limiter applies rate limits (*ratelimit.Limiter).
type limiter interface {
	AllowAll(ctx context.Context, checks ...ratelimit.Check) (ratelimit.Decision, error)
	FirstRefusals(ctx context.Context, d ratelimit.Decision) ([]ratelimit.Check, error)
}

// profiles reads a person's consent ledger, suppressions, erasure and
// service window (*store.Store).
type profiles interface {
	Profile(ctx context.Context, subject string) (store.Profile, error)
}

// consentLedger appends to a person's consent ledger (*store.Store):
// [store.ErrErased] for an erased person, [store.ErrSuppressionChanged]
// when a change's condition on the suppression failed.
type consentLedger interface {
	RecordConsent(ctx context.Context, subject string, ev store.ConsentEvent, change store.SuppressionChange, reason string, u store.Unit) error
	RecordChange(ctx context.Context, subject string, ev store.ConsentEvent, c consent.Change, u store.Unit) error
	LiftErasure(subject string) types.TransactWriteItem
}

// messageStore is what a send reads of the data table (*store.Store):
// Ready fails when the person's data key is unusable (KMS); OutboundContent
// returns [store.ErrNotFound] for a message erased or past retention.
type messageStore interface {
	Ready(ctx context.Context, subject string) error
	OutboundContent(ctx context.Context, subject, id string) (store.Content, error)
}

// noticeStore reads the notice registry (*store.Store): [store.ErrNotFound]
// for an id never registered.
type noticeStore interface {
	Notice(ctx context.Context, sha256 string) (store.Notice, error)
}

// dataStore is everything the handlers need of the data table.
type dataStore interface {
	profiles
	consentLedger
	messageStore
	noticeStore
}

// keyClaims claims idempotency keys ([idempotencyKeys] over
// *idempotency.Store): a lease to run the request, or the stored answer
// to replay; [idempotency.ErrConflict] and [idempotency.ErrInProgress].
type keyClaims interface {
	Claim(ctx context.Context, client, key string, body []byte) (keyLease, *idempotency.Response, error)
}

// keyLease is a claimed idempotency key (*idempotency.Lease): ended by
// Complete or Release, or by a transaction that commits CompleteWrite.
type keyLease interface {
	Complete(ctx context.Context, r idempotency.Response) error
	Release(ctx context.Context) error
	leaseWrites
}

// leaseWrites are a lease's writes to commit in the send's own
// transactions, and the reference Meta's status webhook completes it by.
type leaseWrites interface {
	Ref() string
	Irreversible(ifLost idempotency.Response) (types.TransactWriteItem, error)
	CompleteWrite(r idempotency.Response) (types.TransactWriteItem, error)
}

// idempotencyKeys adapts *idempotency.Store to [keyClaims].
type idempotencyKeys struct{ *idempotency.Store }

// Claim is [idempotency.Store.Claim], with no lease as a nil interface.
func (k idempotencyKeys) Claim(ctx context.Context, client, key string, body []byte) (keyLease, *idempotency.Response, error) {
	l, prior, err := k.Store.Claim(ctx, client, key, body)
	if l == nil {
		return nil, prior, err
	}
	return l, prior, err
}

var (
	_ gate      = (*apiauth.Gate)(nil)
	_ finder    = (*subject.Finder)(nil)
	_ auditLog  = (*audit.Writer)(nil)
	_ limiter   = (*ratelimit.Limiter)(nil)
	_ dataStore = (*store.Store)(nil)
	_ keyLease  = (*idempotency.Lease)(nil)
	_ keyClaims = idempotencyKeys{}
)
