package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/internal/apispec"
	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/endpoint"
	wgevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/signature"
	"github.com/waguard/waguard/shared/store"
)

// fakeBus records what the function puts on the bus.
type fakeBus struct {
	mu      sync.Mutex
	entries []map[string]string
	fail    bool
}

func (b *fakeBus) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail {
		return nil, fmt.Errorf("bus down")
	}
	for _, e := range in.Entries {
		b.entries = append(b.entries, map[string]string{"bus": *e.EventBusName, "source": *e.Source, "type": *e.DetailType, "detail": *e.Detail})
	}
	return &eventbridge.PutEventsOutput{}, nil
}

func (b *fakeBus) got() []map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]string(nil), b.entries...)
}

// receiver is an endpoint: it answers the statuses it is given in turn
// (then 200), after delay, and records what it received.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	delay    time.Duration
	got      []received
	// ep verifies what arrives (set by newEndpoint).
	ep endpoint.Endpoint
	// inflight and maxInflight count requests being answered at once.
	inflight, maxInflight int
}

type received struct {
	id, signature string
	body          map[string]any
	// verified: the Standard Webhooks signature checks out.
	verified bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	rc.mu.Lock()
	h := signature.Headers{ID: r.Header.Get("webhook-id"), Timestamp: r.Header.Get("webhook-timestamp"), Signature: r.Header.Get("webhook-signature")}
	rc.got = append(rc.got, received{id: h.ID, signature: h.Signature, body: body, verified: rc.ep.Verify(h, b, time.Now()) == nil})
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	delay := rc.delay
	rc.inflight++
	rc.maxInflight = max(rc.maxInflight, rc.inflight)
	rc.mu.Unlock()
	time.Sleep(delay)
	rc.mu.Lock()
	rc.inflight--
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

type env struct {
	h   *Handler
	st  stacktest.Stack
	bus *fakeBus
	now time.Time
	// webhook writes as the webhook does (the events role only reads).
	webhook *store.Store
}

func newEnv(t *testing.T, eps ...endpoint.Endpoint) *env {
	t.Helper()
	st := stacktest.Require(t)
	st.AsFunction(t, "EventsFunction")
	stage := strings.TrimSuffix(strings.TrimPrefix(st.DataTable, "waguard-"), "-data")
	for k, v := range map[string]string{"DATA_TABLE": st.DataTable, "KEYS_TABLE": st.KeysTable, "AUDIT_TABLE": st.AuditTable,
		"KMS_KEY_ID": st.KMSKeyID, "INDEX_KEY_SECRET_ID": st.IndexKeySecretID, "PSEUDONYM_KEY_SECRET_ID": st.PseudonymKeySecretID,
		"EVENT_BUS_NAME": "waguard-" + stage, "CLIENT_SECRET_PREFIX": "waguard/" + stage + "/clients/", "ENDPOINT_SECRET_PREFIX": "waguard/" + stage + "/endpoints/"} {
		t.Setenv(k, v)
	}
	h, err := newHandler()
	if err != nil {
		t.Fatalf("newHandler() err = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wh, _, err := coldstart.Load(ctx, os.Getenv, "webhook", config.WithCredentialsProvider(st.FunctionCredentials("WebhookFunction")))
	if err != nil {
		t.Fatalf("coldstart.Load(webhook) err = %v", err)
	}
	e := &env{h: h, st: st, bus: &fakeBus{}, now: time.Now(), webhook: wh.Store}
	h.Log, h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard
	h.Bus, h.Endpoints, h.Now = e.bus, fixedEndpoints(eps), func() time.Time { return e.now }
	h.Config.AttemptTimeout, h.Config.RetryCursor = 5*time.Second, "test-"+randHex(6) // a loaded machine must not turn an answer into a timeout
	return e
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// auditID returns a fresh audit event id.
func auditID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "ev_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:26]
}

// fixedEndpoints is a fixed endpoint set.
type fixedEndpoints []endpoint.Endpoint

func (f fixedEndpoints) Load(context.Context) (endpoint.Set, error) {
	return endpoint.Set{Endpoints: f}, nil
}

// newEndpoint serves rc and configures it as an endpoint named name,
// with a fresh signing secret, as the operator's secret would.
func newEndpoint(t *testing.T, name string, rc *receiver, content bool, types ...wgevents.Type) endpoint.Endpoint {
	t.Helper()
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	doc, err := endpoint.NewSecretDocument(srv.URL, types, content)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := endpoint.Parse(name, "v1", doc)
	if err != nil {
		t.Fatalf("endpoint.Parse() err = %v", err)
	}
	rc.ep = ep
	return ep
}

// inbound stores a message and its message.received event record, as the
// webhook does, and returns the stream record of its audit event.
func (e *env) inbound(t *testing.T, subject, text string) events.DynamoDBEventRecord {
	t.Helper()
	id, lookup := auditID(), randHex(10)
	rec := store.EventRecord{AuditID: id, Type: wgevents.TypeMessageReceived, Subject: subject, MessageSK: "msg#in#" + lookup,
		At: e.now, Fields: wgevents.Data{Direction: "in", MessageType: "text", Purpose: "support"}}
	if err := e.webhook.PutInbound(context.Background(), store.Inbound{Subject: subject, Lookup: lookup, Phone: "+12025550142",
		ProviderID: "wamid.e" + lookup, Type: "text", Body: []byte(text), At: e.now, Class: retention.ClassSupport}, store.Unit{Events: []store.EventRecord{rec}}); err != nil {
		t.Fatalf("PutInbound() err = %v", err)
	}
	return streamRecord(id, "message_received")
}

func streamRecord(auditID, typ string) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: auditID,
		NewImage: map[string]events.DynamoDBAttributeValue{"id": events.NewStringAttribute(auditID), "type": events.NewStringAttribute(typ)}}}
}

