package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/envelope"
	"github.com/waguard/waguard/shared/ids"
	"github.com/waguard/waguard/shared/notice"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/store"
)

type env struct {
	h   *Handler
	st  stacktest.Stack
	db  *dynamodb.Client
	key string
	// webhook stores test data (messages, statuses, consents) as the
	// webhook function, which writes them in production (outbound
	// messages too, for its keyword replies): the erase role never does.
	webhook *coldstart.Core
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st := stacktest.Require(t)
	st.AsFunction(t, "EraseFunction")
	stage := strings.TrimSuffix(strings.TrimPrefix(st.DataTable, "waguard-"), "-data")
	for k, v := range map[string]string{"DATA_TABLE": st.DataTable, "KEYS_TABLE": st.KeysTable, "AUDIT_TABLE": st.AuditTable,
		"KMS_KEY_ID": st.KMSKeyID, "INDEX_KEY_SECRET_ID": st.IndexKeySecretID, "PSEUDONYM_KEY_SECRET_ID": st.PseudonymKeySecretID,
		"CLIENT_SECRET_PREFIX": "waguard/" + stage + "/clients/"} {
		t.Setenv(k, v)
	}
	h, err := newHandler()
	if err != nil {
		t.Fatalf("newHandler() err = %v", err)
	}
	h.Log, h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard
	f, err := secrets.NewStore(secretsmanager.NewFromConfig(st.AWS(t)), time.Minute).Get(context.Background(), "waguard/"+stage+"/clients/ops", secrets.StageCurrent)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	webhook, _, err := coldstart.Load(ctx, os.Getenv, "webhook", config.WithCredentialsProvider(st.FunctionCredentials("WebhookFunction")))
	if err != nil {
		t.Fatalf("coldstart.Load(webhook) err = %v", err)
	}
	e := &env{h: h, st: st, db: dynamodb.NewFromConfig(st.AWS(t)), key: string(apiauth.PresentedKey("ops", f.Get("key")).Reveal()),
		webhook: webhook}
	erasedCheck = func(num string) bool {
		p, err := h.Store.Profile(context.Background(), e.subject(t, num))
		return err == nil && p.Erased
	}
	return e
}

var seq = struct {
	sync.Mutex
	n int
}{n: int(time.Now().UnixNano() % 20000)}

// number returns a fresh fictional +1 NXX 555 01xx number that no earlier
// run on this stack erased (a persistent dev stack keeps suppressions).
func number(t testing.TB) (string, string) {
	seq.Lock()
	defer seq.Unlock()
	for range 20000 {
		i := seq.n % 20000
		seq.n += 7919 // a prime stride spreads runs over the space
		s := fmt.Sprintf("+1%d55501%02d", 500+i/100, i%100)
		if _, err := phone.Parse(s); err == nil && !erased(t, s) {
			return s, s
		}
	}
	t.Fatal("no number left")
	return "", ""
}

// erasedCheck is set by newEnv: whether a number was erased on this stack.
var erasedCheck func(string) bool

func erased(t testing.TB, num string) bool {
	return erasedCheck != nil && erasedCheck(num)
}

// store is the handler's store as main builds it, for the checks that
// read more than the handler does.
func (e *env) store() *store.Store { return e.h.Store.(*store.Store) }

func (e *env) subject(t testing.TB, num string) string {
	n, _ := phone.Parse(num)
	s, _ := e.h.Keys.Index(n)
	return s
}

