package iamguard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/waguard/waguard/internal/samtemplate"
)

func TestAllows(t *testing.T) {
	p := Policy{
		{Actions: []string{"dynamodb:GetItem", "dynamodb:Query"}, Resources: []string{"arn:t/data", "arn:t/data/index/*"}},
		{Actions: []string{"dynamodb:PutItem"}, Resources: []string{"arn:t/audit"}},
	}
	tests := []struct {
		action, resource string
		want             bool
	}{
		{"dynamodb:GetItem", "arn:t/data", true},
		{"DynamoDB:getitem", "arn:t/data", true},
		{"dynamodb:Query", "arn:t/data/index/by-day", true},
		{"dynamodb:PutItem", "arn:t/data", false},
		{"dynamodb:PutItem", "arn:t/audit", true},
		{"dynamodb:DeleteItem", "arn:t/audit", false},
		{"dynamodb:GetItem", "arn:t/audit", false},
	}
	for _, tt := range tests {
		if got := p.Allows(tt.action, tt.resource); got != tt.want {
			t.Errorf("Allows(%s, %s) = %v, want %v", tt.action, tt.resource, got, tt.want)
		}
	}
}

// loadTemplate reads the repository's template with the local stack's
// table ARNs.
func loadTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	r := samtemplate.Resolver{Attrs: map[string]string{}, Refs: map[string]string{}}
	for id, name := range map[string]string{"DataTable": "waguard-dev-data", "KeysTable": "waguard-dev-keys", "AuditTable": "waguard-dev-audit"} {
		r.Refs[id], r.Attrs[id+".Arn"] = name, DefaultTablePrefix+name
	}
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"), r)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// TestTemplatePolicies reads every function's role from template.yaml and
// spot-checks what the product relies on.
func TestTemplatePolicies(t *testing.T) {
	policies, err := Policies(loadTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"WebhookFunction", "SendFunction", "EraseFunction", "RetentionFunction", "RotateFunction"} {
		p, ok := policies[AccessKey(id)]
		if !ok || len(p) == 0 {
			t.Fatalf("no policy for %s", id)
		}
		audit := DefaultTablePrefix + "waguard-dev-audit"
		if !p.Allows("dynamodb:PutItem", audit) {
			t.Errorf("%s cannot append to the audit table", id)
		}
		for _, a := range []string{"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} {
			if p.Allows(a, audit) {
				t.Errorf("%s may %s the audit table, which is append-only", id, a)
			}
		}
	}
	branch := map[string]string{"kms:EncryptionContext:purpose": "waguard-branch-key"}
	for id, action := range map[string]string{"WebhookFunction": "kms:GenerateDataKey", "SendFunction": "kms:GenerateDataKey",
		"EraseFunction": "kms:Decrypt"} {
		p := policies[AccessKey(id)]
		data := "GetAtt(DataKey.Arn)" // not provisioned here: the placeholder samtemplate resolves to
		if !p.AllowsWith(action, data, branch) || p.AllowsWith(action, data, nil) {
			t.Errorf("%s: %s on the data key must need the branch-key encryption context", id, action)
		}
	}
	send := policies[AccessKey("SendFunction")]
	if !send.Allows("dynamodb:DeleteItem", DefaultTablePrefix+"waguard-dev-data") {
		t.Error("SendFunction cannot delete in the data table (idempotency Release, a refused message's withdrawal)")
	}
}

