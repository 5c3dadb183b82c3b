package whatsapp

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Test-only credentials.
const (
	testToken = "EAAtest-whatsapp-client-token-0001"
	testWAMID = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSRDAwMDA1QzY5MkIxNTQ2NkVGAA=="
)

// graphStub records requests and answers with a fixed status and body.
type graphStub struct {
	status int
	body   string

	mu   sync.Mutex
	reqs []stubRequest
}

// stubRequest is what the stub saw.
type stubRequest struct {
	Method, Path, Auth, ContentType string
	Body                            map[string]any
}

// ServeHTTP records r and answers.
func (g *graphStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	g.mu.Lock()
	g.reqs = append(g.reqs, stubRequest{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(g.status)
	_, _ = io.WriteString(w, g.body)
}

// newStubClient serves g and returns a client pointed at it.
func newStubClient(t *testing.T, g *graphStub) *Client {
	t.Helper()
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	c, err := NewClient(testToken, testPNID)
	if err != nil {
		t.Fatalf("NewClient() err = %v, want nil", err)
	}
	c.BaseURL, c.HTTP = srv.URL, loopbackClient()
	return c
}

// okBody is Graph's success answer.
const okBody = `{"messaging_product":"whatsapp","contacts":[{"input":"+447700900123","wa_id":"447700900123"}],"messages":[{"id":"` + testWAMID + `"}]}`

func TestSendText(t *testing.T) {
	g := &graphStub{status: 200, body: okBody}
	c := newStubClient(t, g)
	id, err := c.SendText(t.Context(), "+447700900123", "Your appointment is confirmed.")
	if err != nil || id != testWAMID {
		t.Fatalf("SendText() = %q, %v; want %q, nil", id, err, testWAMID)
	}
	want := stubRequest{
		Method: "POST", Path: "/" + DefaultVersion + "/" + testPNID + "/messages", Auth: "Bearer " + testToken, ContentType: "application/json",
		Body: map[string]any{
			"messaging_product": "whatsapp", "recipient_type": "individual", "to": "447700900123", "type": "text",
			"text": map[string]any{"preview_url": false, "body": "Your appointment is confirmed."},
		},
	}
	if diff := cmp.Diff([]stubRequest{want}, g.reqs); diff != "" {
		t.Errorf("SendText request mismatch (-want +got):\n%s", diff)
	}
}

func TestSendTemplate(t *testing.T) {
	g := &graphStub{status: 200, body: okBody}
	c := newStubClient(t, g)
	tmpl := Template{
		Name: "appointment_reminder", Language: "en_GB",
		Components: json.RawMessage(`[{"type":"body","parameters":[{"type":"text","text":"Tuesday"}]}]`),
	}
	if id, err := c.SendTemplate(t.Context(), "15550100123", tmpl); err != nil || id != testWAMID {
		t.Fatalf("SendTemplate() = %q, %v; want %q, nil", id, err, testWAMID)
	}
	if _, err := c.SendTemplate(t.Context(), "15550100123", Template{Name: "hello_world", Language: "en_US"}); err != nil {
		t.Fatalf("SendTemplate(no components) err = %v, want nil", err)
	}
	want := []map[string]any{
		{"name": "appointment_reminder", "language": map[string]any{"code": "en_GB"},
			"components": []any{map[string]any{"type": "body", "parameters": []any{map[string]any{"type": "text", "text": "Tuesday"}}}}},
		{"name": "hello_world", "language": map[string]any{"code": "en_US"}},
	}
	for i, r := range g.reqs {
		if r.Body["type"] != "template" || r.Body["to"] != "15550100123" {
			t.Errorf("request %d type/to = %v/%v, want template/15550100123", i, r.Body["type"], r.Body["to"])
		}
		if diff := cmp.Diff(want[i], r.Body["template"]); diff != "" {
			t.Errorf("request %d template mismatch (-want +got):\n%s", i, diff)
		}
	}
}

func TestSendCallbackData(t *testing.T) {
	g := &graphStub{status: 200, body: okBody}
	c := newStubClient(t, g)
	if _, err := c.SendText(t.Context(), testWAID, "hi", WithCallbackData("msg_ABC")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendTemplate(t.Context(), testWAID, Template{Name: "hello_world", Language: "en_US"}, WithCallbackData("msg_DEF")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendText(t.Context(), testWAID, "hi"); err != nil {
		t.Fatal(err)
	}
	for i, want := range []any{"msg_ABC", "msg_DEF", nil} {
		if got := g.reqs[i].Body["biz_opaque_callback_data"]; got != want {
			t.Errorf("request %d biz_opaque_callback_data = %v, want %v", i, got, want)
		}
	}
	if _, err := c.SendText(t.Context(), testWAID, "hi", WithCallbackData(strings.Repeat("x", MaxCallbackData+1))); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("callback data over %d characters err = %v, want ErrInvalidMessage", MaxCallbackData, err)
	}
	if len(g.reqs) != 3 {
		t.Errorf("%d requests, want 3 (none for the refused one)", len(g.reqs))
	}
}

func TestSendRejectsInvalidMessages(t *testing.T) {
	g := &graphStub{status: 200, body: okBody}
	c := newStubClient(t, g)
	tests := []struct {
		name string
		send func() (string, error)
	}{
		{"empty text", func() (string, error) { return c.SendText(t.Context(), testWAID, "") }},
		{"text over 4096 characters", func() (string, error) { return c.SendText(t.Context(), testWAID, strings.Repeat("é", 4097)) }},
		{"text not UTF-8", func() (string, error) { return c.SendText(t.Context(), testWAID, "\xff") }},
		{"recipient letters", func() (string, error) { return c.SendText(t.Context(), "call-me", "hi") }},
		{"recipient too short", func() (string, error) { return c.SendText(t.Context(), "+12345", "hi") }},
		{"recipient too long", func() (string, error) { return c.SendText(t.Context(), "+1234567890123456", "hi") }},
		{"recipient leading zero", func() (string, error) { return c.SendText(t.Context(), "07700900123", "hi") }},
		{"template no name", func() (string, error) { return c.SendTemplate(t.Context(), testWAID, Template{Language: "en_US"}) }},
		{"template upper-case name", func() (string, error) {
			return c.SendTemplate(t.Context(), testWAID, Template{Name: "Hello", Language: "en_US"})
		}},
		{"template no language", func() (string, error) { return c.SendTemplate(t.Context(), testWAID, Template{Name: "hello_world"}) }},
		{"template language object", func() (string, error) {
			return c.SendTemplate(t.Context(), testWAID, Template{Name: "hello_world", Language: `{"code":"en"}`})
		}},
		{"template components object", func() (string, error) {
			return c.SendTemplate(t.Context(), testWAID, Template{Name: "hello_world", Language: "en", Components: json.RawMessage(`{"type":"body"}`)})
		}},
		{"template components invalid", func() (string, error) {
			return c.SendTemplate(t.Context(), testWAID, Template{Name: "hello_world", Language: "en", Components: json.RawMessage(`[`)})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := tt.send()
			if !errors.Is(err, ErrInvalidMessage) || id != "" {
				t.Errorf("send(%s) = %q, %v; want ErrInvalidMessage", tt.name, id, err)
			}
			if err != nil && (strings.Contains(err.Error(), "call-me") || strings.Contains(err.Error(), "07700")) {
				t.Errorf("send(%s) error %q contains the recipient", tt.name, err)
			}
		})
	}
	if len(g.reqs) != 0 {
		t.Errorf("invalid messages made %d requests, want 0", len(g.reqs))
	}
}

func TestSendErrors(t *testing.T) {
	graphErr := func(code, sub int) string {
		return fmt.Sprintf(`{"error":{"message":"(#%d) Recipient 447700900123 and token %s","type":"OAuthException","code":%d,"error_subcode":%d,"error_data":{"messaging_product":"whatsapp","details":"to 447700900123"},"fbtrace_id":"AbCdEf123"}}`, code, testToken, code, sub)
	}
	tests := []struct {
		name      string
		status    int
		body      string
		want      *APIError
		throttled bool
		outcome   Outcome
	}{
		{"throughput", 429, graphErr(130429, 0), &APIError{429, 130429, 0, "AbCdEf123"}, true, OutcomeRefusedRetryable},
		{"pair rate limit as 400", 400, graphErr(131056, 0), &APIError{400, 131056, 0, "AbCdEf123"}, true, OutcomeRefusedRetryable},
		{"graph app rate limit", 400, graphErr(4, 0), &APIError{400, 4, 0, "AbCdEf123"}, true, OutcomeRefusedRetryable},
		{"something went wrong", 500, graphErr(131000, 0), &APIError{500, 131000, 0, "AbCdEf123"}, false, OutcomeRefusedRetryable},
		{"service unavailable", 503, graphErr(2, 0), &APIError{503, 2, 0, "AbCdEf123"}, false, OutcomeRefusedRetryable},
		{"temporary code on 400", 400, graphErr(131016, 0), &APIError{400, 131016, 0, "AbCdEf123"}, false, OutcomeRefusedRetryable},
		{"bad gateway with an HTML page", 502, "<html>bad gateway</html>", &APIError{502, 0, 0, ""}, false, OutcomeUnknown},
		{"bad gateway without body", 502, "", &APIError{502, 0, 0, ""}, false, OutcomeUnknown},
		{"gateway timeout", 504, "<html><h1>504 Gateway Time-out</h1></html>", &APIError{504, 0, 0, ""}, false, OutcomeUnknown},
		{"server error, code that proves nothing", 500, graphErr(1, 0), &APIError{500, 1, 0, "AbCdEf123"}, false, OutcomeUnknown},
		{"429 without body", 429, "", &APIError{429, 0, 0, ""}, true, OutcomeRefusedRetryable},
		{"gateway refuses the key", 403, `{"message":"You are not subscribed to this API."}`, &APIError{403, 0, 0, ""}, false, OutcomeRefusedPermanent},
		{"expired token", 401, graphErr(190, 463), &APIError{401, 190, 463, "AbCdEf123"}, false, OutcomeRefusedPermanent},
		{"undeliverable", 400, graphErr(131026, 0), &APIError{400, 131026, 0, "AbCdEf123"}, false, OutcomeRefusedPermanent},
		{"re-engagement", 400, graphErr(131047, 0), &APIError{400, 131047, 0, "AbCdEf123"}, false, OutcomeRefusedPermanent},
		{"template missing", 404, graphErr(132001, 0), &APIError{404, 132001, 0, "AbCdEf123"}, false, OutcomeRefusedPermanent},
		{"unknown phone number id", 400, graphErr(100, 33), &APIError{400, 100, 33, "AbCdEf123"}, false, OutcomeRefusedPermanent},
		{"odd trace id dropped", 400, `{"error":{"code":100,"fbtrace_id":"has space"}}`, &APIError{400, 100, 0, ""}, false, OutcomeRefusedPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newStubClient(t, &graphStub{status: tt.status, body: tt.body})
			id, err := c.SendText(t.Context(), testWAID, "hello")
			var got *APIError
			if !errors.As(err, &got) || id != "" {
				t.Fatalf("SendText() = %q, %v; want an *APIError", id, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SendText() APIError mismatch (-want +got):\n%s", diff)
			}
			if got.Throttled() != tt.throttled || Classify(err) != tt.outcome {
				t.Errorf("%v: throttled %v, Classify() = %v; want %v, %v", got, got.Throttled(), Classify(err), tt.throttled, tt.outcome)
			}
			assertNoSecrets(t, err)
		})
	}
}

// assertNoSecrets fails when err's text holds the token, a number or
// Meta's message text.
func assertNoSecrets(t *testing.T, err error) {
	t.Helper()
	for _, leak := range []string{testToken, "EAAtest", "Bearer", "447700900123", "Recipient", "hello"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q contains %q", err, leak)
		}
	}
}

func TestSendBadResponse(t *testing.T) {
	for _, body := range []string{`{}`, `{"messages":[]}`, `{"messages":[{"id":""}]}`, `not json`, `{"messages":[{"id":"has space"}]}`} {
		c := newStubClient(t, &graphStub{status: 200, body: body})
		if id, err := c.SendText(t.Context(), testWAID, "hello"); !errors.Is(err, ErrBadResponse) || id != "" {
			t.Errorf("SendText() answered 200 %s = %q, %v; want ErrBadResponse", body, id, err)
		}
	}
}

func TestSendTransportErrorsHideToken(t *testing.T) {
	c, err := NewClient(testToken, testPNID)
	if err != nil {
		t.Fatalf("NewClient() err = %v", err)
	}
	c.HTTP = loopbackClient() // refuses graph.facebook.com
	_, err = c.SendText(t.Context(), testWAID, "hello")
	if err == nil {
		t.Fatal("SendText() to a refused host err = nil, want an error")
	}
	assertNoSecrets(t, err)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(200 * time.Millisecond) }))
	t.Cleanup(srv.Close)
	c.BaseURL = srv.URL
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.SendText(ctx, testWAID, "hello"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SendText() past its deadline err = %v, want context.DeadlineExceeded", err)
	} else {
		assertNoSecrets(t, err)
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	var leaked bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = true
	}))
	t.Cleanup(target.Close)
	c := newStubClient(t, &graphStub{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	c.BaseURL = srv.URL
	_, err := c.SendText(t.Context(), testWAID, "hello")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusTemporaryRedirect || leaked {
		t.Errorf("SendText() against a redirect = %v (followed: %v), want a 307 APIError and no request to the target", err, leaked)
	}
}

func TestNewClient(t *testing.T) {
	for _, tt := range []struct{ token, pnid string }{{"", testPNID}, {testToken, ""}, {testToken, "12a"}} {
		if c, err := NewClient(tt.token, tt.pnid); err == nil || c != nil {
			t.Errorf("NewClient(%q, %q) = %v, %v; want an error", tt.token, tt.pnid, c, err)
		} else if tt.token != "" && strings.Contains(err.Error(), tt.token) {
			t.Errorf("NewClient() error %q contains the token", err)
		}
	}
	c, err := NewClient(testToken, testPNID)
	if err != nil {
		t.Fatalf("NewClient() err = %v, want nil", err)
	}
	if s := sprintAll(c) + sprintAll(*c) + logged(c); strings.Contains(s, testToken) || strings.Contains(s, "EAAtest") {
		t.Errorf("printed Client contains the token: %s", s)
	}
	var zero Client
	if _, err := zero.SendText(t.Context(), testWAID, "hello"); err == nil {
		t.Error("zero Client SendText() err = nil, want an error")
	}
}

func TestNewHTTPClient(t *testing.T) {
	c := NewHTTPClient()
	tr, ok := c.Transport.(*http.Transport)
	if !ok || tr.TLSClientConfig == nil || tr.TLSClientConfig.MinVersion < tls.VersionTLS12 {
		t.Fatalf("NewHTTPClient() transport = %T, want *http.Transport with TLS >= 1.2", c.Transport)
	}
	if c.Timeout <= 0 || tr.TLSHandshakeTimeout <= 0 || tr.ResponseHeaderTimeout <= 0 || c.CheckRedirect == nil {
		t.Errorf("NewHTTPClient() timeouts = %v/%v/%v, redirect policy set %v; want all set",
			c.Timeout, tr.TLSHandshakeTimeout, tr.ResponseHeaderTimeout, c.CheckRedirect != nil)
	}

	// A server that only speaks TLS 1.1 must be refused.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{MaxVersion: tls.VersionTLS11}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tr.TLSClientConfig.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	resp, err := c.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("GET from a TLS 1.1 server err = %v, want a protocol version failure", err)
	}
}