func (e *env) call(t testing.TB, route string, body any, path map[string]string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	raw, _ := json.Marshal(events.APIGatewayV2HTTPRequest{RouteKey: route, Body: string(b), PathParameters: path,
		Headers:        map[string]string{"authorization": "Bearer " + e.key},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "test", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.60"}}})
	out, err := e.handle(t, raw)
	if err != nil {
		t.Fatalf("Handle() err = %v", err)
	}
	resp := out.(events.APIGatewayV2HTTPResponse)
	var m map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &m)
	return resp.StatusCode, m
}

// handle invokes the handler with raw as Lambda would: decoded into an
// Event first.
func (e *env) handle(t testing.TB, raw []byte) (any, error) {
	t.Helper()
	ev, err := decodeEvent(raw)
	if err != nil {
		t.Fatalf("decodeEvent() err = %v", err)
	}
	return e.h.Handle(context.Background(), ev)
}

// seed stores n inbound messages, one outbound and a consent for num.
func (e *env) seed(t testing.TB, num string, n int) []byte {
	subject := e.subject(t, num)
	var body []byte
	for i := 0; i < n; i++ {
		l := hex.EncodeToString(randBytes(10))
		body = []byte("hello " + l)
		if err := e.webhook.Store.PutInbound(context.Background(), store.Inbound{Subject: subject, Lookup: l, Phone: num, ProviderID: "wamid.x" + l,
			ProfileName: "Grace H", Type: "text", Body: body, At: time.Now(), Class: retention.ClassSupport}, store.Unit{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.webhook.Store.RecordConsent(context.Background(), subject, store.ConsentEvent{ID: "cev_" + hex.EncodeToString(randBytes(8)),
		Purpose: "marketing", Action: store.ActionGrant, Method: "api", PolicyVersion: "1", Actor: "test", At: time.Now()}, store.SuppressionLift, "", store.Unit{}); err != nil {
		t.Fatal(err)
	}
	return body
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (e *env) partition(t testing.TB, subject string) []map[string]types.AttributeValue {
	out, err := e.db.Query(context.Background(), &dynamodb.QueryInput{TableName: &e.st.DataTable, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// TestEraseOneSubjectAmongMany erases one subject and checks nothing of
// theirs is left or decryptable, the others are untouched, nothing new is
// stored for them, the proof is there, and the audit chains still verify.
func TestEraseOneSubjectAmongMany(t *testing.T) {
	e := newEnv(t)
	victim, _ := number(t)
	other, _ := number(t)
	e.seed(t, victim, 12)
	e.seed(t, other, 3)
	var kept map[string]types.AttributeValue
	for _, it := range e.partition(t, e.subject(t, victim)) {
		if strings.HasPrefix(it["sk"].(*types.AttributeValueMemberS).Value, "msg#") {
			kept = it
		}
	}
	rl := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "rl#send#to-marketing-" + e.subject(t, victim)},
		"sk": &types.AttributeValueMemberS{Value: "rl"}}
	if _, err := e.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &e.st.DataTable, Item: rl}); err != nil {
		t.Fatal(err)
	}
	status, out := e.call(t, "POST /v1/erasure-requests", map[string]string{"phone": victim, "reason": "user_request"}, nil)
	if status != 202 || !strings.HasPrefix(fmt.Sprint(out["id"]), "er_") || out["due_by"] == nil {
		t.Fatalf("POST /v1/erasure-requests = %d %v", status, out)
	}
	id := fmt.Sprint(out["id"])
	status, got := e.call(t, "GET /v1/erasure-requests/{id}", nil, map[string]string{"id": id})
	counts, _ := got["counts"].(map[string]any)
	if status != 200 || got["status"] != "completed" || counts["messages"] != 12.0 || counts["consent_events"] != 1.0 ||
		counts["subject_key"] != true || !strings.HasPrefix(fmt.Sprint(got["audit_event"]), "ev_") {
		t.Fatalf("GET erasure = %d %v, want completed with 12 messages, 1 consent event, key deleted, audit event", status, got)
	}
	if strings.Contains(fmt.Sprint(got), victim[2:]) {
		t.Errorf("status answer contains the number")
	}
	if counts["rate_and_idempotency_records"] != 1.0 {
		t.Errorf("rate records erased = %v, want 1", counts["rate_and_idempotency_records"])
	}
	if left, _ := e.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &e.st.DataTable, Key: rl}); len(left.Item) != 0 {
		t.Errorf("the subject's rate-limit record survived the erasure")
	}
	if n := len(e.partition(t, e.subject(t, victim))); n != 0 {
		t.Errorf("victim partition has %d items, want 0", n)
	}
	if _, err := e.store().OpenContent(context.Background(), e.subject(t, victim), kept); !errors.Is(err, envelope.ErrSubjectKeyNotFound) {
		t.Errorf("kept ciphertext after erasure: err = %v, want ErrSubjectKeyNotFound", err)
	}
	if n := len(e.partition(t, e.subject(t, other))); n != 6 {
		t.Errorf("other subject has %d items, want 6 (3 messages, window, consent and its id's marker)", n)
	}
	if msgs, _, err := e.h.Store.Messages(context.Background(), e.subject(t, other), "", 10); err != nil || len(msgs) != 3 {
		t.Errorf("other subject's messages = %d (err %v), want 3 decryptable", len(msgs), err)
	}
	if err := e.webhook.Store.PutInbound(context.Background(), store.Inbound{Subject: e.subject(t, victim), Lookup: "late" + id, Phone: victim,
		Type: "text", Body: []byte("x"), At: time.Now(), Class: retention.ClassSupport}, store.Unit{}); !errors.Is(err, store.ErrErased) {
		t.Errorf("a message after erasure: err = %v, want ErrErased", err)
	}
	if p, err := e.h.Store.Profile(context.Background(), e.subject(t, victim)); err != nil || !p.Erased {
		t.Errorf("profile after erasure: erased %v (err %v); the send API refuses erased recipients", p.Erased, err)
	}
	again, out := e.call(t, "POST /v1/erasure-requests", map[string]string{"phone": victim, "reason": "user_request"}, nil)
	if again != 202 || out["id"] == id {
		t.Errorf("a new request after completion = %d %v, want 202 and a new id", again, out)
	}
	e.verifyAudit(t)
}

func (e *env) verifyAudit(t testing.TB) {
	cfg := e.st.AWS(t)
	pub, err := kms.NewFromConfig(cfg).GetPublicKey(context.Background(), &kms.GetPublicKeyInput{KeyId: aws.String(e.st.AuditSigningKeyID)})
	if err != nil {
		t.Fatal(err)
	}
	key, err := audit.ParsePublicKey(pub.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(e.db, &dynamodb.ScanInput{TableName: &e.st.AuditTable})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, page.Items...)
	}
	rep, err := audit.Verify(items, key, audit.VerifyOptions{SealedThrough: audit.SealedThrough(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range rep.Breaks {
		if !strings.HasPrefix(b.Chain, "erase-") {
			continue // other tests of this stack tamper with their own chains on purpose
		}
		t.Errorf("audit break after erasure: %v", b)
	}
}

// stopAfter is the stack's store, failing right after step (a step name,
// or "page": the first page of items deleted), as a crash or timeout there
// would: the step's own write is done, nothing after it.
type stopAfter struct {
	dataStore
	step  string
	pages int
}

var errStopped = errors.New("stopped by the test")

func (s *stopAfter) SetErasureStep(ctx context.Context, id, step string, at time.Time) error {
	if err := s.dataStore.SetErasureStep(ctx, id, step, at); err != nil {
		return err
	}
	if step == s.step {
		return errStopped
	}
	return nil
}

func (s *stopAfter) ErasePage(ctx context.Context, id, subject string) (store.Counts, bool, error) {
	if s.step == "page" && s.pages > 0 {
		return store.Counts{}, false, errStopped
	}
	s.pages++
	return s.dataStore.ErasePage(ctx, id, subject)
}

// TestResumeAfterEachStep stops the processing right after each step, as a
// crash or timeout would, and checks the scheduled resume finishes it with
// exact counts.
func TestResumeAfterEachStep(t *testing.T) {
	for _, stop := range []string{stepSuppressed, "page", stepDeleted, stepKeyDeleted} {
		t.Run(stop, func(t *testing.T) {
			e := newEnv(t)
			victim, _ := number(t)
			e.seed(t, victim, 60)
			stack := e.h.Store
			e.h.Store = &stopAfter{dataStore: stack, step: stop}
			status, out := e.call(t, "POST /v1/erasure-requests", map[string]string{"phone": victim, "reason": "contract_end"}, nil)
			if status != 202 || out["status"] == "completed" {
				t.Fatalf("interrupted request = %d %v, want 202 not completed", status, out)
			}
			id := fmt.Sprint(out["id"])
			e.h.Store = stack
			raw, _ := json.Marshal(map[string]string{"action": "resume_pending_erasures"})
			for i := 0; i < 3; i++ {
				_, _ = e.handle(t, raw) // other tests' requests on this stack may fail; ours is checked below
				if r, _ := e.h.Store.ErasureRequest(context.Background(), id); r.Status == "completed" {
					break
				}
			}
			r, err := e.h.Store.ErasureRequest(context.Background(), id)
			if err != nil || r.Status != "completed" || r.Counts.Messages != 60 || r.Counts.ConsentEvents != 1 || !r.KeyDeleted {
				t.Errorf("after resume: %+v (err %v), want completed with exactly 60 messages and 1 consent event", r, err)
			}
			if n := len(e.partition(t, e.subject(t, victim))); n != 0 {
				t.Errorf("partition has %d items after resume, want 0", n)
			}
		})
	}
}

// TestExportRoundTrip checks what was stored for a subject is exactly what
// the export contains, and a number never seen gets empty lists.
func TestExportRoundTrip(t *testing.T) {
	e := newEnv(t)
	num, _ := number(t)
	body := e.seed(t, num, 3)
	status, out := e.call(t, "POST /v1/exports", map[string]string{"phone": num}, nil)
	if status != 200 || out["format"] != ExportFormat {
		t.Fatalf("export = %d %v", status, out)
	}
	msgs, _ := out["messages"].([]any)
	consents, _ := out["consents"].([]any)
	if len(msgs) != 3 || len(consents) != 1 {
		t.Fatalf("export has %d messages and %d consents, want 3 and 1", len(msgs), len(consents))
	}
	found := false
	for _, m := range msgs {
		mm := m.(map[string]any)
		if mm["phone"] != num || mm["profile_name"] != "Grace H" || !strings.HasPrefix(fmt.Sprint(mm["provider_message_id"]), "wamid.x") {
			t.Errorf("exported message = %v, want the stored number, name and provider id", mm)
		}
		found = found || mm["body"] == string(body)
	}
	if !found {
		t.Errorf("the last stored body is not in the export")
	}
	unknown, _ := number(t)
	status, out = e.call(t, "POST /v1/exports", map[string]string{"phone": unknown}, nil)
	if msgs, _ := out["messages"].([]any); status != 200 || len(msgs) != 0 || out["consents"] == nil {
		t.Errorf("export of an unknown number = %d %v, want 200 with empty lists", status, out)
	}
}

// TestExportNamesTheNotice: a consent entry recorded with a notice is
// exported with the notice's id, and erasing the person leaves the notice
// (the business's text, not the person's data).
func TestExportNamesTheNotice(t *testing.T) {
	e := newEnv(t)
	num, _ := number(t)
	subject := e.subject(t, num)
	text := "Offers from Example Ltd by WhatsApp. " + hex.EncodeToString(randBytes(6))
	if err := e.webhook.Store.RecordConsent(context.Background(), subject, store.ConsentEvent{ID: "cev_" + hex.EncodeToString(randBytes(8)),
		Purpose: "marketing", Action: store.ActionGrant, Method: "web_form", Notice: text, Actor: "test", At: time.Now()}, store.SuppressionLift, "", store.Unit{}); err != nil {
		t.Fatal(err)
	}
	status, out := e.call(t, "POST /v1/exports", map[string]string{"phone": num}, nil)
	consents, _ := out["consents"].([]any)
	if status != 200 || len(consents) != 1 {
		t.Fatalf("export = %d %v, want one consent entry", status, out)
	}
	if c := consents[0].(map[string]any); c["notice_sha256"] != notice.ID(text) || c["policy_version"] != "" {
		t.Errorf("exported consent = %v, want notice_sha256 %s and an empty policy_version", c, notice.ID(text))
	}
	if status, out := e.call(t, "POST /v1/erasure-requests", map[string]string{"phone": num, "reason": "user_request"}, nil); status != 202 {
		t.Fatalf("POST /v1/erasure-requests = %d %v", status, out)
	}
	if n, err := e.webhook.Store.Notice(context.Background(), notice.ID(text)); err != nil || n.Text != text {
		t.Errorf("Notice() after the erasure = %+v, %v; want the notice kept", n, err)
	}
}

// TestLargeSubject erases 5,000 messages across several invocations, each
// with a short deadline, and checks the counts are exact.
func TestLargeSubject(t *testing.T) {
	e := newEnv(t)
	victim, _ := number(t)
	subject := e.subject(t, victim)
	const n = 5000
	for i := 0; i < n; i += 25 {
		var reqs []types.WriteRequest
		for j := i; j < i+25; j++ {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)}, "sk": &types.AttributeValueMemberS{Value: fmt.Sprintf("msg#in#bulk%05d", j)},
				"direction": &types.AttributeValueMemberS{Value: "in"}}}})
		}
		if _, err := e.db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{e.st.DataTable: reqs}}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := e.h.Store.OpenErasure(context.Background(), store.ErasureRequest{ID: ids.New("er_"), Subject: subject,
		Pseudonym: "pseudonym", Reason: "other", RequestedAt: time.Now()}, store.Unit{})
	if err != nil {
		t.Fatal(err)
	}
	invocations := 0
	for ; invocations < 100; invocations++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // 2 s of work after the 3 s reserve
		got, err := e.h.process(ctx, r.ID)
		cancel()
		if err != nil {
			t.Fatalf("process err = %v", err)
		}
		if got.Status == "completed" {
			r = got
			break
		}
	}
	if r.Status != "completed" || r.Counts.Messages != n || invocations < 1 { // invocations counts from 0
		t.Errorf("after %d invocations: %+v, want completed over several invocations with %d messages", invocations+1, r, n)
	}
	t.Logf("5,000 messages erased in %d invocations", invocations+1)
}

