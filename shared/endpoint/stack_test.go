package endpoint_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/endpoint"
	"github.com/waguard/waguard/shared/events"
)

// These tests run against the local stack's Secrets Manager emulator and
// sandbox. The loader runs as the events function (its role is enforced
// by iamguard); setup and checks use the stack's unrestricted client.

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// stackLoader returns a loader of prefix calling Secrets Manager as the
// events function, which reloads every period.
func stackLoader(t *testing.T, st stacktest.Stack, prefix string, period time.Duration) *endpoint.Loader {
	t.Helper()
	st.AsFunction(t, "EventsFunction")
	cfg, err := config.LoadDefaultConfig(ctxT(t))
	if err != nil {
		t.Fatalf("LoadDefaultConfig() err = %v", err)
	}
	l, err := endpoint.NewLoader(secretsmanager.NewFromConfig(cfg), prefix)
	if err != nil {
		t.Fatalf("endpoint.NewLoader() err = %v", err)
	}
	endpoint.SetRefreshPeriod(l, period)
	return l
}

// TestLoaderOnStack registers endpoints under a test prefix and loads
// them: a malformed one is reported by name and the others load; a
// changed, a new and a deleted endpoint take effect at the next refresh.
func TestLoaderOnStack(t *testing.T) {
	st := stacktest.Require(t)
	sm := secretsmanager.NewFromConfig(st.AWS(t))
	prefix := "waguard/test/endpoints-" + randomHex(t) + "/"
	create := func(name string, d []byte) string {
		out, err := sm.CreateSecret(ctxT(t), &secretsmanager.CreateSecretInput{Name: aws.String(prefix + name), SecretString: aws.String(string(d))})
		if err != nil {
			t.Fatalf("CreateSecret(%s) err = %v", name, err)
		}
		t.Cleanup(func() {
			_, _ = sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: out.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})
		})
		return aws.ToString(out.ARN)
	}
	crm := create("crm", endpoint.Doc(map[string]any{"types": []string{"message.received"}}))
	typo := create("typo", endpoint.Doc(map[string]any{"url": "http://crm.example.com/hook"}))
	l := stackLoader(t, st, prefix, time.Hour)
	set, err := l.Load(ctxT(t))
	ok, problems := endpoint.Names(set)
	if err != nil || !slices.Equal(ok, []string{"crm"}) || !slices.Equal(problems, []string{"typo"}) {
		t.Fatalf("Load() = %v, problems %v, %v; want [crm], [typo]", ok, problems, err)
	}
	if _, err := sm.PutSecretValue(ctxT(t), &secretsmanager.PutSecretValueInput{SecretId: aws.String(crm),
		SecretString: aws.String(string(endpoint.Doc(map[string]any{"include_content": true}))),
	}); err != nil {
		t.Fatalf("PutSecretValue() err = %v", err)
	}
	create("bot", endpoint.Doc(nil))
	if _, err := sm.DeleteSecret(ctxT(t), &secretsmanager.DeleteSecretInput{SecretId: aws.String(typo), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatalf("DeleteSecret() err = %v", err)
	}
	if set, _ := l.Load(ctxT(t)); len(set.Problems) != 1 {
		t.Errorf("Load() within the period has %d problems, want the cached 1", len(set.Problems))
	}
	endpoint.SetClock(l, func() time.Time { return time.Now().Add(2 * time.Hour) }) // past the period
	set, err = l.Load(ctxT(t))
	ok, problems = endpoint.Names(set)
	if e, _ := set.Get("crm"); err != nil || !slices.Equal(ok, []string{"bot", "crm"}) || len(problems) != 0 || !e.IncludeContent() || !e.Accepts(events.TypeSubjectErased) {
		t.Errorf("Load() after the period = %v, problems %v, crm %v, %v; want [bot crm], none, crm changed", ok, problems, e, err)
	}
}

// TestSandboxEndpoint loads the endpoint "sandbox" that waguard-dev
// registers, signs a delivery with it and posts it to the sandbox, which
// verifies it with the official library.
func TestSandboxEndpoint(t *testing.T) {
	st := stacktest.Require(t)
	if st.SandboxEndpointSecretID == "" {
		t.Fatal("the stack registered no sandbox endpoint (WAGUARD_SANDBOX_ENDPOINT_SECRET_ID): restart it with this waguard-dev")
	}
	set, err := stackLoader(t, st, st.EndpointSecretPrefix, time.Hour).Load(ctxT(t))
	e, found := set.Get("sandbox")
	if err != nil || !found || !e.IncludeContent() || !e.Accepts(events.TypeMessageReceived) || e.URL() != st.SandboxURL+"/_sandbox/endpoint" {
		t.Fatalf("Load() sandbox = %v, found %v, %v; want the sandbox endpoint with content and every type", e, found, err)
	}
	id := "evt_test" + randomHex(t)
	if verified, status := deliver(t, e, id, "message.received"); !verified || status != http.StatusOK {
		t.Fatalf("delivery to the sandbox = verified %v, status %d; want true, 200", verified, status)
	}
	var list []struct {
		ID       string          `json:"id"`
		Type     string          `json:"type"`
		Verified bool            `json:"verified"`
		Data     json.RawMessage `json:"data"`
	}
	resp, err := http.Get(st.SandboxURL + "/_sandbox/deliveries")
	if err != nil {
		t.Fatalf("GET /_sandbox/deliveries err = %v", err)
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&list)
	i := slices.IndexFunc(list, func(d struct {
		ID       string          `json:"id"`
		Type     string          `json:"type"`
		Verified bool            `json:"verified"`
		Data     json.RawMessage `json:"data"`
	}) bool {
		return d.ID == id
	})
	if i < 0 || !list[i].Verified || list[i].Type != "message.received" || !strings.Contains(string(list[i].Data), "ct_TESTENDPOINT") {
		t.Errorf("GET /_sandbox/deliveries has %s at %d, want it verified with its type and data", id, i)
	}
}