func (e *env) stream(t *testing.T, recs ...events.DynamoDBEventRecord) events.DynamoDBEventResponse {
	t.Helper()
	raw, _ := json.Marshal(events.DynamoDBEvent{Records: recs})
	out, err := e.h.Handle(context.Background(), raw)
	if err != nil {
		t.Fatalf("Handle(stream) err = %v", err)
	}
	return out.(events.DynamoDBEventResponse)
}

// skipTo moves the retry run's progress to the minute of at, as if the
// runs before had found nothing due (they read one minute each).
func (e *env) skipTo(t *testing.T, at time.Time) {
	t.Helper()
	if err := e.h.Store.SetRetryCursor(context.Background(), e.h.Config.RetryCursor, at.Truncate(time.Minute)); err != nil {
		t.Fatal(err)
	}
}

func (e *env) retry(t *testing.T) RetryResult {
	t.Helper()
	out, err := e.h.Handle(context.Background(), json.RawMessage(`{"action":"retry_deliveries"}`))
	if err != nil {
		t.Fatalf("Handle(retry) err = %v", err)
	}
	return out.(RetryResult)
}

// TestDeliversToBusAndEndpoints sends one inbound message's event: the
// bus gets it without content, a content endpoint with the text and the
// number, a plain endpoint without them; both carry the same event id,
// derived from the audit event, and the contact id.
func TestDeliversToBusAndEndpoints(t *testing.T) {
	withContent, plain := &receiver{}, &receiver{}
	e := newEnv(t)
	e.h.Endpoints = fixedEndpoints{newEndpoint(t, "crm", withContent, true), newEndpoint(t, "bot", plain, false, wgevents.TypeMessageReceived)}
	subject := "events-" + randHex(8)
	rec := e.inbound(t, subject, "where is my order")
	if resp := e.stream(t, rec); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("stream failures = %v, want none", resp.BatchItemFailures)
	}
	id, _ := wgevents.IDFromAudit(rec.Change.NewImage["id"].String())
	bus := e.bus.got()
	if len(bus) != 1 || bus[0]["type"] != "message.received" || bus[0]["source"] != "waguard" || !strings.Contains(bus[0]["detail"], id) {
		t.Fatalf("bus = %v, want one message.received with the event id", bus)
	}
	for _, leak := range []string{"where is my order", "2025550142", "wamid"} {
		if strings.Contains(bus[0]["detail"], leak) {
			t.Errorf("the bus event holds personal data (%d bytes)", len(leak))
		}
	}
	c, p := withContent.all(), plain.all()
	if len(c) != 1 || len(p) != 1 || c[0].id != id || p[0].id != id {
		t.Fatalf("endpoints got %d and %d deliveries, ids %v/%v; want one each with id %s", len(c), len(p), c, p, id)
	}
	if !c[0].verified || !p[0].verified {
		t.Errorf("a delivery's Standard Webhooks signature does not verify")
	}
	data := c[0].body["data"].(map[string]any)
	if data["text"] != "where is my order" || data["phone"] != "+12025550142" || data["contact_id"] != wgevents.ContactID(e.h.ContactKey, subject) {
		t.Errorf("content endpoint data = %v, want the text, the number and the contact id", data)
	}
	if d := p[0].body["data"].(map[string]any); d["text"] != nil || d["phone"] != nil || d["contact_id"] == nil {
		t.Errorf("plain endpoint data = %v, want ids only", d)
	}
	recips, err := e.h.Store.Recipients(context.Background(), subject)
	if err != nil || strings.Join(recips, ",") != "bot,bus,crm" {
		t.Errorf("recipients = %v, %v; want bot, bus and crm", recips, err)
	}
}

