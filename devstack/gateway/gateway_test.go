package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waguard/waguard/devstack/stacktest"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestMain stops any test from reaching beyond loopback.
func TestMain(m *testing.M) {
	stacktest.RestrictToLoopback()
	os.Exit(m.Run())
}

// fakeInvoker runs invoke, after honouring ctx.
type fakeInvoker struct {
	invoke func(ctx context.Context, function string, payload []byte) ([]byte, error)
}

func (f fakeInvoker) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.invoke(ctx, function, payload)
}

// recordingInvoker answers out and remembers the last call.
type recordingInvoker struct {
	out      []byte
	mu       sync.Mutex
	calls    int
	function string
	payload  []byte
}

func (r *recordingInvoker) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.function, r.payload = function, payload
	return r.out, nil
}

func (r *recordingInvoker) event(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(r.payload, &ev); err != nil {
		t.Fatalf("json.Unmarshal(payload) err = %v, want nil", err)
	}
	return ev
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("ReadFile(%s) err = %v, want nil", name, err)
	}
	return b
}

func assertMessage(t *testing.T, rec *httptest.ResponseRecorder, status int, msg string) {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status = %d, want %d", rec.Code, status)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	want := `{"message":"` + msg + `"}`
	if got := strings.TrimSpace(rec.Body.String()); got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func TestNotFound(t *testing.T) {
	for _, tt := range []struct{ name, method, target string }{
		{"method mismatch", http.MethodDelete, "/v1/items/item-1"},
		{"unknown path", http.MethodGet, "/nowhere"},
		{"local routes disabled", http.MethodGet, "/_local/health"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := &recordingInvoker{}
			rec := httptest.NewRecorder()
			New(testRoutes, inv, false).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			assertMessage(t, rec, http.StatusNotFound, "Not Found")
			if inv.calls != 0 {
				t.Errorf("Invoke calls = %d, want 0", inv.calls)
			}
		})
	}
}

func TestBuildEvent(t *testing.T) {
	inv := &recordingInvoker{out: []byte(`{}`)}
	req := httptest.NewRequest(http.MethodGet, "/v1/users/u1/items/i2?a=1&b=x&a=2", nil)
	req.Host = "api.example.test"
	req.RemoteAddr = "192.0.2.10:5555"
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("User-Agent", "gateway-test")
	req.Header.Set("Cookie", "session=s1; theme=dark")
	before := time.Now().UnixMilli()
	rec := httptest.NewRecorder()
	New(testRoutes, inv, false).ServeHTTP(rec, req)
	after := time.Now().UnixMilli()
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	if inv.function != "UserItem" {
		t.Errorf("Invoke function = %q, want UserItem", inv.function)
	}
	got := inv.event(t)
	want := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "GET /v1/users/{user}/items/{id}",
		RawPath:        "/v1/users/u1/items/i2",
		RawQueryString: "a=1&b=x&a=2",
		Cookies:        []string{"session=s1", "theme=dark"},
		Headers: map[string]string{
			"host": "api.example.test", "x-multi": "one,two", "x-forwarded-for": "203.0.113.7",
			"user-agent": "gateway-test",
		},
		QueryStringParameters: map[string]string{"a": "1,2", "b": "x"},
		PathParameters:        map[string]string{"user": "u1", "id": "i2"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "GET /v1/users/{user}/items/{id}", AccountID: "111122223333", Stage: "$default",
			APIID: "local", DomainName: "api.example.test", DomainPrefix: "api",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: "GET", Path: "/v1/users/u1/items/i2", Protocol: "HTTP/1.1",
				SourceIP: "192.0.2.10", UserAgent: "gateway-test",
			},
		},
	}
	ignore := cmpopts.IgnoreFields(events.APIGatewayV2HTTPRequestContext{}, "RequestID", "Time", "TimeEpoch")
	if diff := cmp.Diff(want, got, ignore); diff != "" {
		t.Errorf("event mismatch (-want +got):\n%s", diff)
	}
	if id := got.RequestContext.RequestID; !apiGatewayID.MatchString(id) {
		t.Errorf("requestId = %q, want an HTTP API request id (15 letters and digits and '=')", id)
	}
	if e := got.RequestContext.TimeEpoch; e < before || e > after {
		t.Errorf("timeEpoch = %d, want within [%d, %d]", e, before, after)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", got.RequestContext.Time); err != nil {
		t.Errorf("time %q does not parse: %v", got.RequestContext.Time, err)
	}
}

// apiGatewayID matches an HTTP API request id as the gateway makes them.
var apiGatewayID = regexp.MustCompile(`^[A-Za-z0-9]{15}=$`)

