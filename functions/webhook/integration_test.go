package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/redact"
	"github.com/waguard/waguard/shared/store"
)

// newStackHandler builds the handler exactly as main does, against the
// local stack's emulators, with a call counter.
func newStackHandler(t *testing.T) (*Handler, *stacktest.CallCounter, stacktest.Stack) {
	st := stacktest.Require(t)
	st.AsFunction(t, "WebhookFunction")
	for k, v := range map[string]string{"DATA_TABLE": st.DataTable, "KEYS_TABLE": st.KeysTable, "AUDIT_TABLE": st.AuditTable,
		"KMS_KEY_ID": st.KMSKeyID, "INDEX_KEY_SECRET_ID": st.IndexKeySecretID, "PSEUDONYM_KEY_SECRET_ID": st.PseudonymKeySecretID,
		"META_WEBHOOK_SECRET_ID": st.MetaWebhookSecretID, "SIGNED_WEBHOOK_SECRET_ID": st.SignedWebhookSecretID,
		"PHONE_NUMBER_ID": sandbox.DefaultPhoneNumberID} {
		t.Setenv(k, v)
	}
	c := &stacktest.CallCounter{}
	h, err := newHandler(c.Option())
	if err != nil {
		t.Fatalf("newHandler() err = %v, want nil", err)
	}
	h.Log, h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard
	return h, c, st
}