// TestEndpointDownThenUp has an endpoint fail its first attempts: the
// bus and the other endpoint get the event at once, the failing one on a
// retry, with the same webhook-id.
func TestEndpointDownThenUp(t *testing.T) {
	down, up := &receiver{statuses: []int{503, 500}}, &receiver{}
	e := newEnv(t)
	e.h.Endpoints = fixedEndpoints{newEndpoint(t, "down", down, false), newEndpoint(t, "up", up, false)}
	rec := e.inbound(t, "events-"+randHex(8), "hi")
	e.stream(t, rec)
	if len(up.all()) != 1 || len(e.bus.got()) != 1 || len(down.all()) != 1 {
		t.Fatalf("first pass: up %d, bus %d, down %d deliveries; want 1 each", len(up.all()), len(e.bus.got()), len(down.all()))
	}
	for i := 0; i < 2; i++ { // past the 5 s and then the 5 min retry
		d, err := e.h.Store.GetDelivery(context.Background(), rec.Change.NewImage["id"].String(), "down")
		if err != nil {
			t.Fatal(err)
		}
		e.now = d.NextAt.Add(time.Second)
		e.skipTo(t, d.NextAt)
		res := e.retry(t)
		if res.Attempted < 1 {
			t.Fatalf("retry %d = %+v, want an attempt", i, res)
		}
	}
	got := down.all()
	if len(got) != 3 || got[0].id != got[2].id {
		t.Fatalf("the failing endpoint got %d attempts (%v), want 3 with one id", len(got), got)
	}
	d, err := e.h.Store.GetDelivery(context.Background(), rec.Change.NewImage["id"].String(), "down")
	if err != nil || d.State != store.DeliveryDelivered || d.Attempts != 3 {
		t.Errorf("delivery = %+v, %v; want delivered after 3 attempts", d, err)
	}
	if len(up.all()) != 1 {
		t.Errorf("the healthy endpoint got %d deliveries, want 1", len(up.all()))
	}
}

// TestDeadLetterAndRedrive has an endpoint that never recovers: after
// the schedule the delivery is a dead letter, counted for the alarm.
func TestDeadLetterAfterTheSchedule(t *testing.T) {
	never := &receiver{statuses: make([]int, 100)}
	for i := range never.statuses {
		never.statuses[i] = 500
	}
	e := newEnv(t)
	e.h.Endpoints = fixedEndpoints{newEndpoint(t, "never", never, false)}
	rec := e.inbound(t, "events-"+randHex(8), "hi")
	e.stream(t, rec)
	id := rec.Change.NewImage["id"].String()
	for i := 0; i < len(retrySchedule)+2; i++ {
		d, err := e.h.Store.GetDelivery(context.Background(), id, "never")
		if err != nil {
			t.Fatal(err)
		}
		if d.State == store.DeliveryDead {
			break
		}
		e.now = d.NextAt.Add(time.Minute)
		e.skipTo(t, d.NextAt) // the runs in between found nothing due
		e.retry(t)
	}
	d, err := e.h.Store.GetDelivery(context.Background(), id, "never")
	if err != nil || d.State != store.DeliveryDead || d.Attempts != len(retrySchedule)+1 || d.LastError != "HTTP 500" {
		t.Fatalf("delivery = %+v, %v; want dead after %d attempts, last error HTTP 500", d, err, len(retrySchedule)+1)
	}
	if n := len(never.all()); n != len(retrySchedule)+1 {
		t.Errorf("endpoint got %d attempts, want %d", n, len(retrySchedule)+1)
	}
	found := false
	for page := store.PageKey(""); ; {
		dead, next, err := e.h.Store.DeadLetters(context.Background(), page)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range dead {
			found = found || (x.AuditID == id && x.Destination == "never")
		}
		if next == "" {
			break
		}
		page = next
	}
	if !found {
		t.Errorf("the dead letter is not listed")
	}
}