// newEnvConfirming is newEnv with the final confirmation configured by
// vars (ERASURE_FINAL_TEXT, ERASURE_FINAL_TEMPLATE), wired as main wires
// it, so the provider token is read as the erase role.
func newEnvConfirming(t *testing.T, vars map[string]string) *env {
	t.Helper()
	st := stacktest.Require(t)
	for k, v := range map[string]string{"PROVIDER_SECRET_ID": st.ProviderSecretID, "WHATSAPP_API_BASE_URL": st.SandboxURL,
		"GRAPH_API_VERSION": "v21.0", "PHONE_NUMBER_ID": "100000000000001"} {
		t.Setenv(k, v)
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	e := newEnv(t)
	if e.h.Confirm == nil {
		t.Fatalf("newHandler() with %v: no confirmation, want one", vars)
	}
	return e
}

// TestFinalConfirmation checks the configured final message is sent once,
// inside the window, before the data goes.
func TestFinalConfirmation(t *testing.T) {
	e := newEnvConfirming(t, map[string]string{"ERASURE_FINAL_TEXT": "Your data is being erased."})
	victim, _ := number(t)
	e.seed(t, victim, 2)
	before := e.st.SandboxSends(t, victim)
	if status, out := e.call(t, "POST /v1/erasure-requests", map[string]string{"phone": victim, "reason": "user_request"}, nil); status != 202 || out["status"] != "completed" {
		t.Fatalf("erasure = %d %v", status, out)
	}
	if got := e.st.SandboxSends(t, victim) - before; got != 1 {
		t.Errorf("confirmations sent = %d, want 1", got)
	}
}

// TestFinalConfirmationFindsTheNumberPastExpiredItems checks the number
// is found when the first stored message has expired but TTL has not
// deleted it yet: the lookup goes on to later pages instead of giving up.
func TestFinalConfirmationFindsTheNumberPastExpiredItems(t *testing.T) {
	e := newEnvConfirming(t, map[string]string{"ERASURE_FINAL_TEMPLATE": "erasure_done:en"})
	victim, _ := number(t)
	subject := e.subject(t, victim)
	old := time.Now().Add(-200 * 24 * time.Hour) // support keeps 180 days
	past := store.New(e.db, e.webhook.Envelope, store.Config{Table: e.st.DataTable, Policy: retention.DefaultPolicy(), Now: func() time.Time { return old }})
	if err := past.PutInbound(context.Background(), store.Inbound{Subject: subject, Lookup: "0000" + hex.EncodeToString(randBytes(8)),
		Phone: victim, ProviderID: "wamid.old", Type: "text", Body: []byte("old"), At: old, Class: retention.ClassSupport}, store.Unit{}); err != nil {
		t.Fatal(err)
	}
	if err := e.webhook.Store.PutInbound(context.Background(), store.Inbound{Subject: subject, Lookup: "ffff" + hex.EncodeToString(randBytes(8)),
		Phone: victim, ProviderID: "wamid.new", Type: "text", Body: []byte("new"), At: time.Now(), Class: retention.ClassSupport}, store.Unit{}); err != nil {
		t.Fatal(err)
	}
	before := e.st.SandboxSends(t, victim)
	if status, out := e.call(t, "POST /v1/erasure-requests", map[string]string{"phone": victim, "reason": "user_request"}, nil); status != 202 || out["status"] != "completed" {
		t.Fatalf("erasure = %d %v", status, out)
	}
	if got := e.st.SandboxSends(t, victim) - before; got != 1 {
		t.Errorf("confirmations sent = %d, want 1", got)
	}
}

// TestExportHasStatusHistory checks an exported outbound message carries
// Meta's error code and its status history (Art. 15: all data held).
func TestExportHasStatusHistory(t *testing.T) {
	e := newEnv(t)
	num, _ := number(t)
	subject := e.subject(t, num)
	ctx := context.Background()
	lookup := hex.EncodeToString(randBytes(10))
	id := "msg_" + strings.ToUpper(hex.EncodeToString(randBytes(6)))
	sent := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	if err := e.webhook.Store.PutOutbound(ctx, store.Outbound{Subject: subject, ID: id, Lookup: lookup, Phone: num, ProviderID: "wamid.s" + lookup,
		Body: []byte(`{"text":"hi"}`), Purpose: retention.ClassTransactional, Status: "accepted", At: sent}, store.Unit{}); err != nil {
		t.Fatal(err)
	}
	for i, st := range []store.Status{{Status: "sent"}, {Status: "delivered"}, {Status: "failed", ErrorCode: 131026}} {
		st.Lookup, st.At = lookup, sent.Add(time.Duration(i+1)*time.Minute)
		if err := e.webhook.Store.ApplyStatus(ctx, subject, "msg#out#"+id, st, store.Unit{}); err != nil {
			t.Fatal(err)
		}
	}
	status, out := e.call(t, "POST /v1/exports", map[string]string{"phone": num}, nil)
	msgs, _ := out["messages"].([]any)
	if status != 200 || len(msgs) != 1 {
		t.Fatalf("export = %d with %d messages, want 200 with 1", status, len(msgs))
	}
	m := msgs[0].(map[string]any)
	if m["status"] != "failed" || m["error_code"] != float64(131026) {
		t.Errorf("exported message status %v error_code %v, want failed 131026", m["status"], m["error_code"])
	}
	hist, _ := m["statuses"].([]any)
	var got []string
	for _, h := range hist {
		hm := h.(map[string]any)
		got = append(got, fmt.Sprint(hm["status"], "@", hm["time"], "#", hm["error_code"]))
	}
	want := []string{
		fmt.Sprint("sent@", sent.Add(time.Minute).Format(time.RFC3339), "#<nil>"),
		fmt.Sprint("delivered@", sent.Add(2*time.Minute).Format(time.RFC3339), "#<nil>"),
		fmt.Sprint("failed@", sent.Add(3*time.Minute).Format(time.RFC3339), "#131026"),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("exported statuses = %v, want %v", got, want)
	}
}

// TestExportPagesBySize exports 500 messages of 4,096 characters that
// JSON escapes twice (the body is a string inside the Lambda response):
// every page must stay within the export's 4 MB budget, well below
// Lambda's 6 MB response limit, and the pages together hold every message
// once. Before, only DynamoDB's 1 MB read bounded a page (4.96 MB on the
// wire here), and the status history now exported is read apart from it.
func TestExportPagesBySize(t *testing.T) {
	e := newEnv(t)
	num, _ := number(t)
	subject := e.subject(t, num)
	text := []byte(strings.Repeat("<", 4096)) // 1 byte stored, 7 on the wire
	const n = 500
	for i := range n {
		l := fmt.Sprintf("%04d", i) + hex.EncodeToString(randBytes(8))
		if err := e.webhook.Store.PutInbound(context.Background(), store.Inbound{Subject: subject, Lookup: l, Phone: num, ProviderID: "wamid.b" + l,
			Type: "text", Body: text, At: time.Now(), Class: retention.ClassSupport}, store.Unit{}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		body := map[string]string{"phone": num}
		if cursor != "" {
			body["cursor"] = cursor
		}
		b, _ := json.Marshal(body)
		raw, _ := json.Marshal(events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/exports", Body: string(b),
			Headers:        map[string]string{"authorization": "Bearer " + e.key},
			RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "test", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.60"}}})
		res, err := e.handle(t, raw)
		if err != nil {
			t.Fatal(err)
		}
		resp := res.(events.APIGatewayV2HTTPResponse)
		wire, _ := json.Marshal(resp) // what Lambda returns: the body string escaped once more
		if len(wire) > 4.5*(1<<20) {
			t.Errorf("page %d: the Lambda response is %.1f MB, want at most 4.5 MB (a 4 MB budget for messages; Lambda refuses above 6 MB)", pages, float64(len(wire))/(1<<20))
		}
		var doc struct {
			Messages   []map[string]any `json:"messages"`
			NextCursor string           `json:"next_cursor"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &doc) != nil {
			t.Fatalf("page %d = %d", pages, resp.StatusCode)
		}
		t.Logf("page %d: %d messages, %.2f MB on the wire", pages, len(doc.Messages), float64(len(wire))/(1<<20))
		for _, m := range doc.Messages {
			id := fmt.Sprint(m["id"])
			if seen[id] {
				t.Fatalf("message %s exported twice", id)
			}
			seen[id] = true
		}
		if cursor = doc.NextCursor; cursor == "" {
			break
		}
		if pages > 20 {
			t.Fatal("export never ends")
		}
	}
	if len(seen) != n {
		t.Errorf("exported %d messages over all pages, want %d", len(seen), n)
	}
}

// TestScheduleWaitsForEndpoints erases a person an endpoint received
// events about: the request waits at notified for the endpoint, the
// schedule's runs meanwhile must not move it back, and the run after the
// acknowledgement completes it. Before, every resume re-ran the finished
// steps, which recorded the step key_deleted over notified, so the
// request never completed.
func TestScheduleWaitsForEndpoints(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	victim, _ := number(t)
	e.seed(t, victim, 2)
	deliveries := store.New(e.db, e.webhook.Envelope, store.Config{Table: e.st.DataTable, Policy: retention.DefaultPolicy()}) // as the events function
	if err := deliveries.RecordRecipient(ctx, e.subject(t, victim), "crm", time.Now()); err != nil {
		t.Fatal(err)
	}
	status, out := e.call(t, "POST /v1/erasure-requests", map[string]string{"phone": victim, "reason": "user_request"}, nil)
	if status != 202 || out["status"] == "completed" {
		t.Fatalf("erasure = %d %v, want 202 waiting for the endpoint", status, out)
	}
	id := fmt.Sprint(out["id"])
	resume, _ := json.Marshal(map[string]string{"action": "resume_pending_erasures"})
	_, _ = e.handle(t, resume) // other tests' requests on this stack may fail; ours is checked below
	if r, err := e.h.Store.ErasureRequest(ctx, id); err != nil || r.Step != stepNotified {
		t.Fatalf("after a resume while the endpoint is silent: step %q (err %v), want %q", r.Step, err, stepNotified)
	}
	if err := deliveries.SetErasureRecipient(ctx, id, "crm", store.RecipientAcknowledged, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, _ = e.handle(t, resume)
	if r, err := e.h.Store.ErasureRequest(ctx, id); err != nil || r.Status != "completed" {
		t.Errorf("after the endpoint acknowledged and a resume: %+v (err %v), want completed", r, err)
	}
}