func metaRequest(t *testing.T, h *Handler, body []byte) events.APIGatewayV2HTTPRequest {
	keys, err := h.secretKeys(context.Background(), h.Config.MetaSecretID)
	if err != nil {
		t.Fatalf("secretKeys() err = %v", err)
	}
	return events.APIGatewayV2HTTPRequest{RouteKey: "POST /webhooks/meta", Body: string(body),
		Headers:        map[string]string{"x-hub-signature-256": sandbox.Sign(string(keys[0]), body)},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "test", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.10"}}}
}

// areaCodes are North American area codes whose 555-0100 to 555-0199
// numbers are reserved for fiction (and that libphonenumber accepts).
var areaCodes = []int{201, 202, 203, 205, 206, 207, 208, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228, 229, 231,
	234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270, 276, 281, 301, 302, 303, 304, 305, 307, 308, 309,
	310, 312, 313, 314, 315, 316}

var numberSeq = struct {
	sync.Mutex
	next int
}{next: int(time.Now().UnixNano() % 5000)}

// testNumber returns a fictional wa_id (+1 NXX 555 01xx), a different one
// on every call in this process, so tests never share a data subject.
func testNumber(t *testing.T) string {
	t.Helper()
	numberSeq.Lock()
	defer numberSeq.Unlock()
	for range len(areaCodes) * 100 {
		i := numberSeq.next % (len(areaCodes) * 100)
		numberSeq.next++
		n := fmt.Sprintf("1%d55501%02d", areaCodes[i/100], i%100)
		if _, err := phone.ParseWAID(n); err == nil {
			return n
		}
	}
	t.Fatal("no valid fictional number left")
	return ""
}

// TestInboundWritesPerMessage counts the DynamoDB writes of one inbound
// message through the production wiring: goal ≤ 2 plus the audit write,
// here one transaction holding all three.
func TestInboundWritesPerMessage(t *testing.T) {
	h, c, _ := newStackHandler(t)
	from := testNumber(t)
	wamid := sandbox.NewWAMID(from, false)
	body, err := sandbox.BuildTextEvent(sandbox.Business{AccountID: sandbox.DefaultBusinessAccountID, PhoneNumberID: sandbox.DefaultPhoneNumberID,
		DisplayPhoneNumber: sandbox.DefaultDisplayPhoneNumber}, sandbox.TextEvent{From: from, Body: "hello", Name: "Someone", WAMID: wamid, Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	// A first message creates the subject's key (one more PutItem); the
	// steady state is a known subject, so send twice and count the second.
	if resp, _ := h.Handle(context.Background(), metaRequest(t, h, body)); resp.StatusCode != 200 {
		t.Fatalf("first Handle() = %d %s", resp.StatusCode, resp.Body)
	}
	wamid2 := sandbox.NewWAMID(from, false)
	body, err = sandbox.BuildTextEvent(sandbox.Business{AccountID: sandbox.DefaultBusinessAccountID, PhoneNumberID: sandbox.DefaultPhoneNumberID,
		DisplayPhoneNumber: sandbox.DefaultDisplayPhoneNumber}, sandbox.TextEvent{From: from, Body: "again", WAMID: wamid2, Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	req := metaRequest(t, h, body)
	c.Take()
	resp, _ := h.Handle(context.Background(), req)
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"received":1`) {
		t.Fatalf("Handle() = %d %s, want 200 received 1", resp.StatusCode, resp.Body)
	}
	ops := c.Take()
	writes := ops["PutItem"] + ops["UpdateItem"] + ops["DeleteItem"] + ops["BatchWriteItem"] + ops["TransactWriteItems"]
	if writes != 1 || ops["TransactWriteItems"] != 1 || ops["Decrypt"]+ops["GenerateDataKey"] != 0 {
		t.Errorf("AWS calls per inbound message = %v, want one write transaction (message + window + audit) and no KMS call", ops)
	}
	t.Logf("AWS calls for one inbound message: %v", ops)
}

// attempt is one delivery the sandbox made.
type attempt struct {
	Status int            `json:"status"`
	Body   map[string]any `json:"body"`
}

// deliver asks the sandbox to deliver a signed event through the gateway
// and returns every attempt (more than one with "repeat").
func deliver(t *testing.T, st stacktest.Stack, req map[string]any) []attempt {
	t.Helper()
	b, _ := json.Marshal(req)
	resp, err := http.Post(st.SandboxURL+"/_sandbox/deliver", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("deliver err = %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Attempts []attempt `json:"attempts"`
		Error    any       `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Attempts) == 0 {
		t.Fatalf("deliver(kind %v) answer: %d, error %v, decode err %v", req["kind"], resp.StatusCode, out.Error, err)
	}
	return out.Attempts
}

// TestGatewayInboundIsEncryptedAndStoredOnce delivers a signed message
// three extra times through the local gateway and checks DynamoDB holds
// one item for it and neither the number nor the body in clear.
func TestGatewayInboundIsEncryptedAndStoredOnce(t *testing.T) {
	h, _, st := newStackHandler(t)
	from := testNumber(t)
	text := fmt.Sprintf("my order number is %d", time.Now().UnixNano())
	attempts := deliver(t, st, map[string]any{"kind": "text", "from": from, "text": text, "name": "Ada Lovelace", "repeat": 3})
	for i, a := range attempts {
		want := map[string]any{"received": 0.0, "duplicates": 1.0, "ignored": 0.0}
		if i == 0 {
			want = map[string]any{"received": 1.0, "duplicates": 0.0, "ignored": 0.0}
		}
		if a.Status != 200 || fmt.Sprint(a.Body) != fmt.Sprint(want) {
			t.Errorf("delivery %d = %d %v, want 200 %v", i, a.Status, a.Body, want)
		}
	}
	n, _ := phone.ParseWAID(from)
	subject, _ := h.Keys.Index(n)
	items := partition(t, st, subject)
	msgs := 0
	for _, it := range items {
		if strings.HasPrefix(it["sk"].(*types.AttributeValueMemberS).Value, "msg#in#") {
			msgs++
		}
	}
	if msgs != 1 {
		t.Errorf("inbound items after 4 deliveries = %d, want 1", msgs)
	}
	for _, needle := range []string{text, from, "+" + from, "Ada Lovelace"} {
		if scanFor(t, st, []byte(needle)) {
			t.Errorf("a table holds a personal value in clear (%d bytes)", len(needle))
		}
	}
}

// TestGatewayStopThenStart checks the consent ledger after STOP then START.
func TestGatewayStopThenStart(t *testing.T) {
	h, _, st := newStackHandler(t)
	from := testNumber(t)
	for _, word := range []string{" stop ", "Start"} {
		if a := deliver(t, st, map[string]any{"kind": "text", "from": from, "text": word})[0]; a.Status != 200 || a.Body["received"] != 1.0 {
			t.Fatalf("deliver(%q) = %d %v, want 200 received 1", word, a.Status, a.Body)
		}
		time.Sleep(1100 * time.Millisecond) // distinct message timestamps (seconds)
	}
	n, _ := phone.ParseWAID(from)
	subject, _ := h.Keys.Index(n)
	p, err := h.Store.Profile(context.Background(), subject)
	if err != nil {
		t.Fatalf("Profile() err = %v", err)
	}
	if len(p.Ledger) != 2 || p.Ledger[0].Action != store.ActionRevoke || p.Ledger[1].Action != store.ActionGrant {
		t.Fatalf("ledger = %+v, want revoke then grant", p.Ledger)
	}
	if !p.Consented("marketing") || p.Suppressed["marketing"] != "" {
		t.Errorf("after START: consented %v, suppressed %q; want consent and no suppression", p.Consented("marketing"), p.Suppressed["marketing"])
	}
}

func stacktestStack(t *testing.T) stacktest.Stack { return stacktest.Require(t) }

func partition(t *testing.T, st stacktest.Stack, subject string) []map[string]types.AttributeValue {
	db := dynamodb.NewFromConfig(st.AWS(t))
	out, err := db.Query(context.Background(), &dynamodb.QueryInput{TableName: &st.DataTable,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)}}})
	if err != nil {
		t.Fatalf("Query() err = %v", err)
	}
	return out.Items
}

// scanFor reports whether any table holds needle in a string or binary
// attribute.
func scanFor(t *testing.T, st stacktest.Stack, needle []byte) bool {
	db := dynamodb.NewFromConfig(st.AWS(t))
	for _, table := range []string{st.DataTable, st.KeysTable, st.AuditTable} {
		p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatalf("Scan(%s) err = %v", table, err)
			}
			for _, it := range page.Items {
				if holds(it, needle) {
					return true
				}
			}
		}
	}
	return false
}