// TestErasedBeforeDeliveryIsNeverDelivered erases a person while their
// event waits for a retry: it is dropped, and the endpoint never gets it.
func TestErasedBeforeDeliveryIsNeverDelivered(t *testing.T) {
	rc := &receiver{statuses: []int{503}}
	e := newEnv(t)
	e.h.Endpoints = fixedEndpoints{newEndpoint(t, "crm", rc, true)}
	subject := "events-" + randHex(8)
	rec := e.inbound(t, subject, "secret text")
	e.stream(t, rec)
	if err := e.webhook.MarkErased(context.Background(), subject, "er_TEST", e.now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(time.Minute)
	e.retry(t)
	if n := len(rc.all()); n != 1 {
		t.Fatalf("the endpoint got %d deliveries, want only the first, failed one", n)
	}
	d, err := e.h.Store.GetDelivery(context.Background(), rec.Change.NewImage["id"].String(), "crm")
	if err != nil || d.State != store.DeliveryDropped {
		t.Errorf("delivery = %+v, %v; want dropped", d, err)
	}
}

// TestSlowEndpointDoesNotHoldUpOthers has one endpoint answer after the
// attempt timeout: the other endpoint and the bus get every event of the
// batch, and the slow one is tried once per invocation, not once per event.
func TestSlowEndpointDoesNotHoldUpOthers(t *testing.T) {
	slow, fast := &receiver{delay: time.Second}, &receiver{}
	e := newEnv(t)
	e.h.Config.AttemptTimeout = 300 * time.Millisecond
	e.h.Endpoints = fixedEndpoints{newEndpoint(t, "slow", slow, false), newEndpoint(t, "fast", fast, false)}
	var recs []events.DynamoDBEventRecord
	for range 5 {
		recs = append(recs, e.inbound(t, "events-"+randHex(8), "hi"))
	}
	start := time.Now()
	e.stream(t, recs...)
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("the batch took %v, want the slow endpoint tried once (well under 5 × its delay)", took)
	}
	if len(fast.all()) != 5 || len(e.bus.got()) != 5 {
		t.Errorf("fast endpoint %d, bus %d deliveries; want 5 each", len(fast.all()), len(e.bus.got()))
	}
	if n := len(slow.all()); n != 1 {
		t.Errorf("the slow endpoint was tried %d times in the invocation, want 1", n)
	}
}

