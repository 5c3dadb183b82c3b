package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"github.com/waguard/waguard/shared/deadline"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/store"
)

// errInjected is the DynamoDB failure the tests inject.
var errInjected = errors.New("injected: DynamoDB unreachable")

// failingDynamoDB makes every DynamoDB call fail while down is set.
func failingDynamoDB(down *atomic.Bool) func(*config.LoadOptions) error {
	return config.WithAPIOptions([]func(*middleware.Stack) error{func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("waguard-fail-dynamodb", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if down.Load() && awsmiddleware.GetServiceID(ctx) == "DynamoDB" {
				return middleware.InitializeOutput{}, middleware.Metadata{}, errInjected
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
	}})
}

// thenDown is a transport that sets down once the provider has accepted a
// message: what the store does next fails.
type thenDown struct{ down *atomic.Bool }

func (d thenDown) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusOK {
		d.down.Store(true)
	}
	return resp, err
}

// faultyHandler is a send handler (a fresh Lambda instance) whose DynamoDB
// calls fail while down is set, and which sets down as soon as the
// provider accepts a message when trip is true.
func faultyHandler(t *testing.T, e *env, down *atomic.Bool, trip bool) *Handler {
	t.Helper()
	h, err := newHandler(failingDynamoDB(down))
	if err != nil {
		t.Fatalf("newHandler() err = %v", err)
	}
	h.Log, h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard
	if trip {
		sm := secretsmanager.NewFromConfig(e.st.AWS(t))
		h.Outbound.Provider, err = provider.New(secrets.NewStore(sm, time.Minute), provider.Config{SecretID: h.Config.Provider.SecretID,
			BaseURL: e.st.SandboxURL, Version: "v21.0", PhoneNumberID: h.Config.PhoneNumberID, HTTP: &http.Client{Transport: thenDown{down}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// callWithin calls h with a deadline, as Lambda gives one: it bounds the
// idempotency lease.
func callWithin(t *testing.T, h *Handler, d time.Duration, key string, body any, idem string) (int, map[string]any, map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return (&env{h: h}).callCtx(ctx, t, "POST /v1/messages", key, body, "idempotency-key", idem)
}

// outbound returns the stored outbound message id of to, or nil.
func (e *env) outbound(t *testing.T, to, id string) map[string]types.AttributeValue {
	t.Helper()
	n, _ := phone.Parse(to)
	subject, err := e.h.Keys.Index(n)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(e.st.AWS(t))
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &e.st.DataTable, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)},
			"sk": &types.AttributeValueMemberS{Value: "msg#out#" + id}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// events returns "type/outcome-or-status" of the audit events whose
// attribute (a path such as details.message) equals value, sorted.
func (e *env) events(t *testing.T, attribute, value string) []string {
	t.Helper()
	db := dynamodb.NewFromConfig(e.st.AWS(t))
	in := &dynamodb.ScanInput{TableName: &e.st.AuditTable, ConsistentRead: aws.Bool(true),
		FilterExpression:          aws.String(attribute + " = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: value}}}
	var got []string
	for {
		out, err := db.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			var d map[string]types.AttributeValue
			if m, ok := it["details"].(*types.AttributeValueMemberM); ok {
				d = m.Value
			}
			word := str(d, "outcome")
			if word == "" {
				word = str(d, "status")
			}
			got = append(got, str(it, "type")+"/"+word)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	slices.Sort(got)
	return got
}

func str(it map[string]types.AttributeValue, name string) string {
	v, _ := it[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// TestAcceptedThenDynamoDBFails is chaos finding 1: the provider accepts
// the message and then DynamoDB fails. The client gets its 202 (the
// message went out, and its record and audit event were written before
// the provider call); the retry with the same key never sends again, and
// once DynamoDB is back the instance confirms the message and the retry
// replays the 202.
func TestAcceptedThenDynamoDBFails(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	e.grant(t, to, "transactional")
	var down atomic.Bool
	h := faultyHandler(t, e, &down, true)
	key := "accepted-then-down-" + to[1:]

	status, out, _ := callWithin(t, h, 10*time.Second, e.key, template(to, "transactional"), key)
	if status != 202 || !down.Load() {
		t.Fatalf("send = %d %v (DynamoDB down: %v), want 202 with DynamoDB failing after the provider", status, out, down.Load())
	}
	id, wamid := fmt.Sprint(out["id"]), fmt.Sprint(out["provider_message_id"])
	if it := e.outbound(t, to, id); str(it, "status") != store.StatusSending || it["lookup"] != nil {
		t.Errorf("stored message = status %q, lookup %v; want the record written before the call (sending, no lookup)", str(it, "status"), it["lookup"])
	}
	if got, want := e.events(t, "details.message", id), []string{"message_sent/submitted"}; !slices.Equal(got, want) {
		t.Errorf("audit events = %v, want %v", got, want)
	}

	// While DynamoDB is down the retry cannot even read the key: 503, and
	// nothing is sent.
	if status, out, _ := callWithin(t, h, 10*time.Second, e.key, template(to, "transactional"), key); status != 503 {
		t.Errorf("retry while DynamoDB is down = %d %v, want 503", status, out)
	}
	down.Store(false)
	status, out, hdr := callWithin(t, h, 10*time.Second, e.key, template(to, "transactional"), key)
	if status != 202 || hdr["Idempotent-Replayed"] != "true" || fmt.Sprint(out["id"]) != id || fmt.Sprint(out["provider_message_id"]) != wamid {
		t.Errorf("retry after recovery = %d %v %v, want the first 202 replayed", status, out, hdr)
	}
	if n := e.st.SandboxSends(t, to); n != 1 {
		t.Errorf("provider got %d messages, want 1", n)
	}
	if it := e.outbound(t, to, id); str(it, "status") != "sent" || it["lookup"] == nil {
		t.Errorf("stored message after recovery = status %q, lookup %v; want sent with its lookup", str(it, "status"), it["lookup"])
	}
}

// TestLostOutcomeIsNotResent: the same fault on an instance that never
// runs again (the repair is lost with it). Another instance answers the
// retry with 409 while the first one's lease holds, then with 502
// provider_error ("outcome unknown"), and never sends a second message.
func TestLostOutcomeIsNotResent(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	e.grant(t, to, "transactional")
	var down atomic.Bool
	first := faultyHandler(t, e, &down, true)
	key := "lost-outcome-" + to[1:]
	// 2 s of the invocation for the send, and the provider call's reserve
	// (shared/deadline) to record it.
	invocation := 2*time.Second + deadline.Provider.Reserve()
	if status, out, _ := callWithin(t, first, invocation, e.key, template(to, "transactional"), key); status != 202 {
		t.Fatalf("send = %d %v, want 202", status, out)
	}
	down.Store(false)
	status, out, _ := callWithin(t, e.h, 10*time.Second, e.key, template(to, "transactional"), key)
	if status != 409 && !(status == 502 && code(out) == "provider_error") {
		t.Errorf("retry within the lease = %d %v, want 409 request_in_progress (or 502 once the lease passed)", status, out)
	}
	time.Sleep(invocation) // the first invocation's deadline, and so its lease, has passed
	status, out, hdr := callWithin(t, e.h, 10*time.Second, e.key, template(to, "transactional"), key)
	if status != 502 || code(out) != "provider_error" || hdr["Idempotent-Replayed"] != "" {
		t.Errorf("retry after the lease = %d %v %v, want 502 provider_error", status, out, hdr)
	}
	if n := e.st.SandboxSends(t, to); n != 1 {
		t.Errorf("provider got %d messages, want 1", n)
	}
}

// TestRefusedSendIsWithdrawn: a message the provider refused was never
// sent, so the record written before the call is deleted and the audit
// trail says it failed.
func TestRefusedSendIsWithdrawn(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	e.grant(t, to, "marketing")
	e.fault(t, map[string]any{"to": to, "code": 131026})
	if status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing")); status != 422 || code(out) != "undeliverable" {
		t.Fatalf("send = %d %v, want 422 undeliverable", status, out)
	}
	n, _ := phone.Parse(to)
	pseudonym, err := e.h.Keys.Pseudonym(n)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.events(t, "subject", pseudonym), []string{"consent_granted/", "message_sent/submitted", "message_status/failed"}; !slices.Equal(got, want) {
		t.Errorf("audit events = %v, want %v", got, want)
	}
	subject, _ := e.h.Keys.Index(n)
	db := dynamodb.NewFromConfig(e.st.AWS(t))
	out, err := db.Query(context.Background(), &dynamodb.QueryInput{TableName: &e.st.DataTable, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :out)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)},
			":out": &types.AttributeValueMemberS{Value: "msg#out#"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 0 {
		t.Errorf("%d outbound messages stored for a refused send, want 0", len(out.Items))
	}
}

// TestLostOutcomeConfirmedByStatus: the send's instance never runs again
// after DynamoDB failed behind Meta's acceptance, so its record stays
// sending, without the wamid. Meta's status webhook carries the message id
// the send gave as callback data; the webhook function (under the RIE,
// through the gateway) then completes the record and stores the status.
func TestLostOutcomeConfirmedByStatus(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	e.grant(t, to, "transactional")
	var down atomic.Bool
	key := "lost-then-status-" + to[1:]
	status, out, _ := callWithin(t, faultyHandler(t, e, &down, true), 10*time.Second, e.key, template(to, "transactional"), key)
	if status != 202 {
		t.Fatalf("send = %d %v, want 202", status, out)
	}
	id, wamid := fmt.Sprint(out["id"]), fmt.Sprint(out["provider_message_id"])
	if it := e.outbound(t, to, id); str(it, "status") != store.StatusSending {
		t.Fatalf("stored status = %q, want sending", str(it, "status"))
	}
	e.deliverStatus(t, wamid, "delivered")
	it := e.outbound(t, to, id)
	if str(it, "status") != "delivered" || it["lookup"] == nil {
		t.Errorf("stored message = status %q, lookup %v; want delivered with its lookup", str(it, "status"), it["lookup"])
	}
	n, _ := phone.Parse(to)
	subject, _ := e.h.Keys.Index(n)
	c, err := e.h.Store.OutboundContent(context.Background(), subject, id)
	if err != nil || c.ProviderID != wamid {
		t.Errorf("stored provider id matches the wamid: %v (err %v), want true", c.ProviderID == wamid, err)
	}
	if got := e.events(t, "details.message", id); !slices.Equal(got, []string{"message_sent/submitted"}) {
		t.Errorf("audit events = %v", got)
	}
	// The status also completed the key: the retry replays the 202.
	status, out, hdr := callWithin(t, e.h, 10*time.Second, e.key, template(to, "transactional"), key)
	if status != 202 || hdr["Idempotent-Replayed"] != "true" || fmt.Sprint(out["id"]) != id || fmt.Sprint(out["provider_message_id"]) != wamid {
		t.Errorf("retry after the status = %d %v %v, want the 202 replayed", status, out, hdr)
	}
	if n := e.st.SandboxSends(t, to); n != 1 {
		t.Errorf("provider got %d messages, want 1", n)
	}
}
