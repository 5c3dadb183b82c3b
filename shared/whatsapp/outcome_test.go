package whatsapp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestClassify is the provider-answer table: what each answer proves
// about the message.
func TestClassify(t *testing.T) {
	api := func(status, code int) error {
		return fmt.Errorf("send text: %w", &APIError{Status: status, Code: code})
	}
	tests := []struct {
		name string
		err  error
		want Outcome
	}{
		{"accepted", nil, OutcomeSent},
		// Meta's codes that refuse the request before processing it.
		{"throughput 130429", api(429, 130429), OutcomeRefusedRetryable},
		{"pair rate limit 131056", api(400, 131056), OutcomeRefusedRetryable},
		{"spam rate limit 131048", api(400, 131048), OutcomeRefusedRetryable},
		{"app rate limit 4", api(400, 4), OutcomeRefusedRetryable},
		{"WABA rate limit 80007", api(400, 80007), OutcomeRefusedRetryable},
		{"registration rate limit 133016", api(400, 133016), OutcomeRefusedRetryable},
		{"failed to send 131000", api(500, 131000), OutcomeRefusedRetryable},
		{"service unavailable 131016", api(503, 131016), OutcomeRefusedRetryable},
		{"service temporarily unavailable 2", api(503, 2), OutcomeRefusedRetryable},
		{"server temporarily unavailable 133004", api(503, 133004), OutcomeRefusedRetryable},
		{"429 without Meta's body", api(429, 0), OutcomeRefusedRetryable},
		{"408 without Meta's body", api(408, 0), OutcomeRefusedRetryable},
		// Meta's (or a gateway's) refusals.
		{"invalid token 190", api(401, 190), OutcomeRefusedPermanent},
		{"undeliverable 131026", api(400, 131026), OutcomeRefusedPermanent},
		{"stopped marketing 131050", api(400, 131050), OutcomeRefusedPermanent},
		{"window closed 131047", api(400, 131047), OutcomeRefusedPermanent},
		{"invalid parameter 100", api(400, 100), OutcomeRefusedPermanent},
		{"unknown error 1 as 400", api(400, 1), OutcomeRefusedPermanent},
		{"gateway 401 without Meta's body", api(401, 0), OutcomeRefusedPermanent},
		{"gateway 403 without Meta's body", api(403, 0), OutcomeRefusedPermanent},
		{"gateway 404 without Meta's body", api(404, 0), OutcomeRefusedPermanent},
		{"invalid message, no request", fmt.Errorf("send text: %w", ErrInvalidMessage), OutcomeRefusedPermanent},
		// No connection: nothing was written.
		{"connection refused before writing", fmt.Errorf("send text: %w: %w", ErrNotSent, errors.New("dial tcp: connection refused")), OutcomeRefusedRetryable},
		// Nothing proves the message was not accepted.
		{"502 without Meta's body", api(502, 0), OutcomeUnknown},
		{"504 without Meta's body", api(504, 0), OutcomeUnknown},
		{"503 without Meta's body", api(503, 0), OutcomeUnknown},
		{"500 without Meta's body", api(500, 0), OutcomeUnknown},
		{"500 with code 1 (possible server error)", api(500, 1), OutcomeUnknown},
		{"500 with an undocumented code", api(500, 3), OutcomeUnknown},
		{"redirect", api(307, 0), OutcomeUnknown},
		{"2xx without an id", fmt.Errorf("send text: %w", ErrBadResponse), OutcomeUnknown},
		{"timeout after writing", fmt.Errorf("send text: %w", context.DeadlineExceeded), OutcomeUnknown},
		{"reset after writing", fmt.Errorf("send text: %w", io.ErrUnexpectedEOF), OutcomeUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if got, want := Classify(tt.err).NotSent(), tt.want == OutcomeRefusedRetryable || tt.want == OutcomeRefusedPermanent; got != want {
				t.Errorf("Classify(%v).NotSent() = %v, want %v", tt.err, got, want)
			}
		})
	}
}

// TestSendTransportOutcomes: a failure before a connection was open
// proves nothing was sent; one after the request was written does not.
func TestSendTransportOutcomes(t *testing.T) {
	// A port nothing listens on: the dial is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close()

	// A server that reads the request and drops the connection.
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(reset.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	// A server that only speaks TLS 1.1: the handshake fails.
	old := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	old.TLS = &tls.Config{MaxVersion: tls.VersionTLS11}
	old.Config.ErrorLog = log.New(io.Discard, "", 0)
	old.StartTLS()
	t.Cleanup(old.Close)

	tests := []struct {
		name    string
		baseURL string
		timeout time.Duration
		want    Outcome
	}{
		{"connection refused", refused, time.Second, OutcomeRefusedRetryable},
		{"host outside loopback (never dialled)", "https://graph.invalid", time.Second, OutcomeRefusedRetryable},
		{"TLS handshake refused", old.URL, time.Second, OutcomeRefusedRetryable},
		{"connection dropped after the request", reset.URL, time.Second, OutcomeUnknown},
		{"no answer before the deadline", slow.URL, 100 * time.Millisecond, OutcomeUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(testToken, testPNID)
			if err != nil {
				t.Fatal(err)
			}
			c.BaseURL, c.HTTP = tt.baseURL, loopbackClient()
			ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
			defer cancel()
			_, err = c.SendText(ctx, testWAID, "hello")
			if got := Classify(err); got != tt.want {
				t.Errorf("SendText() err = %v: Classify() = %v, want %v", err, got, tt.want)
			}
			if err != nil {
				assertNoSecrets(t, err)
			}
		})
	}
}