func TestPoliciesRefuseWhatTheyCannotRead(t *testing.T) {
	for name, doc := range map[string]string{
		"managed policy":  "      Policies:\n        - AWSLambdaBasicExecutionRole\n",
		"SAM template":    "      Policies:\n        - DynamoDBCrudPolicy:\n            TableName: t\n",
		"deny statement":  "      Policies:\n        - Statement:\n            - Effect: Deny\n              Action: dynamodb:*\n              Resource: '*'\n",
		"other condition": "      Policies:\n        - Statement:\n            - Effect: Allow\n              Action: kms:Decrypt\n              Resource: '*'\n              Condition:\n                StringLike:\n                  kms:EncryptionContext:purpose: 'w*'\n",
	} {
		t.Run(name, func(t *testing.T) {
			src := "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n" + doc
			tpl, err := samtemplate.Parse([]byte(src), samtemplate.Resolver{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Policies(tpl); err == nil {
				t.Error("Policies() err = nil, want a refusal")
			}
		})
	}
}

func TestNeeds(t *testing.T) {
	p := &Proxy{}
	arn := func(n string) string { return DefaultTablePrefix + n }
	tests := []struct {
		name, target, body string
		want               []need
	}{
		{"get", "DynamoDB_20120810.GetItem", `{"TableName":"d","Key":{}}`, []need{{"dynamodb:GetItem", arn("d")}}},
		{"query an index", "DynamoDB_20120810.Query", `{"TableName":"d","IndexName":"by-lookup"}`,
			[]need{{"dynamodb:Query", arn("d") + "/index/by-lookup"}}},
		{"transaction", "DynamoDB_20120810.TransactWriteItems",
			`{"TransactItems":[{"ConditionCheck":{"TableName":"d"}},{"Put":{"TableName":"d"}},{"Update":{"TableName":"d"}},{"Delete":{"TableName":"d"}},{"Put":{"TableName":"a"}}]}`,
			[]need{{"dynamodb:ConditionCheckItem", arn("d")}, {"dynamodb:PutItem", arn("d")}, {"dynamodb:UpdateItem", arn("d")},
				{"dynamodb:DeleteItem", arn("d")}, {"dynamodb:PutItem", arn("a")}}},
		{"batch", "DynamoDB_20120810.BatchWriteItem", `{"RequestItems":{"d":[]}}`, []need{{"dynamodb:BatchWriteItem", arn("d")}}},
		{"no table", "DynamoDB_20120810.ListTables", `{}`, []need{{"dynamodb:ListTables", "*"}}},
		{"describe stream", "DynamoDBStreams_20120810.DescribeStream", `{"StreamArn":"` + arn("d") + `/stream/1"}`,
			[]need{{"dynamodb:DescribeStream", arn("d") + "/stream/1"}}},
		{"shard iterator", "DynamoDBStreams_20120810.GetShardIterator", `{"StreamArn":"` + arn("d") + `/stream/1","ShardId":"s"}`,
			[]need{{"dynamodb:GetShardIterator", arn("d") + "/stream/1"}}},
		{"records, DynamoDB Local's iterator", "DynamoDBStreams_20120810.GetRecords", `{"ShardIterator":"` + arn("d") + `/stream/1|001|c2g="}`,
			[]need{{"dynamodb:GetRecords", arn("d") + "/stream/1"}}},
		{"records, opaque iterator", "DynamoDBStreams_20120810.GetRecords", `{"ShardIterator":"AAAAxyz"}`,
			[]need{{"dynamodb:GetRecords", "*"}}},
		{"list streams", "DynamoDBStreams_20120810.ListStreams", `{"TableName":"d"}`, []need{{"dynamodb:ListStreams", "*"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.needs(tt.target, []byte(tt.body))
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("needs() = %v, %v; want %v", got, err, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("needs()[%d] = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
	for _, bad := range []struct{ target, body string }{
		{"Other.GetItem", `{}`}, {"DynamoDB_20120810.GetItem", `{`}, {"DynamoDBStreams_20120810.GetRecords", `[`},
		{"DynamoDB_20120810.TransactWriteItems", `{"TransactItems":[{"Smuggle":{"TableName":"d"}}]}`},
	} {
		if _, err := p.needs(bad.target, []byte(bad.body)); err == nil {
			t.Errorf("needs(%s, %s) err = nil, want an error", bad.target, bad.body)
		}
	}
}

// TestProxy runs SDK clients through the proxy to a recording target: a
// restricted caller's allowed call reaches the target under the shared
// key, a refused one never does and the SDK sees AccessDeniedException;
// other callers pass untouched.
func TestProxy(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, credential.FindStringSubmatch(r.Header.Get("Authorization"))[1]+" "+r.Header.Get("X-Amz-Target")+" "+string(body[:min(len(body), 20)]))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{}`)
	}))
	defer target.Close()
	u, _ := url.Parse(target.URL)
	var denied []string
	roles := &Roles{}
	roles.Set(map[string]Policy{"role-a": {{Actions: []string{"dynamodb:GetItem"}, Resources: []string{DefaultTablePrefix + "d"}}}})
	p := &Proxy{Target: u, SharedKey: "local", Roles: roles, Denied: func(principal, action, resource string) {
		denied = append(denied, principal+" "+action+" "+resource)
	}}
	srv := httptest.NewServer(p)
	defer srv.Close()
	client := func(key string) *dynamodb.Client {
		return dynamodb.New(dynamodb.Options{Region: "eu-west-2", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider(key, "secret", ""), RetryMaxAttempts: 1})
	}
	ctx := context.Background()
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "x"}}
	if _, err := client("role-a").GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("d"), Key: key}); err != nil {
		t.Errorf("allowed GetItem err = %v", err)
	}
	_, err := client("role-a").PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("d"), Item: key})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" || !strings.Contains(api.ErrorMessage(), "dynamodb:PutItem") {
		t.Errorf("refused PutItem err = %v, want AccessDeniedException naming dynamodb:PutItem", err)
	}
	if _, err := client("someone").PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("d"), Item: key}); err != nil {
		t.Errorf("unrestricted PutItem err = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || !strings.HasPrefix(seen[0], "local DynamoDB_20120810.GetItem") || !strings.HasPrefix(seen[1], "local DynamoDB_20120810.PutItem") {
		t.Errorf("target saw %q, want the allowed GetItem and the unrestricted PutItem, both under the shared key", seen)
	}
	if len(denied) != 1 || denied[0] != "role-a dynamodb:PutItem "+DefaultTablePrefix+"d" {
		t.Errorf("denied = %q", denied)
	}
}

// FuzzNeeds: any body and target either fails or yields DynamoDB actions
// on a table ARN (or "*" for table-less calls), never a panic.
func FuzzNeeds(f *testing.F) {
	f.Add("DynamoDB_20120810.TransactWriteItems", `{"TransactItems":[{"Put":{"TableName":"d"}}]}`)
	f.Add("DynamoDB_20120810.Query", `{"TableName":"d","IndexName":"i"}`)
	f.Add("DynamoDB_20120810.BatchWriteItem", `{"RequestItems":{"d":[]}}`)
	f.Add("DynamoDBStreams_20120810.GetRecords", `{"ShardIterator":"arn:s|001|x"}`)
	p := &Proxy{}
	f.Fuzz(func(t *testing.T, target, body string) {
		needs, err := p.needs(target, []byte(body))
		if err != nil {
			return
		}
		for _, n := range needs {
			if !strings.HasPrefix(n.action, "dynamodb:") || (n.resource != "*" && !strings.HasPrefix(n.resource, DefaultTablePrefix) && !strings.HasPrefix(n.resource, "arn:")) {
				t.Fatalf("needs(%q, %q) gave %v", target, body, n)
			}
		}
	})
}

// TestKMSProxy checks a restricted caller's KMS calls after they ran,
// against the key's ARN from the answer and the request's encryption
// context; an operation that changes something is refused before it runs.
func TestKMSProxy(t *testing.T) {
	const keyARN = "arn:aws:kms:eu-west-2:111122223333:key/k1"
	var ran []string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran = append(ran, r.Header.Get("X-Amz-Target"))
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"KeyId":"`+keyARN+`","Plaintext":"AAAA"}`)
	}))
	defer target.Close()
	u, _ := url.Parse(target.URL)
	roles := &Roles{}
	roles.Set(map[string]Policy{"role-a": {{Actions: []string{"kms:GenerateDataKey", "kms:Decrypt"}, Resources: []string{keyARN},
		StringEquals: map[string][]string{"kms:EncryptionContext:purpose": {"branch"}}}}})
	srv := httptest.NewServer(&KMSProxy{Target: u, Roles: roles})
	defer srv.Close()
	call := func(key, op, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "TrentService."+op)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+key+"/20261125/eu-west-2/kms/aws4_request, SignedHeaders=host, Signature=00")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name, key, op, body string
		allowed             bool
	}{
		{"right context", "role-a", "GenerateDataKey", `{"KeyId":"alias/x","EncryptionContext":{"purpose":"branch"}}`, true},
		{"decrypt without a key id", "role-a", "Decrypt", `{"CiphertextBlob":"AA==","EncryptionContext":{"purpose":"branch"}}`, true},
		{"wrong context", "role-a", "GenerateDataKey", `{"KeyId":"alias/x","EncryptionContext":{"purpose":"other"}}`, false},
		{"no context", "role-a", "Decrypt", `{"CiphertextBlob":"AA=="}`, false},
		{"action not granted", "role-a", "Sign", `{"KeyId":"alias/x"}`, false},
		{"unrestricted caller", "local", "Sign", `{"KeyId":"alias/x"}`, true},
	}
	for _, tt := range tests {
		status, body := call(tt.key, tt.op, tt.body)
		if got := status == 200 && strings.Contains(body, "Plaintext"); got != tt.allowed {
			t.Errorf("%s: %d %s, want allowed %v", tt.name, status, body, tt.allowed)
		}
		if !tt.allowed && !strings.Contains(body, "AccessDeniedException") {
			t.Errorf("%s: refusal %s, want AccessDeniedException", tt.name, body)
		}
	}
	before := len(ran)
	if status, body := call("role-a", "ScheduleKeyDeletion", `{"KeyId":"alias/x"}`); status != 400 || len(ran) != before {
		t.Errorf("ScheduleKeyDeletion = %d %s and reached local-kms %v; want refused before it runs", status, body, len(ran) != before)
	}
}