// TestSlowEndpointDoesNotHoldUpLaterBatches has an endpoint answer after
// the attempt timeout in one stream invocation: the next invocations of
// the same (warm) instance skip it for a minute instead of waiting for it
// again, so the bus gets their events at once and their deliveries to it
// wait for the retry run, which tries it (and delivers once it answers);
// a minute later the stream tries it again.
func TestSlowEndpointDoesNotHoldUpLaterBatches(t *testing.T) {
	// 2 s: well above what a batch takes on a loaded machine without it.
	slow := &receiver{delay: 3 * time.Second}
	e := newEnv(t)
	e.h.Config.AttemptTimeout = 2 * time.Second
	// Its own name: the retry run also retries other tests' deliveries
	// due in the same minute to an endpoint of the same name.
	e.h.Endpoints = fixedEndpoints{newEndpoint(t, "slow-later", slow, false)}
	e.stream(t, e.inbound(t, "events-"+randHex(8), "hi"))
	second := e.inbound(t, "events-"+randHex(8), "hi")
	start := time.Now()
	e.stream(t, second)
	if took := time.Since(start); took >= e.h.Config.AttemptTimeout {
		t.Errorf("the next batch took %v, want it not to wait for the endpoint that just timed out (%v)", took, e.h.Config.AttemptTimeout)
	}
	if n, bus := len(slow.all()), len(e.bus.got()); n != 1 || bus != 2 {
		t.Errorf("slow endpoint %d, bus %d deliveries; want 1 (the first batch's), 2", n, bus)
	}
	id := second.Change.NewImage["id"].String()
	d, err := e.h.Store.GetDelivery(context.Background(), id, "slow-later")
	if err != nil || d.State != store.DeliveryPending || d.Attempts != 0 || d.LastError != "timeout" {
		t.Fatalf("the next batch's delivery = %+v, %v; want pending, not attempted, last error timeout", d, err)
	}
	slow.mu.Lock()
	slow.delay = 0
	slow.mu.Unlock()
	e.now = d.NextAt.Add(time.Second)
	if d = e.retryUntilSettled(t, id, "slow-later"); d.State != store.DeliveryDelivered {
		t.Errorf("after the retry run, the delivery = %+v; want delivered (the retry run tries a skipped endpoint)", d)
	}
	e.now = e.now.Add(time.Minute)
	third := e.inbound(t, "events-"+randHex(8), "hi")
	e.stream(t, third)
	thirdID, _ := wgevents.IDFromAudit(third.Change.NewImage["id"].String())
	if !slices.ContainsFunc(slow.all(), func(r received) bool { return r.id == thirdID }) {
		t.Errorf("a minute on, the stream did not try the endpoint again")
	}
}

// TestSkippedErasureNoticeIsRetried has an endpoint that received an
// event about a person time out in a stream batch, then the person
// erased: the next batch skips that endpoint for subject.erased too, but
// the notice is not lost: it waits, pending and not counted as an attempt,
// with the erasure request open; the retry run tries it, and once the
// endpoint answers the request records its acknowledgement and completes.
func TestSkippedErasureNoticeIsRetried(t *testing.T) {
	rc := &receiver{}
	e := newEnv(t)
	e.h.Config.AttemptTimeout = 2 * time.Second
	e.h.Endpoints = fixedEndpoints{newEndpoint(t, "slow-erased", rc, false)}
	subject := "events-" + randHex(8)
	e.stream(t, e.inbound(t, subject, "hello")) // a recipient
	rc.mu.Lock()
	rc.delay = 3 * time.Second
	rc.mu.Unlock()
	e.stream(t, e.inbound(t, "events-"+randHex(8), "hi")) // times out
	eraser, req, id, recipients := e.proveErasure(t, subject)
	if !slices.Contains(recipients, "slow-erased") {
		t.Fatalf("recipients = %v, want the endpoint", recipients)
	}
	start := time.Now()
	e.stream(t, streamRecord(id, "data_deletion"))
	if took := time.Since(start); took >= e.h.Config.AttemptTimeout {
		t.Errorf("the notice's batch took %v, want it not to wait for the endpoint that just timed out", took)
	}
	ctx := context.Background()
	d, err := e.h.Store.GetDelivery(ctx, id, "slow-erased")
	if err != nil || d.State != store.DeliveryPending || d.Attempts != 0 {
		t.Fatalf("the notice's delivery = %+v, %v; want pending, not attempted", d, err)
	}
	if done, _ := eraser.FinishErasure(ctx, req.ID, e.now); done {
		t.Fatal("the request completed while its notice to the endpoint was pending")
	}
	rc.mu.Lock()
	rc.delay = 0
	rc.mu.Unlock()
	if d := e.retryUntilSettled(t, id, "slow-erased"); d.State != store.DeliveryDelivered {
		t.Fatalf("the notice's delivery = %+v, want delivered by the retry run", d)
	}
	if done, err := eraser.FinishErasure(ctx, req.ID, e.now); err != nil || !done {
		t.Fatalf("FinishErasure() = %v, %v; want completed once the endpoint acknowledged", done, err)
	}
	evID, _ := wgevents.IDFromAudit(id)
	if !slices.ContainsFunc(rc.all(), func(r received) bool { return r.id == evID && r.body["type"] == "subject.erased" && r.verified }) {
		t.Errorf("the endpoint got no signed subject.erased with the notice's id")
	}
}

