package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/deadline"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/store"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestInsufficientScope checks a client without messages:send is refused
// with 403 insufficient_scope, and may still use its own scope.
func TestInsufficientScope(t *testing.T) {
	e := newEnv(t)
	stage := strings.TrimSuffix(strings.TrimPrefix(e.st.DataTable, "waguard-"), "-data")
	id := "reader-" + randomHex(4)
	secret := randomHex(24)
	sm := secretsmanager.NewFromConfig(e.st.AWS(t))
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("waguard/" + stage + "/clients/" + id),
		SecretString: aws.String(`{"kind":"api-client","client_id":"` + id + `","scopes":["consents:read"],"key":"` + secret + `"}`)}); err != nil {
		t.Fatal(err)
	}
	key := string(apiauth.PresentedKey(id, secrets.NewValue([]byte(secret))).Reveal())
	to := number(t)
	if status, out, _ := e.call(t, "POST /v1/messages", key, template(to, "marketing")); status != 403 || code(out) != "insufficient_scope" {
		t.Errorf("send with a read-only key = %d %v, want 403 insufficient_scope", status, out)
	}
	if status, out, _ := e.call(t, "POST /v1/consents/query", key, map[string]string{"phone": to}); status != 200 {
		t.Errorf("query with a read-only key = %d %v, want 200", status, out)
	}
}

// TestFallbackKey checks a refused primary provider token is retried with
// the fallback, and that the send succeeds.
func TestFallbackKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(e.st.AWS(t))
	cur, err := secrets.NewStore(sm, 0).Get(ctx, e.st.ProviderSecretID, secrets.StageCurrent)
	if err != nil {
		t.Fatal(err)
	}
	name := "waguard/test/provider-" + randomHex(4)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name),
		SecretString: aws.String(`{"kind":"provider-credentials","primary":"revoked-` + randomHex(8) + `","fallback":"` +
			string(cur.Get("primary").Reveal()) + `"}`)}); err != nil {
		t.Fatal(err)
	}
	e.h.Outbound.Provider, err = provider.New(secrets.NewStore(sm, 0), provider.Config{SecretID: name, BaseURL: e.st.SandboxURL,
		Version: "v21.0", PhoneNumberID: e.h.Config.PhoneNumberID})
	if err != nil {
		t.Fatal(err)
	}
	to := number(t)
	e.grant(t, to, "marketing")
	if status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing")); status != 202 {
		t.Fatalf("send with a refused primary = %d %v, want 202 through the fallback", status, out)
	}
	if n := e.st.SandboxSends(t, to); n != 1 {
		t.Errorf("sandbox received %d messages, want 1", n)
	}
}

// TestTransientRefusalFreesTheKey checks a throttled send with an
// Idempotency-Key can be retried with the same key once Meta recovers.
func TestTransientRefusalFreesTheKey(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	e.grant(t, to, "marketing")
	injectFault(t, e, to, map[string]any{"code": 130429, "count": 4})
	key := "retry-" + randomHex(6)
	if status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing"), "idempotency-key", key); status != 429 || code(out) != "upstream_rate_limited" {
		t.Fatalf("throttled send = %d %v, want 429 upstream_rate_limited", status, out)
	}
	if status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing"), "idempotency-key", key); status != 202 {
		t.Errorf("retry with the same key = %d %v, want 202", status, out)
	}
}

// TestRevokeAfterErasure checks a revoke for an erased number answers
// 409 subject_erased and stores nothing, while a grant lifts the erasure.
func TestRevokeAfterErasure(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	n, _ := phone.Parse(to)
	subject, _ := e.h.Keys.Index(n)
	db := dynamodb.NewFromConfig(e.st.AWS(t))
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &e.st.DataTable, Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: store.ErasedPK(subject)}, "sk": &types.AttributeValueMemberS{Value: "erased"}}}); err != nil {
		t.Fatal(err)
	}
	revoke := map[string]string{"phone": to, "purpose": "marketing", "action": "revoke", "method": "web_form", "policy_version": "2026-01"}
	if status, out, _ := e.call(t, "POST /v1/consents", e.key, revoke); status != 409 || code(out) != "subject_erased" {
		t.Errorf("revoke after erasure = %d %v, want 409 subject_erased", status, out)
	}
	if status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing")); status != 403 || code(out) != "recipient_suppressed" {
		t.Errorf("send after erasure = %d %v, want 403 recipient_suppressed", status, out)
	}
	e.grant(t, to, "marketing")
	if status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing")); status != 202 {
		t.Errorf("send after a fresh grant = %d %v, want 202", status, out)
	}
}

// TestRequestInProgress checks a duplicate that outwaits the first request
// answers 409 request_in_progress, and that only one message is sent.
func TestRequestInProgress(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	e.grant(t, to, "marketing")
	// Slow, but within the provider call's own timeout (shared/deadline).
	injectFault(t, e, to, map[string]any{"delay_ms": (deadline.Provider.Timeout() - 500*time.Millisecond).Milliseconds()})
	key := "slow-" + randomHex(6)
	first := make(chan int, 1)
	go func() {
		status, _, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing"), "idempotency-key", key)
		first <- status
	}()
	time.Sleep(2 * time.Second) // the first request must have claimed the key, even on a loaded machine
	if status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing"), "idempotency-key", key); status != 409 || code(out) != "request_in_progress" {
		t.Errorf("duplicate during a slow send = %d %v, want 409 request_in_progress", status, out)
	}
	if status := <-first; status != 202 {
		t.Errorf("first request = %d, want 202", status)
	}
	if n := e.st.SandboxSends(t, to); n != 1 {
		t.Errorf("sandbox received %d messages, want 1", n)
	}
}

// TestAuthFlood checks more than 20 failed keys from one source in a
// minute get 429 rate_limited, even with the right key, before any key work.
func TestAuthFlood(t *testing.T) {
	e := newEnv(t)
	ip := "198.51.100." + strconv.Itoa(int(time.Now().UnixNano()%200)+20)
	req := func(key string) int {
		resp, _ := e.h.Handle(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/consents/query",
			Body: `{"phone":"+12015550142"}`, Headers: map[string]string{"authorization": "Bearer " + key},
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: ip}}})
		return resp.StatusCode
	}
	for i := 0; i < 21; i++ {
		if s := req("wg_ops_" + randomHex(24)); s != 401 {
			t.Fatalf("failure %d = %d, want 401", i+1, s)
		}
	}
	if s := req(e.key); s != 429 {
		t.Errorf("right key from a flooding source = %d, want 429", s)
	}
}