func holds(item map[string]types.AttributeValue, needle []byte) bool {
	for _, v := range item {
		switch a := v.(type) {
		case *types.AttributeValueMemberS:
			if bytes.Contains([]byte(a.Value), needle) {
				return true
			}
		case *types.AttributeValueMemberB:
			if bytes.Contains(a.Value, needle) {
				return true
			}
		case *types.AttributeValueMemberM:
			if holds(a.Value, needle) {
				return true
			}
		}
	}
	return false
}

// TestLogsAndMetricsCarryNoPersonalData runs every kind of outcome through
// the production logger and metrics and checks that neither the number,
// the body, the profile name nor the wamid appears.
func TestLogsAndMetricsCarryNoPersonalData(t *testing.T) {
	h, _, _ := newStackHandler(t)
	var logs, emf bytes.Buffer
	h.Log, h.MetricsOut = redact.NewLogger(&logs, slog.LevelDebug), &emf
	p := fill(t, h, "text.json", time.Now())
	h.Handle(context.Background(), metaRequest(t, h, p.body))                                     // stored
	h.Handle(context.Background(), metaRequest(t, h, p.body))                                     // duplicate
	h.Handle(context.Background(), req(p.body, sign([]byte("guess"), p.body), false))             // forged
	h.Handle(context.Background(), req(p.body[:len(p.body)-2], sign([]byte("x"), p.body), false)) // malformed
	out := logs.String() + emf.String()
	if !strings.Contains(logs.String(), `"route":"POST /webhooks/meta"`) {
		t.Fatalf("logs lack the summary lines: %s", logs.String())
	}
	for _, secret := range []string{p.from, p.from[2:], p.wamid, "Where is my order", "Zo"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs or metrics contain personal data (%d chars)", len(secret))
		}
	}
}