// TestErasureNoticeReachesEveryRecipient has a person's event delivered
// to two endpoints, then erases them: subject.erased goes to the bus and
// to the endpoint "crm" even though it subscribes to message.received only
// (Art. 19 obliges the notice), not to one that never received anything
// about them; the endpoint "gone", removed before the erasure, is recorded
// as failed (a dead letter), not waited for; the request lists its
// recipients and completes once crm acknowledged, after a failed first
// attempt, and never while crm is neither acknowledged nor failed.
func TestErasureNoticeReachesEveryRecipient(t *testing.T) {
	crm, other, gone := &receiver{}, &receiver{}, &receiver{}
	e := newEnv(t)
	crmEP := newEndpoint(t, "crm", crm, false, wgevents.TypeMessageReceived)
	otherEP := newEndpoint(t, "other", other, false, wgevents.TypeSubjectErased)
	e.h.Endpoints = fixedEndpoints{crmEP, newEndpoint(t, "gone", gone, false), otherEP}
	subject := "events-" + randHex(8)
	e.stream(t, e.inbound(t, subject, "hello"))
	e.h.Endpoints = fixedEndpoints{crmEP, otherEP} // the operator removes "gone"
	ctx := context.Background()
	eraser, req, id, recipients := e.proveErasure(t, subject)
	if strings.Join(recipients, ",") != "bus,crm,gone" {
		t.Fatalf("recipients before the erasure = %v, want bus, crm and gone", recipients)
	}
	crm.mu.Lock()
	crm.statuses = []int{502}
	crm.mu.Unlock()
	e.stream(t, streamRecord(id, "data_deletion"))
	if r, _ := e.h.Store.ErasureRequest(ctx, req.ID); r.Status == "completed" {
		t.Fatalf("request completed before crm acknowledged: %+v", r.Recipients)
	}
	if d, err := e.h.Store.GetDelivery(ctx, id, "gone"); err != nil || d.State != store.DeliveryDead || d.LastError != "endpoint removed" {
		t.Errorf("delivery to the removed endpoint = %+v, %v; want a dead letter, endpoint removed", d, err)
	}
	e.retryUntilSettled(t, id, "crm")
	if done, err := eraser.FinishErasure(ctx, req.ID, e.now); err != nil || !done { // the erase function's resume
		r, _ := e.h.Store.ErasureRequest(ctx, req.ID)
		t.Fatalf("FinishErasure() = %v, %v with recipients %+v; want completed once crm acknowledged", done, err, r.Recipients)
	}
	r, err := e.h.Store.ErasureRequest(ctx, req.ID)
	if err != nil || r.Status != "completed" {
		t.Fatalf("request = %+v, %v; want completed once the endpoint acknowledged", r, err)
	}
	var names []string
	for _, rc := range r.Recipients {
		names = append(names, rc.Destination)
		switch {
		case rc.NotifiedAt.IsZero():
			t.Errorf("recipient %s = %+v, want notified", rc.Destination, rc)
		case rc.Destination == "crm" && rc.AcknowledgedAt.IsZero():
			t.Errorf("recipient crm = %+v, want acknowledged", rc)
		case rc.Destination == "gone" && (rc.FailedAt.IsZero() || !rc.AcknowledgedAt.IsZero()):
			t.Errorf("recipient gone = %+v, want failed", rc)
		}
	}
	if strings.Join(names, ",") != "bus,crm,gone" {
		t.Errorf("recipients = %v, want bus, crm and gone", names)
	}
	got := crm.all()
	if last := got[len(got)-1]; last.body["type"] != "subject.erased" {
		t.Errorf("the endpoint's last delivery = %v, want subject.erased", last.body)
	}
	if n := len(other.all()); n != 0 {
		t.Errorf("an endpoint that received nothing about the person got %d notices", n)
	}
	if left, _ := e.h.Store.Recipients(ctx, subject); len(left) != 0 {
		t.Errorf("the record of recipients outlived the erasure: %v", left)
	}
}