// TestRequestIDsDiffer checks each request gets its own id, and that the
// response returns it in apigw-requestid, as API Gateway does, for the
// client to quote.
func TestRequestIDsDiffer(t *testing.T) {
	inv := &recordingInvoker{out: []byte(`{}`)}
	g := New(testRoutes, inv, false)
	seen := map[string]bool{}
	for range 3 {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/items", nil))
		id := inv.event(t).RequestContext.RequestID
		if got := rec.Header().Get("apigw-requestid"); got != id {
			t.Errorf("apigw-requestid = %q, want the event's requestId %q", got, id)
		}
		seen[id] = true
	}
	if len(seen) != 3 {
		t.Errorf("3 requests gave %d distinct request IDs, want 3", len(seen))
	}
}

// TestSourceIPIsTCPPeer sends a spoofed X-Forwarded-For over a real
// connection: the event's sourceIp must be the loopback peer.
func TestSourceIPIsTCPPeer(t *testing.T) {
	inv := &recordingInvoker{out: []byte(`{}`)}
	srv := httptest.NewServer(New(testRoutes, inv, false))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/items", nil)
	if err != nil {
		t.Fatalf("NewRequest err = %v, want nil", err)
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /v1/items err = %v, want nil", err)
	}
	resp.Body.Close()
	if got := inv.event(t).RequestContext.HTTP.SourceIP; got != "127.0.0.1" {
		t.Errorf("sourceIp = %q, want 127.0.0.1", got)
	}
}

func TestRequestBody(t *testing.T) {
	tests := []struct {
		name, contentType string
		body              []byte
		wantBody          string
		wantBase64        bool
	}{
		{"json", "application/json", []byte(`{"a":1}`), `{"a":1}`, false},
		{"text", "text/plain; charset=utf-8", []byte("héllo"), "héllo", false},
		{"no content type", "", []byte("plain"), "plain", false},
		{"xml", "application/xml", []byte("<a/>"), "<a/>", false},
		{"form", "application/x-www-form-urlencoded", []byte("a=1&b=2"), "a=1&b=2", false},
		{"vendor json", "application/vnd.api+JSON", []byte(`[]`), `[]`, false},
		{"octet stream", "application/octet-stream", []byte{0, 1, 2, 0xff}, "AAEC/w==", true},
		{"image", "image/png", []byte("png"), "cG5n", true},
		{"text with invalid utf-8", "text/plain", []byte{'a', 0xff, 'b'}, "Yf9i", true},
		{"empty", "application/octet-stream", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &recordingInvoker{out: []byte(`{}`)}
			req := httptest.NewRequest(http.MethodPost, "/v1/items", bytes.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			New(testRoutes, inv, false).ServeHTTP(httptest.NewRecorder(), req)
			ev := inv.event(t)
			if ev.Body != tt.wantBody || ev.IsBase64Encoded != tt.wantBase64 {
				t.Errorf("body, isBase64Encoded = %q, %v; want %q, %v", ev.Body, ev.IsBase64Encoded, tt.wantBody, tt.wantBase64)
			}
		})
	}
}

func TestRequestTooLarge(t *testing.T) {
	tests := []struct {
		name       string
		size       int
		wantStatus int
		wantCalls  int
	}{
		{"at limit", MaxRequestBytes, http.StatusOK, 1},
		{"over limit", MaxRequestBytes + 1, http.StatusRequestEntityTooLarge, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &recordingInvoker{out: []byte(`{}`)}
			rec := httptest.NewRecorder()
			body := bytes.Repeat([]byte("a"), tt.size)
			New(testRoutes, inv, false).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/items", bytes.NewReader(body)))
			if rec.Code != tt.wantStatus || inv.calls != tt.wantCalls {
				t.Errorf("status, calls = %d, %d; want %d, %d", rec.Code, inv.calls, tt.wantStatus, tt.wantCalls)
			}
		})
	}
	t.Run("413 body", func(t *testing.T) {
		rec := httptest.NewRecorder()
		body := bytes.Repeat([]byte("a"), MaxRequestBytes+1)
		New(testRoutes, &recordingInvoker{}, false).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/items", bytes.NewReader(body)))
		assertMessage(t, rec, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
	})
}

