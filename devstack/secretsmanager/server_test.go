package secretsmanager_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	smemu "github.com/waguard/waguard/devstack/secretsmanager"
)

// post sends one raw request to srv and returns the response.
func post(srv http.Handler, method, target, contentType, body string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

func TestProtocol(t *testing.T) {
	const jsonType = "application/x-amz-json-1.1"
	signed := http.Header{
		"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIDWAGUARDTEST/20300102/eu-west-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"},
		"X-Amz-Date":    {"20300102T030405Z"},
	}
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		header      http.Header
		wantStatus  int
		wantType    string
	}{
		{name: "signed request with any signature", target: "secretsmanager.GetRandomPassword", body: `{"PasswordLength":8}`, header: signed, wantStatus: 200},
		{name: "empty body", target: "secretsmanager.GetRandomPassword", wantStatus: 200},
		{name: "plain JSON content type", target: "secretsmanager.GetRandomPassword", contentType: "application/json", body: `{}`, wantStatus: 200},
		{name: "unknown operation", target: "secretsmanager.Bogus", body: `{}`, wantStatus: 400, wantType: "com.amazon.coral.service#UnknownOperationException"},
		{name: "other service", target: "TrentService.Encrypt", body: `{}`, wantStatus: 400, wantType: "com.amazon.coral.service#UnknownOperationException"},
		{name: "no target", body: `{}`, wantStatus: 400, wantType: "com.amazon.coral.service#UnknownOperationException"},
		{name: "GET", method: http.MethodGet, target: "secretsmanager.ListSecrets", wantStatus: 400, wantType: "com.amazon.coral.service#UnknownOperationException"},
		{name: "wrong content type", target: "secretsmanager.ListSecrets", contentType: "text/plain", body: `{}`, wantStatus: 400, wantType: "com.amazon.coral.service#UnknownOperationException"},
		{name: "malformed JSON", target: "secretsmanager.DescribeSecret", body: `{"SecretId":`, wantStatus: 400, wantType: "SerializationException"},
		{name: "wrong member type", target: "secretsmanager.DescribeSecret", body: `{"SecretId":5}`, wantStatus: 400, wantType: "SerializationException"},
		{name: "bad base64", target: "secretsmanager.CreateSecret", body: `{"Name":"x","SecretBinary":"!!"}`, wantStatus: 400, wantType: "SerializationException"},
		{name: "missing required member", target: "secretsmanager.DescribeSecret", body: `{}`, wantStatus: 400, wantType: "ValidationException"},
		{name: "body over 1 MiB", target: "secretsmanager.CreateSecret", body: `{"Name":"x","SecretString":"` + strings.Repeat("a", 1<<20) + `"}`, wantStatus: 400, wantType: "SerializationException"},
	}
	srv := smemu.New(smemu.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			ct := tt.contentType
			if ct == "" {
				ct = jsonType
			}
			checkResponse(t, post(srv, method, tt.target, ct, tt.body, tt.header), tt.wantStatus, tt.wantType)
		})
	}
}