// proveErasure opens, scopes and proves an erasure of subject as the
// erase function does, and returns that function's store, the request,
// the data_deletion audit id (whose subject.erased record it wrote) and
// the recipients it named.
func (e *env) proveErasure(t *testing.T, subject string) (*store.Store, store.ErasureRequest, string, []string) {
	t.Helper()
	ctx := context.Background()
	eraser := e.storeAs(t, "EraseFunction")
	req, err := eraser.OpenErasure(ctx, store.ErasureRequest{ID: "er_" + strings.ToUpper(randHex(12)), Subject: subject, Reason: "user_request", RequestedAt: e.now}, store.Unit{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eraser.ScopeErasure(ctx, req); err != nil {
		t.Fatal(err)
	}
	recipients, err := e.h.Store.Recipients(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	id := auditID()
	// The proof's audit event is not written: the stack's own events
	// function, which reads the audit stream, must not see this test's
	// erasure (its endpoints are not the test's).
	erased := store.EventRecord{AuditID: id, Type: wgevents.TypeSubjectErased, Subject: subject, At: e.now,
		Fields: wgevents.Data{ErasureRequestID: req.ID}}
	if err := eraser.ProveErasure(ctx, req, recipients, e.now, store.Unit{Events: []store.EventRecord{erased}}); err != nil {
		t.Fatal(err)
	}
	return eraser, req, id, recipients
}

// TestErasureNoticeWaitsForUnreadableEndpoint has the configuration of a
// recipient endpoint unreadable when subject.erased is delivered: the
// notice waits for the retry run (not a dead letter, the request not
// completed) and reaches the endpoint once its configuration reads again.
func TestErasureNoticeWaitsForUnreadableEndpoint(t *testing.T) {
	crm := &receiver{}
	e := newEnv(t)
	crmEP := newEndpoint(t, "crm", crm, false)
	e.h.Endpoints = fixedEndpoints{crmEP}
	subject := "events-" + randHex(8)
	e.stream(t, e.inbound(t, subject, "hello"))
	eraser, req, id, _ := e.proveErasure(t, subject)
	e.h.Endpoints = setSource{Problems: []endpoint.Problem{{Name: "crm", Err: endpoint.ErrUnavailable}}}
	e.stream(t, streamRecord(id, "data_deletion"))
	d, err := e.h.Store.GetDelivery(context.Background(), id, "crm")
	if err != nil || d.State != store.DeliveryPending || d.LastError != "configuration unavailable" {
		t.Fatalf("delivery = %+v, %v; want pending, configuration unavailable", d, err)
	}
	if done, _ := eraser.FinishErasure(context.Background(), req.ID, e.now); done {
		t.Fatal("the request completed while a recipient's configuration was unreadable")
	}
	e.h.Endpoints = fixedEndpoints{crmEP}
	if d := e.retryUntilSettled(t, id, "crm"); d.State != store.DeliveryDelivered {
		t.Fatalf("delivery = %+v, want delivered once the configuration reads", d)
	}
	if done, err := eraser.FinishErasure(context.Background(), req.ID, e.now); err != nil || !done {
		t.Fatalf("FinishErasure() = %v, %v; want completed", done, err)
	}
}

// setSource is a fixed endpoint set, problems included.
type setSource endpoint.Set

func (s setSource) Load(context.Context) (endpoint.Set, error) { return endpoint.Set(s), nil }

// retryUntilSettled runs the retry run at each due time of the delivery
// of event auditID to dest until it is no longer pending (a slow machine
// may make an attempt time out: the schedule then tries again).
func (e *env) retryUntilSettled(t *testing.T, auditID, dest string) store.Delivery {
	t.Helper()
	for range len(retrySchedule) + 1 {
		d, err := e.h.Store.GetDelivery(context.Background(), auditID, dest)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != store.DeliveryPending {
			return d
		}
		e.now = d.NextAt.Add(time.Second)
		e.skipTo(t, d.NextAt)
		e.retry(t)
	}
	t.Fatalf("the delivery to %s is still pending after the whole schedule", dest)
	return store.Delivery{}
}

// storeAs is a store with the credentials of another function.
func (e *env) storeAs(t *testing.T, logicalID string) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	core, _, err := coldstart.Load(ctx, os.Getenv, "test", config.WithCredentialsProvider(e.st.FunctionCredentials(logicalID)))
	if err != nil {
		t.Fatal(err)
	}
	return core.Store
}

// TestDeadLetterRoutes lists a dead letter through the API, redrives it
// once its endpoint recovered (delivered, with the same event id), and
// checks both routes against docs/openapi.yaml.
func TestDeadLetterRoutes(t *testing.T) {
	rc := &receiver{statuses: make([]int, len(retrySchedule)+1)}
	for i := range rc.statuses {
		rc.statuses[i] = 503
	}
	e := newEnv(t)
	e.h.Endpoints = fixedEndpoints{newEndpoint(t, "flaky", rc, false)}
	rec := e.inbound(t, "events-"+randHex(8), "hi")
	e.stream(t, rec)
	aid := rec.Change.NewImage["id"].String()
	if d := e.retryUntilSettled(t, aid, "flaky"); d.State != store.DeliveryDead {
		t.Fatalf("delivery = %+v, want a dead letter", d)
	}
	e.now = time.Now() // the operator redrives now (signatures carry the clock's time)
	api := newReadEnv(t)
	api.h = e.h
	s := apispec.Load(t, "../../docs/openapi.yaml")
	evID, _ := wgevents.IDFromAudit(aid)
	dlID := evID + ".flaky"
	r := api.call(t, "GET /v1/dead-letters", api.key, rid("dl"), nil, nil)
	s.Check(t, "GET /v1/dead-letters", r.status, r.body, r.headers)
	if r.status != 200 {
		t.Fatalf("list = %d %s", r.status, r.raw)
	}
	found := false
	for _, d := range r.body["dead_letters"].([]any) {
		found = found || d.(map[string]any)["id"] == dlID
	}
	if !found && r.body["next_cursor"] == nil {
		t.Fatalf("dead letters = %s, want %s listed", r.raw, dlID)
	}
	r = api.call(t, "POST /v1/dead-letters/{id}/redrive", api.key, rid("redrive"), nil, map[string]string{"id": dlID})
	s.Check(t, "POST /v1/dead-letters/{id}/redrive", r.status, r.body, r.headers)
	if r.status != 200 || r.body["state"] != store.DeliveryDelivered {
		t.Fatalf("redrive = %d %s, want 200 delivered", r.status, r.raw)
	}
	got := rc.all()
	if last := got[len(got)-1]; last.id != evID || !last.verified {
		t.Errorf("redriven delivery id %s verified %v, want %s, verified", last.id, last.verified, evID)
	}
	r = api.call(t, "POST /v1/dead-letters/{id}/redrive", api.key, rid("redrive"), nil, map[string]string{"id": dlID})
	if r.status != 404 {
		t.Errorf("redrive of a delivered event = %d, want 404", r.status)
	}
	s.Check(t, "POST /v1/dead-letters/{id}/redrive", r.status, r.body, r.headers)
}

// TestStreamBatchIsDeliveredConcurrently: the records of one stream batch
// are delivered at once, not one after another (make bench measured 2.5
// events/s and a receipt p99 of a minute with one at a time), each
// exactly once; order is not promised.
func TestStreamBatchIsDeliveredConcurrently(t *testing.T) {
	rc := &receiver{delay: 100 * time.Millisecond}
	e := newEnv(t)
	e.h.Endpoints = fixedEndpoints{newEndpoint(t, "crm", rc, false)}
	var recs []events.DynamoDBEventRecord
	for i := range 8 {
		recs = append(recs, e.inbound(t, "events-"+randHex(8), fmt.Sprintf("hello %d", i)))
	}
	if resp := e.stream(t, recs...); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("stream() failures = %v, want none", resp.BatchItemFailures)
	}
	ids := map[string]int{}
	for _, got := range rc.all() {
		ids[got.id]++
	}
	if len(ids) != 8 || len(rc.all()) != 8 {
		t.Errorf("the endpoint received %d deliveries of %d events, want 8 of 8", len(rc.all()), len(ids))
	}
	rc.mu.Lock()
	most := rc.maxInflight
	rc.mu.Unlock()
	if most < 2 {
		t.Errorf("at most %d deliveries were in flight at once, want the batch's records delivered concurrently", most)
	}
	if n := len(e.bus.got()); n != 8 {
		t.Errorf("the bus got %d events, want 8", n)
	}
}