func TestResponse(t *testing.T) {
	tests := []struct {
		file       string
		wantStatus int
		wantHeader http.Header
		wantBody   string
	}{
		{"response_full.json", 201, http.Header{
			"Content-Type": {"text/plain"}, "X-Single": {"one"}, "X-Multi": {"a", "b"},
			"Set-Cookie": {"session=abc; HttpOnly", "theme=dark"},
		}, "created"},
		{"response_base64.json", 200, http.Header{"Content-Type": {"application/octet-stream"}}, "\x00\x01\x02\xff"},
		{"response_no_status.json", 200, http.Header{"Content-Type": {"application/json"}}, string(readTestdata(t, "response_no_status.json"))},
		{"response_bad_base64.json", 500, http.Header{"Content-Type": {"application/json"}}, `{"message":"Internal Server Error"}` + "\n"},
		{"response_status_zero.json", 500, http.Header{"Content-Type": {"application/json"}}, `{"message":"Internal Server Error"}` + "\n"},
		{"response_status_null.json", 500, http.Header{"Content-Type": {"application/json"}}, `{"message":"Internal Server Error"}` + "\n"},
		{"response_status_string.json", 500, http.Header{"Content-Type": {"application/json"}}, `{"message":"Internal Server Error"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			inv := &recordingInvoker{out: readTestdata(t, tt.file)}
			rec := httptest.NewRecorder()
			New(testRoutes, inv, false).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/items", nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			got := rec.Header().Clone()
			if id := got.Get("Apigw-Requestid"); !apiGatewayID.MatchString(id) {
				t.Errorf("apigw-requestid = %q, want an HTTP API request id", id)
			}
			got.Del("Apigw-Requestid")
			if diff := cmp.Diff(tt.wantHeader, got); diff != "" {
				t.Errorf("headers mismatch (-want +got):\n%s", diff)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
		})
	}
}

func TestInvokeErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantMsg    string
	}{
		{"function error", errors.New("function error"), http.StatusInternalServerError, "Internal Server Error"},
		{"wrapped timeout", fmt.Errorf("invoke: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, "Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := fakeInvoker{invoke: func(context.Context, string, []byte) ([]byte, error) { return nil, tt.err }}
			rec := httptest.NewRecorder()
			New(testRoutes, inv, false).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/items", nil))
			assertMessage(t, rec, tt.wantStatus, tt.wantMsg)
		})
	}
}

// TestIntegrationTimeout checks the invoke context carries the 30 s limit
// and that running out of time gives 503.
func TestIntegrationTimeout(t *testing.T) {
	var deadline time.Time
	inv := fakeInvoker{invoke: func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		deadline, _ = ctx.Deadline()
		<-ctx.Done()
		return nil, fmt.Errorf("invoke: %w", ctx.Err())
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	rec := httptest.NewRecorder()
	New(testRoutes, inv, false).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/items", nil).WithContext(ctx))
	assertMessage(t, rec, http.StatusServiceUnavailable, "Service Unavailable")
	if deadline.IsZero() || deadline.After(start.Add(IntegrationTimeout)) {
		t.Errorf("invoke deadline = %v, want at most %v after start", deadline, IntegrationTimeout)
	}
}

func TestLocalRoutes(t *testing.T) {
	tests := []struct {
		name, method, target, body string
		invokeErr                  error
		wantStatus                 int
		wantBody                   string
		wantFn, wantPayload        string
	}{
		{name: "invoke passes raw body", method: "POST", target: "/_local/invoke/RetentionFunction", body: `{"source":"aws.events"}`,
			wantStatus: 200, wantBody: `{"ok":true}`, wantFn: "RetentionFunction", wantPayload: `{"source":"aws.events"}`},
		{name: "empty body becomes {}", method: "POST", target: "/_local/invoke/RetentionFunction", body: " \n",
			wantStatus: 200, wantBody: `{"ok":true}`, wantFn: "RetentionFunction", wantPayload: `{}`},
		{name: "invoke failure", method: "POST", target: "/_local/invoke/RetentionFunction", invokeErr: errors.New("boom"),
			wantStatus: 502, wantBody: `{"message":"invoke failed"}` + "\n", wantFn: "RetentionFunction", wantPayload: `{}`},
		{name: "GET invoke", method: "GET", target: "/_local/invoke/RetentionFunction", wantStatus: 404, wantBody: `{"message":"Not Found"}` + "\n"},
		{name: "no function", method: "POST", target: "/_local/invoke/", wantStatus: 404, wantBody: `{"message":"Not Found"}` + "\n"},
		{name: "unknown local route", method: "GET", target: "/_local/other", wantStatus: 404, wantBody: `{"message":"Not Found"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotFn, gotPayload string
			inv := fakeInvoker{invoke: func(_ context.Context, fn string, p []byte) ([]byte, error) {
				gotFn, gotPayload = fn, string(p)
				return []byte(`{"ok":true}`), tt.invokeErr
			}}
			rec := httptest.NewRecorder()
			New(testRoutes, inv, true).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body)))
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			if gotFn != tt.wantFn || gotPayload != tt.wantPayload {
				t.Errorf("Invoke(%q, %q), want Invoke(%q, %q)", gotFn, gotPayload, tt.wantFn, tt.wantPayload)
			}
		})
	}
}

func TestLocalHealth(t *testing.T) {
	rec := httptest.NewRecorder()
	New(testRoutes, &recordingInvoker{}, true).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_local/health", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /_local/health status = %d, want 200", rec.Code)
	}
	var got struct{ Status string }
	if err := json.NewDecoder(io.LimitReader(rec.Body, 1<<20)).Decode(&got); err != nil || got.Status != "ok" {
		t.Errorf("GET /_local/health body = %+v, %v; want status ok", got, err)
	}
}
