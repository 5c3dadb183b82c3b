package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/outbound"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// The fakes of the handler's unit tests: small in-memory behaviour, by
// hand. Each honours its context, records its calls and fails on demand.

// calls records calls by operation name and fails the ones a test names.
type calls struct {
	mu  sync.Mutex
	log []string
	// fail, when set, is asked before every operation; a non-nil error is
	// returned instead of doing it.
	fail func(op string) error
}

func (c *calls) enter(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.log = append(c.log, op)
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		return fail(op)
	}
	return nil
}

func (c *calls) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, o := range c.log {
		if o == op {
			n++
		}
	}
	return n
}

// failOnce fails the nth call (1-based) of op with err, once.
func failOnce(op string, n int, err error) func(string) error {
	seen := 0
	return func(o string) error {
		if o != op {
			return nil
		}
		seen++
		if seen == n {
			return err
		}
		return nil
	}
}

// fakeItem is one item of a partition; msg is set for a msg# item.
type fakeItem struct {
	sk      string
	msg     *store.Message
	expired bool // TTL passed but not yet deleted: stored, not live
}

// fakeStore is an in-memory data table. It pages as DynamoDB does: Limit
// counts the items read before the live filter drops expired ones, and a
// page that reaches Limit has a next cursor even when nothing follows.
type fakeStore struct {
	calls
	mu          sync.Mutex
	requests    map[string]store.ErasureRequest
	open        map[string]string   // subject → its open request
	pending     []string            // open request ids, oldest first
	parts       map[string][]string // subject → its partitions (default itself)
	items       map[string][]fakeItem
	identifiers map[string][]store.Identifier
	usernames   map[string][]string
	profiles    map[string]store.Profile
	history     map[string][]store.StatusEntry // lookup → statuses
	rate        map[string]bool                // rate-limit record pks
	outbox      map[string]int                 // partition → event records
	recipients  map[string][]string            // partition → destinations
	erased      map[string]string              // key → erasure request
	aliases     map[string]bool
	units       []store.Unit
	steps       []string // every step set, in order
	proofs      int
}

var _ dataStore = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{requests: map[string]store.ErasureRequest{}, open: map[string]string{}, parts: map[string][]string{},
		items: map[string][]fakeItem{}, identifiers: map[string][]store.Identifier{}, usernames: map[string][]string{},
		profiles: map[string]store.Profile{}, history: map[string][]store.StatusEntry{}, rate: map[string]bool{},
		outbox: map[string]int{}, recipients: map[string][]string{}, erased: map[string]string{}, aliases: map[string]bool{}}
}

// add stores items in partition part, kept sorted by sort key.
func (f *fakeStore) add(part string, items ...fakeItem) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[part] = append(f.items[part], items...)
	slices.SortFunc(f.items[part], func(a, b fakeItem) int { return strings.Compare(a.sk, b.sk) })
}

// message stores an inbound message from num in part, at i-th position.
func (f *fakeStore) message(part string, i int, m store.Message, expired bool) {
	m.SK = fmt.Sprintf("msg#in#%05d", i)
	if m.ID == "" {
		m.ID = fmt.Sprintf("msg_%024d", i)
	}
	f.add(part, fakeItem{sk: m.SK, msg: &m, expired: expired})
}

