package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/outbound"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/ratelimit"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
)

// The unit harness: fakes of shared/outbound's own dependencies (its
// store and provider; the protocol itself runs for real) and a handler
// built over every fake.

// fakeOutbox is the data table as shared/outbound uses it: the messages
// recorded sending, confirmed or withdrawn.
type fakeOutbox struct {
	mu        sync.Mutex
	intents   []store.Outbound
	units     []store.Unit // of the intents
	confirms  []store.Unit
	withdrawn []string
	putErr    error
	// confirmErrs are returned by successive Confirm calls.
	confirmErrs []error
	withdrawErr error
}

func (o *fakeOutbox) PutOutbound(ctx context.Context, m store.Outbound, u store.Unit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.putErr != nil {
		return o.putErr
	}
	o.intents, o.units = append(o.intents, m), append(o.units, u)
	return nil
}

func (o *fakeOutbox) PrepareConfirm(ctx context.Context, _ store.Outbound) (store.Confirmation, error) {
	return store.Confirmation{}, ctx.Err()
}

func (o *fakeOutbox) Confirm(ctx context.Context, _ store.Confirmation, u store.Unit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.confirmErrs) > 0 {
		err := o.confirmErrs[0]
		o.confirmErrs = o.confirmErrs[1:]
		if err != nil {
			return err
		}
	}
	o.confirms = append(o.confirms, u)
	return nil
}

func (o *fakeOutbox) WithdrawOutbound(ctx context.Context, _, id string, _ store.Unit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.withdrawErr != nil {
		return o.withdrawErr
	}
	o.withdrawn = append(o.withdrawn, id)
	return nil
}

func (o *fakeOutbox) SendingOutbound(ctx context.Context, _, _ string) (store.Outbound, error) {
	return store.Outbound{}, errors.New("fake outbox: SendingOutbound is not a send path call")
}

// fakeProvider answers every send with err, or accepts it.
type fakeProvider struct {
	mu    sync.Mutex
	err   error
	sends int
	texts int
	tmpls []whatsapp.Template
}

func (p *fakeProvider) SendText(ctx context.Context, _ provider.Recipient, _ string, _ ...whatsapp.SendOption) (provider.Result, error) {
	p.mu.Lock()
	p.texts++
	p.mu.Unlock()
	return p.answer(ctx)
}

func (p *fakeProvider) SendTemplate(ctx context.Context, _ provider.Recipient, t whatsapp.Template, _ ...whatsapp.SendOption) (provider.Result, error) {
	p.mu.Lock()
	p.tmpls = append(p.tmpls, t)
	p.mu.Unlock()
	return p.answer(ctx)
}

func (p *fakeProvider) answer(ctx context.Context) (provider.Result, error) {
	if err := ctx.Err(); err != nil {
		return provider.Result{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sends++
	if p.err != nil {
		return provider.Result{}, p.err
	}
	return provider.Result{ProviderID: "wamid.fake"}, nil
}

// unit is a send handler over fakes, as main builds it over the stack.
type unit struct {
	h      *Handler
	gate   *fakeGate
	finder *fakeFinder
	audit  *fakeAudit
	limits *fakeLimiter
	store  *fakeStore
	claims *fakeClaims
	outbox *fakeOutbox
	prov   *fakeProvider
	// lastOut and lastHeaders are the last answer's.
	lastOut     map[string]any
	lastHeaders map[string]string
}

// unitNow is the unit tests' clock.
var unitNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func newUnit(t testing.TB) *unit {
	t.Helper()
	u := &unit{
		gate: &fakeGate{principal: apiauth.Principal{ClientID: "ops", Scopes: []apiauth.Scope{apiauth.ScopeMessagesSend,
			apiauth.ScopeConsentsWrite, apiauth.ScopeConsentsRead}}},
		finder: &fakeFinder{}, audit: &fakeAudit{}, limits: &fakeLimiter{}, store: newFakeStore(unitNow),
		claims: &fakeClaims{}, outbox: &fakeOutbox{}, prov: &fakeProvider{},
	}
	m, err := metrics.NewRecorder("send")
	if err != nil {
		t.Fatalf("NewRecorder() err = %v", err)
	}
	now := func() time.Time { return unitNow }
	u.h = &Handler{Gate: u.gate, Store: u.store, Subjects: u.finder, Audit: u.audit, Idempotency: u.claims, Limits: u.limits,
		Outbound: &outbound.Sender{Store: u.outbox, Provider: u.prov, Lookup: func(string) string { return "lookup" }, Now: now},
		Metrics:  m, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: now, MetricsOut: io.Discard,
		Config: Config{PhoneNumberID: "100000000000001", PerRecipient: ratelimit.Limit{Count: 10, Per: time.Hour},
			PerPurpose: map[string]ratelimit.Limit{"otp": {Count: 5, Per: 15 * time.Minute}},
			Global:     ratelimit.Limit{Count: 80, Per: time.Second}, ConfirmWindow: consent.DefaultConfirmWindow}}
	return u
}

// grant records a live grant of purpose for the person id names.
func (u *unit) grant(id, purpose string) {
	p := u.store.profiles[subjectKey(id)]
	p.Ledger = append(p.Ledger, store.ConsentEvent{ID: "cev_grant", Purpose: purpose, Action: store.ActionGrant, Method: "web_form",
		PolicyVersion: "2026-01", Actor: "ops", At: unitNow.Add(-48 * time.Hour)})
	u.store.profiles[subjectKey(id)] = p
}

// wrote opens the person's service window, ago before now.
func (u *unit) wrote(id string, ago time.Duration) {
	p := u.store.profiles[subjectKey(id)]
	p.LastInbound = unitNow.Add(-ago)
	u.store.profiles[subjectKey(id)] = p
}

// callPath invokes the handler for route with path parameters.
func (u *unit) callPath(ctx context.Context, t testing.TB, route string, params map[string]string) (events.APIGatewayV2HTTPResponse, map[string]any) {
	t.Helper()
	return u.invoke(ctx, t, events.APIGatewayV2HTTPRequest{RouteKey: route, PathParameters: params})
}

// call invokes the handler with body (a string as it is, else JSON) and
// headers (name, value pairs).
func (u *unit) call(ctx context.Context, t testing.TB, route string, body any, headers ...string) (events.APIGatewayV2HTTPResponse, map[string]any) {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{RouteKey: route, Headers: map[string]string{}}
	switch b := body.(type) {
	case nil:
	case string:
		req.Body = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("Marshal(body) err = %v", err)
		}
		req.Body = string(j)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Headers[headers[i]] = headers[i+1]
	}
	return u.invoke(ctx, t, req)
}

// invoke invokes the handler with req, authenticated, as API Gateway
// passes it.
func (u *unit) invoke(ctx context.Context, t testing.TB, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, map[string]any) {
	t.Helper()
	if req.Headers == nil {
		req.Headers = map[string]string{}
	}
	req.Headers["authorization"] = "Bearer wg_ops_x"
	req.RequestContext = events.APIGatewayV2HTTPRequestContext{RequestID: "req-unit",
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.60"}}
	resp, err := u.h.Handle(ctx, req)
	if err != nil {
		t.Fatalf("Handle(%s) err = %v, want a response", req.RouteKey, err)
	}
	u.lastOut, u.lastHeaders = decode(resp.Body), resp.Headers
	return resp, u.lastOut
}