// deliver posts one delivery of a test event to e and returns the
// sandbox's verdict and status.
func deliver(t *testing.T, e endpoint.Endpoint, id, typ string) (verified bool, status int) {
	t.Helper()
	body := []byte(`{"type":"` + typ + `","timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `","data":{"contact_id":"ct_TESTENDPOINT"}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := e.NewRequest(ctx, id, time.Now(), body)
	if err != nil {
		t.Errorf("NewRequest() err = %v", err)
		return false, 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("POST endpoint err = %v", err)
		return false, 0
	}
	defer resp.Body.Close()
	var ans struct {
		Verified bool `json:"verified"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&ans)
	return ans.Verified, resp.StatusCode
}

// TestEndpointRotationUnderLoad rotates the sandbox endpoint's signing
// secret through RotateSecret (the stack's rotate bootstrap under the RIE)
// while senders keep delivering through a loader that refreshes often, as
// the events function does every minute: no delivery fails verification
// at the sandbox, whose secrets follow Secrets Manager like a receiver
// that is handed the new secret; afterwards deliveries carry both
// signatures for the overlap.
func TestEndpointRotationUnderLoad(t *testing.T) {
	st := stacktest.Require(t)
	if st.SandboxEndpointSecretID == "" {
		t.Fatal("the stack registered no sandbox endpoint (WAGUARD_SANDBOX_ENDPOINT_SECRET_ID): restart it with this waguard-dev")
	}
	sm := secretsmanager.NewFromConfig(st.AWS(t))
	old := currentSecret(t, sm, st.SandboxEndpointSecretID)
	l := stackLoader(t, st, st.EndpointSecretPrefix, 200*time.Millisecond)
	var sent, failures atomic.Int64
	var last atomic.Pointer[endpoint.Endpoint]
	stop := make(chan struct{})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				set, err := l.Load(ctx)
				e, found := set.Get("sandbox")
				if err != nil || !found {
					t.Errorf("Load() sandbox found %v, %v; want it", found, err)
					return
				}
				last.Store(&e)
				sent.Add(1)
				if verified, _ := deliver(t, e, "evt_rot"+randomHex(t), "rotation.test"); !verified {
					failures.Add(1)
				}
				time.Sleep(20 * time.Millisecond) // a steady load, not a flood of the shared sandbox's records
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := sm.RotateSecret(ctxT(t), &secretsmanager.RotateSecretInput{SecretId: aws.String(st.SandboxEndpointSecretID),
		RotateImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("RotateSecret() err = %v", err)
	}
	time.Sleep(3 * time.Second) // past the sandbox's 2 s cache and many loader refreshes
	close(stop)
	wg.Wait()
	t.Logf("%d deliveries during and after the rotation", sent.Load())
	if failures.Load() != 0 || sent.Load() < 10 {
		t.Errorf("%d of %d deliveries failed verification during the rotation, want 0 of at least 10", failures.Load(), sent.Load())
	}
	var cur struct {
		Secret         string `json:"secret"`
		PreviousSecret string `json:"previous_secret"`
	}
	_ = json.Unmarshal([]byte(currentValue(t, sm, st.SandboxEndpointSecretID)), &cur)
	if cur.Secret == old || cur.PreviousSecret != old {
		t.Fatalf("after RotateSecret: secret changed %v, previous is the old one %v; want both", cur.Secret != old, cur.PreviousSecret == old)
	}
	if e := last.Load(); e == nil || e.PreviousUntil().Before(time.Now()) {
		t.Errorf("the last delivery's endpoint = %v, want it in the rotation overlap (signing with both secrets)", e)
	}
}

func currentValue(t *testing.T, sm *secretsmanager.Client, id string) string {
	t.Helper()
	out, err := sm.GetSecretValue(ctxT(t), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetSecretValue() err = %v", err)
	}
	return aws.ToString(out.SecretString)
}

func currentSecret(t *testing.T, sm *secretsmanager.Client, id string) string {
	t.Helper()
	var v struct {
		Secret string `json:"secret"`
	}
	_ = json.Unmarshal([]byte(currentValue(t, sm, id)), &v)
	return v.Secret
}
