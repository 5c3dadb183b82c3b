package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/envelope"
	"github.com/waguard/waguard/shared/outbound"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// The dependencies the handler calls, as small interfaces; the production
// types satisfy them unchanged and the unit tests pass fakes.

// requestLog holds the erasure requests themselves.
type requestLog interface {
	OpenErasure(ctx context.Context, req store.ErasureRequest, u store.Unit) (store.ErasureRequest, error)
	ErasureRequest(ctx context.Context, id string) (store.ErasureRequest, error)
	OpenErasureOf(ctx context.Context, subject string) (store.ErasureRequest, error)
	PendingErasures(ctx context.Context, limit int32) ([]string, error)
}

// progressLog records how far an erasure got.
type progressLog interface {
	SetErasureStep(ctx context.Context, id, step string, at time.Time) error
	MarkKeyDeleted(ctx context.Context, id string) error
}

// suppressor fixes an erasure's scope and suppresses every identifier in
// it.
type suppressor interface {
	ScopeErasure(ctx context.Context, r store.ErasureRequest) (store.ErasureScope, error)
	MarkErased(ctx context.Context, subject, requestID string, at time.Time) error
	DropAliases(ctx context.Context, keys []string) error
}

// deleter deletes a subject's items, counting them on the request.
type deleter interface {
	ErasePage(ctx context.Context, id, subject string) (store.Counts, bool, error)
	EraseRecords(ctx context.Context, id string, keys [][2]string) (int, error)
	EraseEventRecords(ctx context.Context, subject string) error
}

// notifier proves an erasure, tells its recipients and closes it.
type notifier interface {
	Recipients(ctx context.Context, subject string) ([]string, error)
	ProveErasure(ctx context.Context, r store.ErasureRequest, recipients []string, at time.Time, u store.Unit) error
	FinishErasure(ctx context.Context, id string, at time.Time) (bool, error)
}

// messageReader reads a subject's messages, partition by partition.
type messageReader interface {
	Partitions(ctx context.Context, subject string) ([]string, error)
	Messages(ctx context.Context, subject, cursor string, limit int32) ([]store.Message, string, error)
	StatusHistory(ctx context.Context, subject, lookup string) ([]store.StatusEntry, error)
}

// personReader reads who a subject is and what they agreed to.
type personReader interface {
	Identifiers(ctx context.Context, subject string) ([]store.Identifier, error)
	Usernames(ctx context.Context, subject string) ([]string, error)
	Profile(ctx context.Context, subject string) (store.Profile, error)
}

// dataStore is everything the handler asks of the data table.
type dataStore interface {
	requestLog
	progressLog
	suppressor
	deleter
	notifier
	messageReader
	personReader
}

// gate authenticates a request for a scope ([apiauth.Gate]): a
// *httpapi.Problem for a refusal, any other error for a failed dependency.
type gate interface {
	Check(ctx context.Context, req events.APIGatewayV2HTTPRequest, scope apiauth.Scope) (apiauth.Principal, error)
}

// subjectFinder finds the subject a request names ([subject.Finder]).
type subjectFinder interface {
	Find(ctx context.Context, w subject.Who) (subject.Subject, error)
}

// keyShredder deletes a subject's data key ([envelope.Envelope]).
type keyShredder interface {
	DeleteSubjectKey(ctx context.Context, subject string) error
}

// auditLog appends audit events ([audit.Writer]).
type auditLog interface {
	Append(ctx context.Context, ev audit.Event) (audit.Event, error)
}

// messageSender sends one message through the outbound protocol
// ([outbound.Sender]).
type messageSender interface {
	Send(ctx context.Context, m *outbound.Message) (provider.Result, error)
}

// The production types must satisfy the interfaces unchanged.
var (
	_ dataStore     = (*store.Store)(nil)
	_ gate          = (*apiauth.Gate)(nil)
	_ subjectFinder = (*subject.Finder)(nil)
	_ keyShredder   = (*envelope.Envelope)(nil)
	_ auditLog      = (*audit.Writer)(nil)
	_ messageSender = (*outbound.Sender)(nil)
)
