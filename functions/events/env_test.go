package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/bsuid"
	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// readEnv is the events function built as main builds it, on the local stack,
// calling AWS as the EventsFunction role.
type readEnv struct {
	h     *Handler
	st    stacktest.Stack
	key   string
	stage string
	// webhook stores test data as the webhook function, which writes
	// messages in production (outbound ones too, its keyword replies):
	// the events role never does.
	webhook *coldstart.Core
	// stored holds the lookup and provider id of each message stored.
	stored map[string]storedMessage
}

// storedMessage is what a test stored for a message besides its text.
type storedMessage struct{ lookup, providerID string }

func newReadEnv(t testing.TB) *readEnv {
	t.Helper()
	st := stacktest.Require(t)
	st.AsFunction(t, "EventsFunction")
	stage := strings.TrimSuffix(strings.TrimPrefix(st.DataTable, "waguard-"), "-data")
	for k, v := range map[string]string{"DATA_TABLE": st.DataTable, "KEYS_TABLE": st.KeysTable, "AUDIT_TABLE": st.AuditTable,
		"KMS_KEY_ID": st.KMSKeyID, "INDEX_KEY_SECRET_ID": st.IndexKeySecretID, "PSEUDONYM_KEY_SECRET_ID": st.PseudonymKeySecretID,
		"EVENT_BUS_NAME": "waguard-" + stage, "CLIENT_SECRET_PREFIX": "waguard/" + stage + "/clients/",
		"ENDPOINT_SECRET_PREFIX": "waguard/" + stage + "/endpoints/"} {
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
	return &readEnv{h: h, st: st, key: string(apiauth.PresentedKey("ops", f.Get("key")).Reveal()), stage: stage, webhook: webhook,
		stored: map[string]storedMessage{}}
}

// response is an answer of the handler.
type response struct {
	status  int
	body    map[string]any
	raw     string
	headers map[string]string
}

// call serves route with key ("" none) and returns the answer. The
// request id is rid, so a test can find what the request audited.
func (e *readEnv) call(t testing.TB, route, key, rid string, body any, path map[string]string) response {
	t.Helper()
	b, _ := json.Marshal(body)
	if s, ok := body.(string); ok {
		b = []byte(s)
	}
	req := events.APIGatewayV2HTTPRequest{RouteKey: route, Body: string(b), PathParameters: path, Headers: map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: rid, HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.70"}}}
	if body == nil {
		req.Body = ""
	}
	if key != "" {
		req.Headers["authorization"] = "Bearer " + key
	}
	raw, _ := json.Marshal(req)
	out, err := e.h.Handle(context.Background(), raw)
	if err != nil {
		t.Fatalf("Handle(%s) err = %v", route, err)
	}
	resp := out.(events.APIGatewayV2HTTPResponse)
	r := response{status: resp.StatusCode, raw: resp.Body, headers: resp.Headers}
	_ = json.Unmarshal([]byte(resp.Body), &r.body)
	return r
}

func (r response) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// get reads a message by id with the ops key.
func (e *readEnv) get(t testing.TB, id string) response {
	t.Helper()
	return e.call(t, "GET /v1/messages/{id}", e.key, rid("get"), nil, map[string]string{"id": id})
}

// query runs a message query with the ops key.
func (e *readEnv) query(t testing.TB, body map[string]any) response {
	t.Helper()
	return e.call(t, "POST /v1/messages/query", e.key, rid("query"), body, nil)
}

// testIDs writes ids as waguard does (base32, no padding).
var testIDs = base32.StdEncoding.WithPadding(base32.NoPadding)

func rid(prefix string) string { return prefix + "-" + hex.EncodeToString(randBytes(6)) }

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// number returns a fictional +1 8xx/9xx 555 01xx number nothing is stored
// about on this stack yet (the other packages use lower area codes).
func (e *readEnv) number(t testing.TB) phone.Number {
	t.Helper()
	for range 1000 {
		i, _ := rand.Int(rand.Reader, big.NewInt(20000))
		n, err := phone.Parse(fmt.Sprintf("+1%d55501%02d", 800+i.Int64()/100, i.Int64()%100))
		if err != nil {
			continue
		}
		if s, err := e.h.Subjects.Find(context.Background(), subject.Who{Phone: n}); err == nil && !s.Known {
			return n
		}
	}
	t.Fatal("no fictional number left")
	return phone.Number{}
}

func newUserID(t testing.TB) bsuid.ID {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1e18))
	if err != nil {
		t.Fatal(err)
	}
	id, err := bsuid.Parse(fmt.Sprintf("US.%020d", n))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// msgIn is an inbound message as the webhook stores it.
type msgIn struct {
	who                         subject.Who
	username, profileName, text string
	at                          time.Time
	// typ and body, when set, replace "text" and the text.
	typ  string
	body []byte
}

// inbound stores m as the webhook does (found by its identifiers,
// attached in the message's transaction) and returns its message id.
func (e *readEnv) inbound(t testing.TB, m msgIn) string {
	t.Helper()
	sub, a, err := subject.New(e.webhook.Keys, e.webhook.Store).ForWrite(context.Background(), m.who)
	if err != nil {
		t.Fatal(err)
	}
	lookup := hex.EncodeToString(randBytes(12))
	if m.at.IsZero() {
		m.at = time.Now()
	}
	typ, body := cmp.Or(m.typ, "text"), []byte(m.text)
	if m.body != nil {
		body = m.body
	}
	if err := e.webhook.Store.PutInbound(context.Background(), store.Inbound{Subject: sub.Key, Lookup: lookup, Phone: m.who.Phone.E164(),
		UserID: m.who.User.Reveal(), Username: m.username, ProfileName: m.profileName, ProviderID: "wamid.IN" + lookup, Type: typ,
		Body: body, At: m.at, Class: retention.ClassSupport, Also: sub.Keys, Attach: a}, store.Unit{}); err != nil {
		t.Fatalf("PutInbound() err = %v", err)
	}
	id := store.InboundMessageID(lookup)
	e.stored[id] = storedMessage{lookup: lookup, providerID: "wamid.IN" + lookup}
	return id
}

// outbound stores a text sent to who at at, as the webhook's replies are
// (status accepted), and returns its id.
func (e *readEnv) outbound(t testing.TB, who subject.Who, text string, at time.Time) string {
	t.Helper()
	sub, err := subject.New(e.webhook.Keys, e.webhook.Store).Find(context.Background(), who)
	if err != nil {
		t.Fatal(err)
	}
	id := "msg_" + testIDs.EncodeToString(randBytes(15))
	lookup := hex.EncodeToString(randBytes(12))
	if err := e.webhook.Store.PutOutbound(context.Background(), store.Outbound{Subject: sub.Key, ID: id, Lookup: lookup,
		Phone: who.Phone.E164(), UserID: who.User.Reveal(), ProviderID: "wamid.OUT" + lookup, Body: []byte(text), Type: store.OutboundText,
		Purpose: retention.ClassSupport, Status: "accepted", ClientID: "webhook", At: at}, store.Unit{}); err != nil {
		t.Fatalf("PutOutbound() err = %v", err)
	}
	e.stored[id] = storedMessage{lookup: lookup, providerID: "wamid.OUT" + lookup}
	return id
}

// createClient creates an API client with scopes and returns its key.
func (e *readEnv) createClient(t testing.TB, scopes string) string {
	t.Helper()
	id, secret := "reader-"+hex.EncodeToString(randBytes(4)), hex.EncodeToString(randBytes(24))
	sm := secretsmanager.NewFromConfig(e.st.AWS(t))
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("waguard/" + e.stage + "/clients/" + id),
		SecretString: aws.String(`{"kind":"api-client","client_id":"` + id + `","scopes":` + scopes + `,"key":"` + secret + `"}`)}); err != nil {
		t.Fatal(err)
	}
	return string(apiauth.PresentedKey(id, secrets.NewValue([]byte(secret))).Reveal())
}

// messageIDs lists the ids of a query's messages, in order.
func messageIDs(r response) []string {
	var out []string
	msgs, _ := r.body["messages"].([]any)
	for _, m := range msgs {
		out = append(out, m.(map[string]any)["id"].(string))
	}
	return out
}
