package main

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/idempotency"
	"github.com/waguard/waguard/shared/ratelimit"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// Hand-written fakes of the handler's dependencies (deps.go), for the unit
// tests that run without the stack. Each honours ctx, records what it was
// asked, and fails on demand. None models paging: the handlers read no
// pages (Store.Profile reads the ledger whole).

// errDown is a dependency failure (DynamoDB, KMS, Secrets Manager down).
var errDown = errors.New("fake: dependency down")

// fakeGate grants principal every scope it holds; err, when set, is the
// answer to every check (a *httpapi.Problem refusal or a failure).
type fakeGate struct {
	principal apiauth.Principal
	err       error
}

func (g *fakeGate) Check(ctx context.Context, _ events.APIGatewayV2HTTPRequest, scope apiauth.Scope) (apiauth.Principal, error) {
	if err := ctx.Err(); err != nil {
		return apiauth.Principal{}, err
	}
	if g.err != nil {
		return apiauth.Principal{}, g.err
	}
	if !g.principal.Can(scope) {
		return g.principal, &httpapi.Problem{Status: 403, Code: "insufficient_scope", Message: "the API key does not allow this operation"}
	}
	return g.principal, nil
}

// fakeFinder keys a person by their identifier ("sub:" and it): the blind
// index of the real finder, without keys.
type fakeFinder struct{ err error }

func (f *fakeFinder) Find(ctx context.Context, w subject.Who) (subject.Subject, error) {
	if err := ctx.Err(); err != nil {
		return subject.Subject{}, err
	}
	if f.err != nil {
		return subject.Subject{}, f.err
	}
	id := w.Phone.E164()
	if id == "" {
		id = w.User.Reveal()
	}
	return subject.Subject{Key: subjectKey(id), Pseudonym: "ps:" + id, Known: true}, nil
}

func subjectKey(id string) string { return "sub:" + id }

// fakeAudit keeps the events appended.
type fakeAudit struct {
	mu     sync.Mutex
	events []audit.Event
	err    error
}

func (a *fakeAudit) Append(ctx context.Context, ev audit.Event) (audit.Event, error) {
	if err := ctx.Err(); err != nil {
		return audit.Event{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return audit.Event{}, a.err
	}
	a.events = append(a.events, ev)
	return ev, nil
}

// types lists the types of the events appended, in order.
func (a *fakeAudit) types() []audit.EventType {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []audit.EventType
	for _, ev := range a.events {
		out = append(out, ev.Type)
	}
	return out
}

// fakeLimiter admits unless refuse is set; refuse's Refused checks are all
// refused for the first time.
type fakeLimiter struct {
	refuse           *ratelimit.Decision
	err, refusalsErr error
	checks           []ratelimit.Check
}

func (l *fakeLimiter) AllowAll(ctx context.Context, checks ...ratelimit.Check) (ratelimit.Decision, error) {
	if err := ctx.Err(); err != nil {
		return ratelimit.Decision{}, err
	}
	l.checks = append(l.checks, checks...)
	if l.err != nil {
		return ratelimit.Decision{}, l.err
	}
	if l.refuse != nil {
		return *l.refuse, nil
	}
	return ratelimit.Decision{Allowed: true, Remaining: 1}, nil
}

func (l *fakeLimiter) FirstRefusals(ctx context.Context, d ratelimit.Decision) ([]ratelimit.Check, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if l.refusalsErr != nil {
		return nil, l.refusalsErr
	}
	return d.Refused, nil
}

// recorded is one ledger write.
type recorded struct {
	subject string
	ev      store.ConsentEvent
	change  store.SuppressionChange
	unit    store.Unit
}

// fakeStore is the data table's few rules the handlers rely on: an erased
// person's ledger takes only a grant that lifts the erasure, a grant lifts
// the purpose's suppression, a consent.Change applies its effect.
type fakeStore struct {
	mu       sync.Mutex
	profiles map[string]store.Profile
	writes   []recorded
	contents map[string]store.Content // by message id
	notices  map[string]store.Notice
	now      time.Time
	// Failures on demand; changeErrs are returned by successive RecordChange calls.
	profileErr, recordErr, readyErr, contentErr, noticeErr error
	changeErrs                                             []error
}

func newFakeStore(now time.Time) *fakeStore {
	return &fakeStore{profiles: map[string]store.Profile{}, contents: map[string]store.Content{}, notices: map[string]store.Notice{}, now: now}
}

func (s *fakeStore) Profile(ctx context.Context, subject string) (store.Profile, error) {
	if err := ctx.Err(); err != nil {
		return store.Profile{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.profileErr != nil {
		return store.Profile{}, s.profileErr
	}
	p := s.profiles[subject]
	p.Ledger = slices.Clone(p.Ledger)
	supp := map[string]string{}
	for k, v := range p.Suppressed {
		supp[k] = v
	}
	p.Suppressed, p.ReadAt = supp, s.now
	return p, nil
}

func (s *fakeStore) RecordConsent(ctx context.Context, subject string, ev store.ConsentEvent, change store.SuppressionChange, _ string, u store.Unit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recordErr != nil {
		return s.recordErr
	}
	p := s.profiles[subject]
	if p.Erased && (ev.Action != store.ActionGrant || len(u.Items) == 0) {
		return store.ErrErased
	}
	p.Ledger = append(p.Ledger, ev)
	if change == store.SuppressionLift {
		p.Erased = false
		delete(p.Suppressed, ev.Purpose)
	}
	s.profiles[subject] = p
	s.writes = append(s.writes, recorded{subject: subject, ev: ev, change: change, unit: u})
	return nil
}

func (s *fakeStore) RecordChange(ctx context.Context, subject string, ev store.ConsentEvent, c consent.Change, u store.Unit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.changeErrs) > 0 {
		err := s.changeErrs[0]
		s.changeErrs = s.changeErrs[1:]
		if err != nil {
			return err
		}
	}
	p := s.profiles[subject]
	if p.Erased {
		return store.ErrErased
	}
	ev.Purpose, ev.Action, ev.Method, ev.PolicyVersion = c.Purpose, c.Action, c.Method, c.PolicyVersion
	p.Ledger = append(p.Ledger, ev)
	if c.Effect == consent.Suppress {
		if p.Suppressed == nil {
			p.Suppressed = map[string]string{}
		}
		p.Suppressed[c.Purpose] = c.Reason
	}
	s.profiles[subject] = p
	s.writes = append(s.writes, recorded{subject: subject, ev: ev, unit: u})
	return nil
}

// liftErasureTable marks the item LiftErasure returns.
const liftErasureTable = "lift-erasure"

func (s *fakeStore) LiftErasure(subject string) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(liftErasureTable),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: subject}}}}
}

