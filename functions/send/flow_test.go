package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/store"
)

// TestSendThenStatusWebhook is the whole path: consent, send, the sandbox
// receives exactly one message, a signed status webhook goes through the
// gateway to the webhook function under the RIE, and the status is stored.
func TestSendThenStatusWebhook(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	e.grant(t, to, "transactional")
	status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "transactional"))
	if status != 202 {
		t.Fatalf("send = %d %v", status, out)
	}
	if n := e.st.SandboxSends(t, to); n != 1 {
		t.Fatalf("sandbox received %d messages, want 1", n)
	}
	wamid := fmt.Sprint(out["provider_message_id"])
	e.deliverStatus(t, wamid, "delivered")
	n, _ := phone.Parse(to)
	subject, _ := e.h.Keys.Index(n)
	db := dynamodb.NewFromConfig(e.st.AWS(t))
	item, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &e.st.DataTable, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)},
			"sk": &types.AttributeValueMemberS{Value: "msg#out#" + fmt.Sprint(out["id"])}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := item.Item["status"].(*types.AttributeValueMemberS).Value; got != "delivered" {
		t.Errorf("stored status = %q, want delivered", got)
	}
}

// deliverStatus has the sandbox post Meta's signed status webhook about
// wamid through the gateway, and checks the webhook stored it.
func (e *env) deliverStatus(t *testing.T, wamid, status string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"kind": "status", "wamid": wamid, "status": status})
	resp, err := http.Post(e.st.SandboxURL+"/_sandbox/deliver", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Status int            `json:"status"`
		Body   map[string]any `json:"body"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if d.Status != 200 || d.Body["received"] != 1.0 {
		t.Fatalf("status webhook = %d %v, want 200 received 1", d.Status, d.Body)
	}
}

// TestCallsPerSend counts AWS calls of a steady-state send (a recipient
// already known): goal ≤ 3 DynamoDB writes and no KMS call.
func TestCallsPerSend(t *testing.T) {
	e := newEnv(t)
	c := &stacktest.CallCounter{}
	h, err := newHandler(c.Option())
	if err != nil {
		t.Fatal(err)
	}
	h.Log, h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard
	e.h = h
	to := number(t)
	e.grant(t, to, "marketing")
	e.call(t, "POST /v1/messages", e.key, template(to, "marketing"))
	c.Take()
	if status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing")); status != 202 {
		t.Fatalf("send = %d %v", status, out)
	}
	ops := c.Take()
	writes := stacktest.Writes(ops)
	if writes > 3 || ops["Decrypt"]+ops["GenerateDataKey"] > 0 {
		t.Errorf("AWS calls per send = %v: %d writes (want ≤ 3) and no KMS call", ops, writes)
	}
	t.Logf("AWS calls per steady-state send: %v", ops)
}

// TestDependencyDown checks a send refuses with 503 and sends nothing when
// DynamoDB or KMS cannot be reached.
func TestDependencyDown(t *testing.T) {
	for _, service := range []string{"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_KMS"} {
		t.Run(service, func(t *testing.T) {
			e := newEnv(t)
			to := number(t)
			e.grant(t, to, "marketing")
			t.Setenv(service, "http://127.0.0.1:1")
			h, err := newHandler()
			if err != nil {
				t.Fatalf("newHandler() err = %v", err)
			}
			h.Log, h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard
			e.h = h
			status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing"))
			if status != 503 || code(out) != "dependency_unavailable" {
				t.Errorf("send with %s down = %d %v, want 503 dependency_unavailable", service, status, out)
			}
			if n := e.st.SandboxSends(t, to); n != 0 {
				t.Errorf("sandbox received %d messages, want 0", n)
			}
		})
	}
}

// TestSecretsManagerDown checks a send refuses with 503 when Secrets
// Manager cannot be read (API keys and provider credentials).
func TestSecretsManagerDown(t *testing.T) {
	e := newEnv(t)
	to := number(t)
	e.grant(t, to, "marketing")
	down := secretsmanager.NewFromConfig(e.st.AWS(t), func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String("http://127.0.0.1:1") })
	store := secrets.NewStore(down, time.Minute)
	auth, err := apiauth.New(store, apiauth.Config{SecretPrefix: e.h.Config.ClientSecretPrefix})
	if err != nil {
		t.Fatal(err)
	}
	prov, err := provider.New(store, provider.Config{SecretID: e.h.Config.Provider.SecretID, BaseURL: e.st.SandboxURL,
		Version: "v21.0", PhoneNumberID: e.h.Config.PhoneNumberID})
	if err != nil {
		t.Fatal(err)
	}
	for name, swap := range map[string]func(h *Handler){
		"api keys":             func(h *Handler) { h.Gate.(*apiauth.Gate).Auth = auth },
		"provider credentials": func(h *Handler) { h.Outbound.Provider = prov },
	} {
		t.Run(name, func(t *testing.T) {
			f := newEnv(t)
			swap(f.h)
			status, out, _ := f.call(t, "POST /v1/messages", f.key, template(to, "marketing"))
			if status != 503 || code(out) != "dependency_unavailable" {
				t.Errorf("send with Secrets Manager down (%s) = %d %v, want 503", name, status, out)
			}
		})
	}
	if n := e.st.SandboxSends(t, to); n != 0 {
		t.Errorf("sandbox received %d messages, want 0", n)
	}
}

// BenchmarkSend measures one steady-state send through the handler on the
// local stack (so it includes loopback round trips to the emulators and
// the sandbox; compare runs, not absolute figures).
func BenchmarkSend(b *testing.B) {
	e := newEnv(b)
	to := number(b)
	e.grant(b, to, "transactional")
	e.h.Config.PerRecipient.Count, e.h.Config.Global.Count = 1_000_000, 1_000_000 // measure the path, not the limits
	b.ReportAllocs()
	b.ResetTimer()
	before := cpuTime(b)
	for range b.N {
		if status, out, _ := e.call(b, "POST /v1/messages", e.key, template(to, "transactional")); status != 202 {
			b.Fatalf("send = %d %v", status, out)
		}
	}
	// This process's CPU only: the emulators and the sandbox run in other
	// processes, so this is the handler's CPU per send without the network.
	b.ReportMetric(float64(cpuTime(b)-before)/float64(b.N), "cpu-ns/op")
}

// cpuTime is this process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
