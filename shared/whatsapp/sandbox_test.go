package whatsapp

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/shared/signature"
)

// newSandboxClient serves the WhatsApp sandbox (a faithful loopback
// stand-in for Graph) and returns it with a client pointed at it.
func newSandboxClient(t *testing.T) (*sandbox.Sandbox, *Client) {
	t.Helper()
	sb := sandbox.New(sandbox.Options{AccessTokens: []string{testToken}, AppSecret: "test-app-secret-0001"})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	c, err := NewClient(testToken, sandbox.DefaultPhoneNumberID)
	if err != nil {
		t.Fatalf("NewClient() err = %v, want nil", err)
	}
	c.BaseURL, c.HTTP = srv.URL, loopbackClient()
	return sb, c
}

func TestClientAgainstSandbox(t *testing.T) {
	sb, c := newSandboxClient(t)
	id, err := c.SendText(t.Context(), "+447700900123", "Your appointment is confirmed.")
	if err != nil {
		t.Fatalf("SendText() err = %v, want nil", err)
	}
	tid, err := c.SendTemplate(t.Context(), "15550100123", Template{
		Name: "appointment_reminder", Language: "en_GB",
		Components: json.RawMessage(`[{"type":"body","parameters":[{"type":"text","text":"Tuesday"}]}]`),
	})
	if err != nil {
		t.Fatalf("SendTemplate() err = %v, want nil", err)
	}
	recs := sb.Messages()
	if len(recs) != 2 || recs[0].WAMID != id || recs[0].WAID != testWAID || recs[1].WAMID != tid || recs[1].WAID != usWAID {
		t.Fatalf("sandbox records = %+v, want the two sends with their wamids", recs)
	}
	if w, err := sandbox.ParseWAMID(id); err != nil || w.Number != testWAID || !w.Outbound {
		t.Errorf("ParseWAMID(sent id) = %+v, %v; want an outbound wamid for %s", w, err, testWAID)
	}

	// The status webhook for that send parses into a status event.
	body, err := sandbox.BuildStatusEvent(sb.Business(), sandbox.StatusEvent{WAMID: id, Status: "failed", RecipientID: testWAID, Time: unix(1767225600), ErrorCode: sandbox.CodeReengagement})
	if err != nil {
		t.Fatalf("BuildStatusEvent() err = %v", err)
	}
	if err := signature.VerifyMeta(body, sandbox.Sign("test-app-secret-0001", body), []byte("test-app-secret-0001")); err != nil {
		t.Errorf("VerifyMeta(sandbox delivery) err = %v, want nil", err)
	}
	env, err := Parse(body)
	evs := Events(env)
	if err != nil || len(evs) != 1 || evs[0].Status.ID != id || evs[0].Status.ErrorCode != sandbox.CodeReengagement || evs[0].PhoneNumberID != sandbox.DefaultPhoneNumberID {
		t.Errorf("Events(Parse(status webhook)) = %+v, %v; want one failed status for the send", evs, err)
	}
}

func TestClientSandboxFaults(t *testing.T) {
	tests := []struct {
		name                 string
		fault                sandbox.Fault
		wantStatus, wantCode int
		throttled, permanent bool
	}{
		{"throughput", sandbox.Fault{Code: sandbox.CodeThroughput}, 429, 130429, true, false},
		{"pair rate limit", sandbox.Fault{Code: sandbox.CodePairRateLimit}, 400, 131056, true, false},
		{"server error", sandbox.Fault{Status: 500, Code: sandbox.CodeSomethingWrong}, 500, 131000, false, false},
		{"undeliverable", sandbox.Fault{Code: sandbox.CodeUndeliverable}, 400, 131026, false, true},
		{"stopped marketing", sandbox.Fault{Code: sandbox.CodeStoppedMarketing}, 400, 131050, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, c := newSandboxClient(t)
			if err := sb.InjectFault(tt.fault); err != nil {
				t.Fatalf("InjectFault() err = %v", err)
			}
			_, err := c.SendText(t.Context(), testWAID, "hello")
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tt.wantStatus || apiErr.Code != tt.wantCode ||
				apiErr.Throttled() != tt.throttled || apiErr.Permanent() != tt.permanent || apiErr.TraceID == "" {
				t.Fatalf("SendText() with fault = %v, want status %d code %d throttled %v permanent %v", err, tt.wantStatus, tt.wantCode, tt.throttled, tt.permanent)
			}
			assertNoSecrets(t, err)
			if _, err := c.SendText(t.Context(), testWAID, "hello"); err != nil {
				t.Errorf("SendText() after the fault err = %v, want nil", err)
			}
		})
	}
}

func TestClientSandboxRevokedToken(t *testing.T) {
	sb, c := newSandboxClient(t)
	if _, err := c.SendText(t.Context(), testWAID, "hello"); err != nil {
		t.Fatalf("SendText() err = %v, want nil", err)
	}
	sb.SetTokens([]string{"EAAtest-some-other-token"})
	_, err := c.SendText(t.Context(), testWAID, "hello")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != 190 || apiErr.Subcode != 463 || !apiErr.Permanent() {
		t.Fatalf("SendText() with a revoked token = %v, want 401 code 190 subcode 463, permanent", err)
	}
	assertNoSecrets(t, err)
}