func TestMarkRead(t *testing.T) {
	g := &graphStub{status: 200, body: `{"success":true}`}
	c := newStubClient(t, g)
	if err := c.MarkRead(t.Context(), inWAMID); err != nil {
		t.Fatalf("MarkRead() err = %v, want nil", err)
	}
	want := map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": inWAMID}
	if len(g.reqs) != 1 || g.reqs[0].Auth != "Bearer "+testToken || g.reqs[0].Path != "/"+DefaultVersion+"/"+testPNID+"/messages" {
		t.Fatalf("MarkRead() requests = %+v, want one authenticated POST to the messages endpoint", g.reqs)
	}
	if diff := cmp.Diff(want, g.reqs[0].Body); diff != "" {
		t.Errorf("MarkRead() body mismatch (-want +got):\n%s", diff)
	}
	if err := c.MarkRead(t.Context(), "has space"); !errors.Is(err, ErrInvalidMessage) || len(g.reqs) != 1 {
		t.Errorf("MarkRead(malformed id) err = %v after %d requests, want ErrInvalidMessage and no request", err, len(g.reqs))
	}
	refused := newStubClient(t, &graphStub{status: 401, body: `{"error":{"code":190,"fbtrace_id":"AbC"}}`})
	var api *APIError
	if err := refused.MarkRead(t.Context(), inWAMID); !errors.As(err, &api) || api.Status != 401 || api.Code != 190 {
		t.Errorf("MarkRead() with a refused token err = %v, want a 401 code 190 APIError", err)
	} else {
		assertNoSecrets(t, err)
	}
}

// TestSendToBSUID checks a business-scoped user id goes to Meta as
// "recipient", with no "to" (Meta: "Send message requests").
func TestSendToBSUID(t *testing.T) {
	g := &graphStub{status: 200, body: okBody}
	c := newStubClient(t, g)
	if _, err := c.SendText(t.Context(), "US.13491208655302741918", "hi"); err != nil {
		t.Fatal(err)
	}
	b := g.reqs[0].Body
	if b["recipient"] != "US.13491208655302741918" || b["to"] != nil || b["recipient_type"] != "individual" {
		t.Errorf("request = %v, want recipient set, no to", b)
	}
	for _, bad := range []string{"us.1", "US.", "US.ENT.", "U.1"} {
		if _, err := c.SendText(t.Context(), bad, "hi"); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("SendText(%q) err = %v, want ErrInvalidMessage", bad, err)
		}
	}
}