func (f *fakeStore) OpenErasure(ctx context.Context, req store.ErasureRequest, u store.Unit) (store.ErasureRequest, error) {
	if err := f.enter(ctx, "OpenErasure"); err != nil {
		return store.ErasureRequest{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.open[req.Subject]; ok {
		return f.requests[id], fmt.Errorf("open erasure: %w", store.ErrDuplicate)
	}
	req.Status, req.DueBy = "pending", req.RequestedAt.Add(store.ErasureDeadline)
	f.requests[req.ID], f.open[req.Subject] = req, req.ID
	f.pending = append(f.pending, req.ID)
	f.units = append(f.units, u)
	return req, nil
}

func (f *fakeStore) ErasureRequest(ctx context.Context, id string) (store.ErasureRequest, error) {
	if err := f.enter(ctx, "ErasureRequest"); err != nil {
		return store.ErasureRequest{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.requests[id]
	if !ok {
		return store.ErasureRequest{}, store.ErrNotFound
	}
	return r, nil
}

func (f *fakeStore) OpenErasureOf(ctx context.Context, subject string) (store.ErasureRequest, error) {
	if err := f.enter(ctx, "OpenErasureOf"); err != nil {
		return store.ErasureRequest{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.open[subject]
	if !ok {
		return store.ErasureRequest{}, store.ErrNotFound
	}
	return f.requests[id], nil
}

func (f *fakeStore) PendingErasures(ctx context.Context, limit int32) ([]string, error) {
	if err := f.enter(ctx, "PendingErasures"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.pending[:min(int(limit), len(f.pending))]), nil
}

// update changes open request id; ErrDuplicate when it is completed.
func (f *fakeStore) update(id string, change func(*store.ErasureRequest) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.requests[id]
	if !ok || r.Status == "completed" {
		return fmt.Errorf("erasure update: %w", store.ErrDuplicate)
	}
	if err := change(&r); err != nil {
		return err
	}
	f.requests[id] = r
	return nil
}

func (f *fakeStore) SetErasureStep(ctx context.Context, id, step string, _ time.Time) error {
	if err := f.enter(ctx, "SetErasureStep"); err != nil {
		return err
	}
	return f.update(id, func(r *store.ErasureRequest) error {
		r.Status, r.Step = "in_progress", step
		f.steps = append(f.steps, step)
		return nil
	})
}

func (f *fakeStore) MarkKeyDeleted(ctx context.Context, id string) error {
	if err := f.enter(ctx, "MarkKeyDeleted"); err != nil {
		return err
	}
	return f.update(id, func(r *store.ErasureRequest) error { r.KeyDeleted = true; return nil })
}

func (f *fakeStore) ScopeErasure(ctx context.Context, r store.ErasureRequest) (store.ErasureScope, error) {
	if err := f.enter(ctx, "ScopeErasure"); err != nil {
		return store.ErasureScope{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.requests[r.ID]
	if cur.Scope != nil {
		return *cur.Scope, nil
	}
	s := store.ErasureScope{Partitions: f.partitionsOf(r.Subject)}
	for _, p := range s.Partitions {
		for _, id := range f.identifiers[p] {
			s.Identifiers = append(s.Identifiers, id.Key)
		}
	}
	slices.Sort(s.Identifiers)
	cur.Scope = &s
	f.requests[r.ID] = cur
	return s, nil
}

func (f *fakeStore) MarkErased(ctx context.Context, subject, requestID string, _ time.Time) error {
	if err := f.enter(ctx, "MarkErased"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.erased[subject] = requestID
	return nil
}

func (f *fakeStore) DropAliases(ctx context.Context, keys []string) error {
	if err := f.enter(ctx, "DropAliases"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		delete(f.aliases, k)
	}
	return nil
}

// erasePage is how many items one ErasePage deletes, as in the store.
const erasePage = 25

func (f *fakeStore) ErasePage(ctx context.Context, id, subject string) (store.Counts, bool, error) {
	if err := f.enter(ctx, "ErasePage"); err != nil {
		return store.Counts{}, false, err
	}
	f.mu.Lock()
	page := f.items[subject][:min(erasePage, len(f.items[subject]))]
	var c store.Counts
	for _, it := range page {
		switch {
		case strings.HasPrefix(it.sk, "msg#"):
			c.Messages++
		case strings.HasPrefix(it.sk, "status#"):
			c.Statuses++
		case strings.HasPrefix(it.sk, "consent#"):
			c.ConsentEvents++
		default:
			c.Other++
		}
	}
	f.items[subject] = f.items[subject][len(page):]
	f.mu.Unlock()
	if len(page) == 0 {
		return store.Counts{}, false, nil
	}
	err := f.update(id, func(r *store.ErasureRequest) error { r.Counts = r.Counts.Add(c); return nil })
	return c, len(page) == erasePage, err
}

func (f *fakeStore) EraseRecords(ctx context.Context, id string, keys [][2]string) (int, error) {
	if err := f.enter(ctx, "EraseRecords"); err != nil {
		return 0, err
	}
	f.mu.Lock()
	n := 0
	for _, k := range keys {
		if f.rate[k[0]] {
			delete(f.rate, k[0])
			n++
		}
	}
	f.mu.Unlock()
	return n, f.update(id, func(r *store.ErasureRequest) error { r.Counts.RateRecords += n; return nil })
}

func (f *fakeStore) EraseEventRecords(ctx context.Context, subject string) error {
	if err := f.enter(ctx, "EraseEventRecords"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.outbox, subject)
	return nil
}

func (f *fakeStore) Recipients(ctx context.Context, subject string) ([]string, error) {
	if err := f.enter(ctx, "Recipients"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.recipients[subject]), nil
}

func (f *fakeStore) ProveErasure(ctx context.Context, r store.ErasureRequest, recipients []string, at time.Time, u store.Unit) error {
	if err := f.enter(ctx, "ProveErasure"); err != nil {
		return err
	}
	if len(u.Audit) == 0 {
		return errors.New("store: an erasure's proof needs its audit event")
	}
	err := f.update(r.ID, func(cur *store.ErasureRequest) error {
		if cur.Step == stepNotified {
			return fmt.Errorf("prove: %w", store.ErrDuplicate)
		}
		f.proofs++
		cur.Status, cur.Step, cur.AuditEvent = "in_progress", stepNotified, fmt.Sprintf("ev_%d", f.proofs)
		cur.Recipients = nil
		for _, d := range recipients {
			cur.Recipients = append(cur.Recipients, store.ErasureRecipient{Destination: d, NotifiedAt: at})
		}
		return nil
	})
	if err == nil {
		f.mu.Lock()
		f.units = append(f.units, u)
		f.mu.Unlock()
	}
	return err
}

// settle records destination's acknowledgement of request id.
func (f *fakeStore) settle(id, destination string, at time.Time) {
	_ = f.update(id, func(r *store.ErasureRequest) error {
		for i := range r.Recipients {
			if r.Recipients[i].Destination == destination {
				r.Recipients[i].AcknowledgedAt = at
			}
		}
		return nil
	})
}

func (f *fakeStore) FinishErasure(ctx context.Context, id string, at time.Time) (bool, error) {
	if err := f.enter(ctx, "FinishErasure"); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.requests[id]
	switch {
	case !ok:
		return false, store.ErrNotFound
	case r.Status == "completed":
		return true, nil
	case r.Step != stepNotified || !r.NoticesSettled():
		return false, nil
	}
	for _, p := range partitions(&r) {
		delete(f.recipients, p)
	}
	r.Status, r.Step, r.CompletedAt = "completed", stepCompleted, at
	f.requests[id] = r
	delete(f.open, r.Subject)
	f.pending = slices.DeleteFunc(f.pending, func(p string) bool { return p == id })
	return true, nil
}

func (f *fakeStore) partitionsOf(subject string) []string {
	if p, ok := f.parts[subject]; ok {
		return slices.Clone(p)
	}
	return []string{subject}
}

func (f *fakeStore) Partitions(ctx context.Context, subject string) ([]string, error) {
	if err := f.enter(ctx, "Partitions"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.partitionsOf(subject), nil
}

func (f *fakeStore) Messages(ctx context.Context, subject, cursor string, limit int32) ([]store.Message, string, error) {
	if err := f.enter(ctx, "Messages"); err != nil {
		return nil, "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var read []fakeItem
	for _, it := range f.items[subject] {
		if strings.HasPrefix(it.sk, "msg#") && it.sk > cursor && len(read) < int(limit) {
			read = append(read, it)
		}
	}
	msgs := []store.Message{}
	for _, it := range read { // Limit first, then the filter, as DynamoDB
		if !it.expired {
			msgs = append(msgs, *it.msg)
		}
	}
	next := ""
	if len(read) == int(limit) {
		next = read[len(read)-1].sk
	}
	return msgs, next, nil
}

func (f *fakeStore) StatusHistory(ctx context.Context, _ string, lookup string) ([]store.StatusEntry, error) {
	if err := f.enter(ctx, "StatusHistory"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.history[lookup]), nil
}

func (f *fakeStore) Identifiers(ctx context.Context, subject string) ([]store.Identifier, error) {
	if err := f.enter(ctx, "Identifiers"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Identifier
	for _, p := range f.partitionsOf(subject) {
		out = append(out, f.identifiers[p]...)
	}
	return out, nil
}

func (f *fakeStore) Usernames(ctx context.Context, subject string) ([]string, error) {
	if err := f.enter(ctx, "Usernames"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.usernames[subject]), nil
}

func (f *fakeStore) Profile(ctx context.Context, subject string) (store.Profile, error) {
	if err := f.enter(ctx, "Profile"); err != nil {
		return store.Profile{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.profiles[subject]
	if !ok {
		p.Suppressed = map[string]string{}
	}
	if _, ok := f.erased[subject]; ok {
		p.Erased = true
	}
	return p, nil
}

// fakeGate lets "Bearer ops" do everything and "Bearer reader" export
// only, refuses "Bearer flooded" as a flood would (429) and anything else
// 401.
type fakeGate struct {
	calls
}

func (g *fakeGate) Check(ctx context.Context, req events.APIGatewayV2HTTPRequest, scope apiauth.Scope) (apiauth.Principal, error) {
	if err := g.enter(ctx, "Check"); err != nil {
		return apiauth.Principal{}, err
	}
	var p apiauth.Principal
	switch req.Headers["authorization"] {
	case "Bearer ops":
		p = apiauth.Principal{ClientID: "ops", Scopes: []apiauth.Scope{apiauth.ScopeSubjectsErase, apiauth.ScopeSubjectsExport}}
	case "Bearer reader":
		p = apiauth.Principal{ClientID: "reader", Scopes: []apiauth.Scope{apiauth.ScopeSubjectsExport}}
	case "Bearer flooded":
		return p, &httpapi.Problem{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "too many failed requests from this source",
			RetryAfter: 30}
	default:
		return p, &httpapi.Problem{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "a valid API key is required"}
	}
	if !p.Can(scope) {
		return p, &httpapi.Problem{Status: http.StatusForbidden, Code: "insufficient_scope", Message: "the API key does not allow this operation"}
	}
	return p, nil
}

// fakeFinder keys a person by a hash of their identifier, as the blind
// index does, and knows the subjects of known.
type fakeFinder struct {
	calls
	known map[string]bool
}

// keyOf is the fake blind index of a phone number or user id.
func keyOf(identifier string) string {
	s := sha256.Sum256([]byte(identifier))
	return "k" + hex.EncodeToString(s[:6])
}

func (f *fakeFinder) Find(ctx context.Context, w subject.Who) (subject.Subject, error) {
	if err := f.enter(ctx, "Find"); err != nil {
		return subject.Subject{}, err
	}
	id := w.Phone.E164()
	if id == "" {
		id = w.User.Reveal()
	}
	k := keyOf(id)
	return subject.Subject{Key: k, Pseudonym: "p" + k, Known: f.known[k], Keys: []string{k}}, nil
}

// fakeShredder records the subject keys it deletes.
type fakeShredder struct {
	calls
	deleted []string
}

func (f *fakeShredder) DeleteSubjectKey(ctx context.Context, subject string) error {
	if err := f.enter(ctx, "DeleteSubjectKey"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, subject)
	return nil
}

// fakeAudit records the events appended.
type fakeAudit struct {
	calls
	events []audit.Event
}

func (a *fakeAudit) Append(ctx context.Context, ev audit.Event) (audit.Event, error) {
	if err := a.enter(ctx, "Append"); err != nil {
		return audit.Event{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ev.ID = fmt.Sprintf("ev_%d", len(a.events)+1)
	a.events = append(a.events, ev)
	return ev, nil
}

// fakeSender records the messages sent; err, when set, is Send's answer.
type fakeSender struct {
	calls
	sent []*outbound.Message
	err  error
}

func (s *fakeSender) Send(ctx context.Context, m *outbound.Message) (provider.Result, error) {
	if err := s.enter(ctx, "Send"); err != nil {
		return provider.Result{}, err
	}
	if s.err != nil {
		return provider.Result{}, s.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
	return provider.Result{}, nil
}

// fixture is a handler over fakes, with its log and metrics captured.
type fixture struct {
	h       *Handler
	store   *fakeStore
	gate    *fakeGate
	finder  *fakeFinder
	keys    *fakeShredder
	audit   *fakeAudit
	logs    *bytes.Buffer
	metrics *bytes.Buffer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	rec, err := metrics.NewRecorder("erase")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: newFakeStore(), gate: &fakeGate{}, finder: &fakeFinder{known: map[string]bool{}}, keys: &fakeShredder{},
		audit: &fakeAudit{}, logs: &bytes.Buffer{}, metrics: &bytes.Buffer{}}
	f.h = &Handler{Gate: f.gate, Subjects: f.finder, ContactKey: []byte("contact-key"), Store: f.store, Envelope: f.keys,
		Audit: f.audit, Metrics: rec, Log: slog.New(slog.NewJSONHandler(f.logs, nil)), Now: func() time.Time { return t0 },
		MetricsOut: f.metrics}
	return f
}

// quiet discards what the fixture logs, for tests that fail on purpose.
func (f *fixture) quiet() { f.h.Log = slog.New(slog.NewJSONHandler(io.Discard, nil)) }
