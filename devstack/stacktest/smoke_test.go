package stacktest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/internal/samtemplate"
	"github.com/waguard/waguard/shared/secrets"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// stage is read back from a table name, e.g. waguard-dev-data → dev.
func template(t *testing.T, st stacktest.Stack) *samtemplate.Template {
	t.Helper()
	stage := strings.TrimSuffix(strings.TrimPrefix(st.DataTable, "waguard-"), "-data")
	tpl, err := samtemplate.Load("../../template.yaml", samtemplate.Resolver{Params: map[string]string{"Stage": stage}})
	if err != nil {
		t.Fatalf("Load(template.yaml) err = %v, want nil", err)
	}
	return tpl
}

// TestStackProvisionedFromTemplate checks that every table, key and
// secret the template declares exists on the emulators, as declared.
func TestStackProvisionedFromTemplate(t *testing.T) {
	st := stacktest.Require(t)
	cfg, ctx := st.AWS(t), ctxT(t)
	tpl := template(t, st)
	ddb := dynamodb.NewFromConfig(cfg)
	for id, tb := range tpl.CFN.GetAllDynamoDBTableResources() {
		t.Run(id, func(t *testing.T) {
			out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: tb.TableName})
			if err != nil {
				t.Fatalf("DescribeTable(%s) err = %v, want nil", *tb.TableName, err)
			}
			if got, want := len(out.Table.GlobalSecondaryIndexes), len(tb.GlobalSecondaryIndexes); got != want {
				t.Errorf("GSIs = %d, want %d", got, want)
			}
			if (tb.StreamSpecification != nil) != (out.Table.StreamSpecification != nil && aws.ToBool(out.Table.StreamSpecification.StreamEnabled)) {
				t.Errorf("stream enabled mismatch with template")
			}
			ttl, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: tb.TableName})
			if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled {
				t.Errorf("TTL status = %v (err %v), want ENABLED", ttl, err)
			}
		})
	}
	k := kms.NewFromConfig(cfg)
	for _, alias := range []string{st.KMSKeyID, st.AuditSigningKeyID} {
		if _, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)}); err != nil {
			t.Errorf("DescribeKey(%s) err = %v, want nil", alias, err)
		}
	}
	rot, err := k.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(keyID(t, k, st.KMSKeyID))})
	if err != nil || !rot.KeyRotationEnabled {
		t.Errorf("data key rotation = %v (err %v), want enabled", rot, err)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	for id, s := range tpl.CFN.GetAllSecretsManagerSecretResources() {
		if _, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: s.Name}); err != nil {
			t.Errorf("DescribeSecret(%s) err = %v, want nil", id, err)
		}
	}
	for id, rs := range tpl.CFN.GetAllSecretsManagerRotationScheduleResources() {
		name := strings.TrimSuffix(strings.TrimPrefix(rs.SecretId, "Ref("), ")")
		secret := tpl.CFN.GetAllSecretsManagerSecretResources()[name]
		out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: secret.Name})
		if err != nil || !aws.ToBool(out.RotationEnabled) {
			t.Errorf("%s: rotation enabled = %v (err %v), want true", id, out != nil && aws.ToBool(out.RotationEnabled), err)
		}
	}
}

func keyID(t *testing.T, k *kms.Client, alias string) string {
	out, err := k.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	if err != nil {
		t.Fatalf("DescribeKey(%s) err = %v", alias, err)
	}
	return aws.ToString(out.KeyMetadata.KeyId)
}

