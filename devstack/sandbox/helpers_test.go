package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/waguard/waguard/devstack/stacktest"
)

// Test credentials; synthetic, used nowhere else.
const (
	testToken     = "EAAtest-sandbox-token-0001"
	testAppSecret = "test-app-secret-0001"
	testVersion   = "v21.0"
)

// testNow is the fixed sandbox clock: 2026-01-01T00:00:00Z.
var testNow = time.Unix(1767225600, 0).UTC()

// loopbackClient is an http.Client that can only reach loopback.
func loopbackClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: stacktest.LoopbackOnly(http.DefaultTransport)}
}

// newTestSandbox serves a sandbox with the test token and secret; opts
// fields that are set override the defaults.
func newTestSandbox(t *testing.T, opts Options) (*Sandbox, *httptest.Server) {
	t.Helper()
	if opts.AccessTokens == nil {
		opts.AccessTokens = []string{testToken}
	}
	if opts.AppSecret == "" {
		opts.AppSecret = testAppSecret
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	opts.Client = loopbackClient()
	sb := New(opts)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv
}

// response is a decoded HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with an optional bearer token and returns the answer.
func do(t *testing.T, method, url, token string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest(%s %s) err = %v, want nil", method, url, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := loopbackClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s err = %v, want nil", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s body err = %v, want nil", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// sendURL is the messages endpoint of srv for the default phone number id.
func sendURL(srv *httptest.Server) string {
	return srv.URL + "/" + testVersion + "/" + DefaultPhoneNumberID + "/messages"
}

// readTestdata returns the bytes of testdata/<name>.
func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("ReadFile(%q) err = %v, want nil", name, err)
	}
	return b
}

// decodeInto unmarshals b into v or fails the test.
func decodeInto(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("json.Unmarshal(%.200s) err = %v, want nil", b, err)
	}
}

// decodeAPIError decodes a Graph error body and checks its envelope.
func decodeAPIError(t *testing.T, b []byte) APIError {
	t.Helper()
	var body struct {
		Error *APIError `json:"error"`
	}
	decodeInto(t, b, &body)
	if body.Error == nil {
		t.Fatalf("error body = %s, want {\"error\":{...}}", b)
	}
	if body.Error.FBTraceID == "" || body.Error.Type == "" {
		t.Errorf("error = %+v, want type and fbtrace_id set", body.Error)
	}
	return *body.Error
}