func (s *fakeStore) Ready(ctx context.Context, _ string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.readyErr
}

func (s *fakeStore) OutboundContent(ctx context.Context, _, id string) (store.Content, error) {
	if err := ctx.Err(); err != nil {
		return store.Content{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.contentErr != nil {
		return store.Content{}, s.contentErr
	}
	c, ok := s.contents[id]
	if !ok {
		return store.Content{}, store.ErrNotFound
	}
	return c, nil
}

func (s *fakeStore) Notice(ctx context.Context, sha256 string) (store.Notice, error) {
	if err := ctx.Err(); err != nil {
		return store.Notice{}, err
	}
	if s.noticeErr != nil {
		return store.Notice{}, s.noticeErr
	}
	n, ok := s.notices[sha256]
	if !ok {
		return store.Notice{}, store.ErrNotFound
	}
	return n, nil
}

// fakeClaims answers every claim with lease (a fresh one when nil), or
// prior, or err.
type fakeClaims struct {
	lease  *fakeLease
	prior  *idempotency.Response
	err    error
	claims int
}

func (c *fakeClaims) Claim(ctx context.Context, _, _ string, _ []byte) (keyLease, *idempotency.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	c.claims++
	switch {
	case c.err != nil:
		return nil, nil, c.err
	case c.prior != nil:
		return nil, c.prior, nil
	}
	if c.lease == nil {
		c.lease = &fakeLease{}
	}
	return c.lease, nil, nil
}

// fakeLease records how the lease ended.
type fakeLease struct {
	completed                                  *idempotency.Response
	released                                   bool
	completeErr, releaseErr, irrevErr, doneErr error
}

// leaseTable marks the lease's transaction items.
const leaseTable = "idempotency"

func (l *fakeLease) Complete(_ context.Context, r idempotency.Response) error {
	if l.completeErr != nil {
		return l.completeErr
	}
	l.completed = &r
	return nil
}

func (l *fakeLease) Release(context.Context) error {
	if l.releaseErr != nil {
		return l.releaseErr
	}
	l.released = true
	return nil
}

func (l *fakeLease) Ref() string { return "idem#fake" }

func (l *fakeLease) Irreversible(idempotency.Response) (types.TransactWriteItem, error) {
	return types.TransactWriteItem{Update: &types.Update{TableName: aws.String(leaseTable)}}, l.irrevErr
}

func (l *fakeLease) CompleteWrite(idempotency.Response) (types.TransactWriteItem, error) {
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(leaseTable)}}, l.doneErr
}