// checkResponse checks the status, headers and error type of a response.
func checkResponse(t *testing.T, rec *httptest.ResponseRecorder, wantStatus int, wantType string) {
	t.Helper()
	if rec.Code != wantStatus {
		t.Fatalf("ServeHTTP() status = %d, want %d; body %s", rec.Code, wantStatus, rec.Body)
	}
	if got, want := rec.Header().Get("Content-Type"), "application/x-amz-json-1.1"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	var body struct {
		Type string `json:"__type"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("response body is not JSON: %v", err)
	}
	if body.Type != wantType || rec.Header().Get("X-Amzn-ErrorType") != wantType {
		t.Errorf("__type, X-Amzn-ErrorType = %q, %q, want %q", body.Type, rec.Header().Get("X-Amzn-ErrorType"), wantType)
	}
	if rec.Header().Get("X-Amzn-RequestId") == "" {
		t.Errorf("X-Amzn-RequestId is empty")
	}
}

// FuzzServeHTTP checks that no request makes the server panic, fail with an
// internal error or answer with anything but JSON.
func FuzzServeHTTP(f *testing.F) {
	seeds := []struct{ op, body string }{
		{"CreateSecret", `{"Name":"a","SecretString":"v","ClientRequestToken":"00000000-0000-4000-8000-000000000001"}`},
		{"CreateSecret", `{"Name":"b","SecretBinary":"AAEC","Tags":[{"Key":"k","Value":"v"}]}`},
		{"GetSecretValue", `{"SecretId":"a","VersionStage":"AWSCURRENT"}`},
		{"PutSecretValue", `{"SecretId":"a","SecretString":"w","ClientRequestToken":"00000000-0000-4000-8000-000000000002","VersionStages":["AWSPENDING"]}`},
		{"UpdateSecretVersionStage", `{"SecretId":"a","VersionStage":"AWSCURRENT","MoveToVersionId":"00000000-0000-4000-8000-000000000002","RemoveFromVersionId":"00000000-0000-4000-8000-000000000001"}`},
		{"ListSecretVersionIds", `{"SecretId":"a","IncludeDeprecated":true,"MaxResults":1,"NextToken":"1"}`},
		{"ListSecrets", `{"Filters":[{"Key":"name","Values":["!a"]}],"SortOrder":"asc","SortBy":"name"}`},
		{"RotateSecret", `{"SecretId":"a","RotationLambdaARN":"arn:aws:lambda:us-east-1:000000000000:function:f","ClientRequestToken":"00000000-0000-4000-8000-000000000003","RotationRules":{"ScheduleExpression":"rate(4 hours)"}}`},
		{"CancelRotateSecret", `{"SecretId":"a"}`},
		{"GetRandomPassword", `{"PasswordLength":4,"ExcludeCharacters":"abc","IncludeSpace":true}`},
		{"DeleteSecret", `{"SecretId":"a","RecoveryWindowInDays":7}`},
		{"RestoreSecret", `{"SecretId":"a"}`},
		{"TagResource", `{"SecretId":"a","Tags":[{"Key":"k","Value":"v"}]}`},
		{"UntagResource", `{"SecretId":"a","TagKeys":["k"]}`},
		{"UpdateSecret", `{"SecretId":"a","Description":"d"}`},
		{"DescribeSecret", `null`},
	}
	for _, s := range seeds {
		f.Add(s.op, []byte(s.body))
	}
	srv := smemu.New(smemu.Options{Invoker: smemu.InvokerFunc(func(ctx context.Context, _ string, _ []byte) error {
		return ctx.Err()
	})})
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		rec := post(srv, http.MethodPost, "secretsmanager."+op, "application/x-amz-json-1.1", string(body), nil)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("ServeHTTP(%q) status = %d, want 200 or 400; body %s", op, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("ServeHTTP(%q) body is not JSON: %q", op, rec.Body)
		}
	})
}

// TestAuthorize: the hook sees each request's action and the secret's ARN
// (resolved from a name, "*" for calls on no secret), and a refusal is
// AccessDeniedException with nothing done.
func TestAuthorize(t *testing.T) {
	const jsonType = "application/x-amz-json-1.1"
	var asked []string
	allow := true
	srv := smemu.New(smemu.Options{Authorize: func(r *http.Request, action, resource string) bool {
		asked = append(asked, action+" "+resource)
		return allow
	}})
	if rec := post(srv, http.MethodPost, "secretsmanager.CreateSecret", jsonType, `{"Name":"app/one","SecretString":"v","ClientRequestToken":"11111111-1111-4111-8111-111111111111"}`, nil); rec.Code != 200 {
		t.Fatalf("CreateSecret = %d %s", rec.Code, rec.Body)
	}
	var created struct{ ARN string }
	rec := post(srv, http.MethodPost, "secretsmanager.DescribeSecret", jsonType, `{"SecretId":"app/one"}`, nil)
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	allow = false
	rec = post(srv, http.MethodPost, "secretsmanager.PutSecretValue", jsonType, `{"SecretId":"app/one","SecretString":"w","ClientRequestToken":"22222222-2222-4222-8222-222222222222"}`, nil)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "AccessDeniedException") || !strings.Contains(rec.Body.String(), "secretsmanager:PutSecretValue") {
		t.Errorf("refused PutSecretValue = %d %s, want AccessDeniedException naming the action", rec.Code, rec.Body)
	}
	post(srv, http.MethodPost, "secretsmanager.ListSecrets", jsonType, `{}`, nil)
	allow = true
	rec = post(srv, http.MethodPost, "secretsmanager.GetSecretValue", jsonType, `{"SecretId":"app/one"}`, nil)
	if !strings.Contains(rec.Body.String(), `"SecretString":"v"`) {
		t.Errorf("after a refused PutSecretValue the value is %s, want it unchanged", rec.Body)
	}
	prefix := strings.TrimSuffix(created.ARN, created.ARN[strings.LastIndex(created.ARN, ":")+1:])
	want := []string{
		"secretsmanager:CreateSecret " + prefix + "app/one",
		"secretsmanager:DescribeSecret " + created.ARN,
		"secretsmanager:PutSecretValue " + created.ARN,
		"secretsmanager:ListSecrets *",
		"secretsmanager:GetSecretValue " + created.ARN,
	}
	if strings.Join(asked, "\n") != strings.Join(want, "\n") || created.ARN == "" {
		t.Errorf("Authorize asked:\n%s\nwant:\n%s", strings.Join(asked, "\n"), strings.Join(want, "\n"))
	}
}