// TestHandshakeThroughGateway is the end-to-end path of the foundation:
// gateway → RIE → webhook bootstrap → Secrets Manager emulator and
// DynamoDB Local.
func TestHandshakeThroughGateway(t *testing.T) {
	st := stacktest.Require(t)
	ctx := ctxT(t)
	f, err := secrets.NewStore(secretsmanager.NewFromConfig(st.AWS(t)), time.Second).Get(ctx, st.MetaWebhookSecretID, secrets.StageCurrent)
	if err != nil {
		t.Fatalf("read verify token: err = %v", err)
	}
	token := string(f.Get("verify_token").Reveal())
	tests := []struct {
		name, token, mode string
		want              int
	}{
		{"valid", token, "subscribe", 200},
		{"wrong token", token + "x", "subscribe", 403},
		{"wrong mode", token, "unsubscribe", 403},
		{"no token", "", "subscribe", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"hub.mode": {tc.mode}, "hub.verify_token": {tc.token}, "hub.challenge": {"8675309"}}
			status, body := get(t, st.GatewayURL+"/webhooks/meta?"+q.Encode())
			if status != tc.want {
				t.Fatalf("GET /webhooks/meta status = %d, want %d", status, tc.want)
			}
			if tc.want == 200 && body != "8675309" {
				t.Errorf("body = %q, want the challenge", body)
			}
			if tc.want == 403 && !strings.Contains(body, `"code":"verification_failed"`) {
				t.Errorf("body = %q, want the error document", body)
			}
			if strings.Contains(body, token) {
				t.Errorf("response leaks the verify token")
			}
		})
	}
}

// TestGatewayServesTemplateRoutes checks every template route reaches its
// function and anything else gets API Gateway's 404.
func TestGatewayServesTemplateRoutes(t *testing.T) {
	st := stacktest.Require(t)
	for _, r := range template(t, st).Routes() {
		path := strings.ReplaceAll(r.Path, "{id}", "er_test")
		req, _ := http.NewRequest(r.Method, st.GatewayURL+path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s err = %v", r.Method, path, err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound && resp.Header.Get("Content-Type") == "application/json" && r.Method != "GET" {
			t.Errorf("%s %s status = 404, want the function's answer", r.Method, path)
		}
	}
	if status, _ := get(t, st.GatewayURL+"/no/such/route"); status != http.StatusNotFound {
		t.Errorf("unknown route status = %d, want 404", status)
	}
}

// TestConcurrentRequestsScaleOut checks the gateway hands concurrent
// requests to several RIE instances, as Lambda scales out.
func TestConcurrentRequestsScaleOut(t *testing.T) {
	st := stacktest.Require(t)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, _ := get(t, st.GatewayURL+"/webhooks/meta?hub.mode=subscribe"); status != 403 {
				t.Errorf("status = %d, want 403", status)
			}
		}()
	}
	wg.Wait()
	_, body := get(t, st.GatewayURL+"/_local/health")
	var h struct{ Instances map[string]int }
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("health = %q: %v", body, err)
	}
	if n := h.Instances["WebhookFunction"]; n < 2 {
		t.Errorf("webhook instances = %d, want ≥ 2 after 16 concurrent requests", n)
	}
}

// TestSandboxAcceptsProviderToken checks the WhatsApp sandbox accepts the
// provider token provisioned in Secrets Manager and records the send.
func TestSandboxAcceptsProviderToken(t *testing.T) {
	st := stacktest.Require(t)
	ctx := ctxT(t)
	f, err := secrets.NewStore(secretsmanager.NewFromConfig(st.AWS(t)), time.Second).Get(ctx, st.ProviderSecretID, secrets.StageCurrent)
	if err != nil {
		t.Fatalf("read provider secret: err = %v", err)
	}
	body := []byte(`{"messaging_product":"whatsapp","to":"447700900555","type":"text","text":{"body":"smoke"}}`)
	for _, tc := range []struct {
		name, token string
		want        int
	}{{"provisioned token", string(f.Get("primary").Reveal()), 200}, {"wrong token", "nope", 401}} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", st.SandboxURL+"/v21.0/"+phoneNumberID(t, st)+"/messages", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tc.token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("send err = %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("send status = %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

func phoneNumberID(t *testing.T, st stacktest.Stack) string {
	for _, f := range template(t, st).Functions() {
		return f.Env["PHONE_NUMBER_ID"]
	}
	t.Fatal("no functions in template")
	return ""
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET err = %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
