package sandbox

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaultInjection(t *testing.T) {
	tests := []struct {
		file        string
		wantStatus  []int // statuses of consecutive sends
		wantCode    int
		wantSubcode int
		wantDetails string
		minDelay    time.Duration
	}{
		{"throughput_twice.json", []int{429, 429, 200}, CodeThroughput, 0, "throughput has been reached", 0},
		{"server_error.json", []int{500, 200}, CodeSomethingWrong, 0, "unknown error", 0},
		{"reengagement.json", []int{400, 200}, CodeReengagement, 0, "24 hours", 0},
		{"stopped_marketing.json", []int{400, 200}, CodeStoppedMarketing, 0, "marketing messages", 0},
		{"pair_rate_limit.json", []int{400, 200}, CodePairRateLimit, 0, "Pair rate limit (sandbox).", 0},
		{"unavailable_subcode.json", []int{503, 200}, 2, 99, "", 0},
		{"undeliverable_delayed.json", []int{400, 200}, CodeUndeliverable, 0, "Undeliverable", 50 * time.Millisecond},
		{"delay_only.json", []int{200, 200}, 0, 0, "", 150 * time.Millisecond},
	}
	sb, srv := newTestSandbox(t, Options{})
	send := readTestdata(t, "send/text.json")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			sb.ResetMessages()
			if r := do(t, http.MethodPost, srv.URL+"/_sandbox/faults", "", readTestdata(t, "faults/"+tt.file)); r.status != http.StatusCreated {
				t.Fatalf("POST /_sandbox/faults status = %d (%s), want 201", r.status, r.body)
			}
			start := time.Now()
			r := do(t, http.MethodPost, sendURL(srv), testToken, send)
			if elapsed := time.Since(start); elapsed < tt.minDelay {
				t.Errorf("first send took %v, want at least %v", elapsed, tt.minDelay)
			}
			checkFaulted(t, r, tt.wantStatus[0], tt.wantCode, tt.wantSubcode, tt.wantDetails)
			for i, want := range tt.wantStatus[1:] {
				if r := do(t, http.MethodPost, sendURL(srv), testToken, send); r.status != want {
					t.Errorf("send %d status = %d (%s), want %d", i+2, r.status, r.body, want)
				}
			}
			accepted := 0
			for _, s := range tt.wantStatus {
				if s == http.StatusOK {
					accepted++
				}
			}
			if got := len(sb.Messages()); got != accepted {
				t.Errorf("Messages() = %d records, want %d (faulted sends are not recorded)", got, accepted)
			}
		})
	}
}

// checkFaulted checks the first answer after a fault was queued.
func checkFaulted(t *testing.T, r response, status, code, subcode int, details string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("faulted send status = %d (%s), want %d", r.status, r.body, status)
	}
	if code == 0 {
		return
	}
	got := decodeAPIError(t, r.body)
	gotDetails := ""
	if got.Data != nil {
		gotDetails = got.Data.Details
	}
	if got.Code != code || got.Subcode != subcode || !strings.HasPrefix(got.Message, "(#") ||
		!strings.Contains(gotDetails, details) {
		t.Errorf("faulted send error = %+v (details %q), want code %d subcode %d details containing %q",
			got, gotDetails, code, subcode, details)
	}
}

func TestFaultRoutes(t *testing.T) {
	tests := []struct {
		file       string
		wantStatus int
	}{
		{"bad_status.json", http.StatusBadRequest},
		{"bad_count.json", http.StatusBadRequest},
		{"bad_unknown_field.json", http.StatusBadRequest},
		{"bad_delay.json", http.StatusBadRequest},
		{"bad_body.json", http.StatusBadRequest},
		{"bad_body_code.json", http.StatusBadRequest},
		{"bad_body_status.json", http.StatusBadRequest},
		{"bad_accept.json", http.StatusBadRequest},
		{"server_error.json", http.StatusCreated},
	}
	sb, srv := newTestSandbox(t, Options{})
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := do(t, http.MethodPost, srv.URL+"/_sandbox/faults", "", readTestdata(t, "faults/"+tt.file))
			if r.status != tt.wantStatus {
				t.Errorf("POST /_sandbox/faults %s status = %d (%s), want %d", tt.file, r.status, r.body, tt.wantStatus)
			}
		})
	}
	if got := sb.Faults(); len(got) != 1 || got[0].Code != CodeSomethingWrong || got[0].Count != 1 {
		t.Errorf("Faults() = %+v, want one 131000 fault", got)
	}
	if r := do(t, http.MethodDelete, srv.URL+"/_sandbox/faults", "", nil); r.status != http.StatusNoContent {
		t.Errorf("DELETE /_sandbox/faults status = %d, want 204", r.status)
	}
	if r := do(t, http.MethodPost, sendURL(srv), testToken, readTestdata(t, "send/text.json")); r.status != http.StatusOK {
		t.Errorf("send after DELETE /_sandbox/faults status = %d, want 200", r.status)
	}
	if err := sb.InjectFault(Fault{Count: maxFaultCount + 1}); !errors.Is(err, ErrBadFault) {
		t.Errorf("InjectFault(count too high) err = %v, want ErrBadFault", err)
	}
}

func TestFaultDelayHonoursClientCancel(t *testing.T) {
	sb, srv := newTestSandbox(t, Options{})
	if err := sb.InjectFault(Fault{DelayMS: 30000}); err != nil {
		t.Fatalf("InjectFault(delay) err = %v, want nil", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, sendURL(srv), strings.NewReader(string(readTestdata(t, "send/text.json"))))
	req.Header.Set("Authorization", "Bearer "+testToken)
	start := time.Now()
	if _, err := loopbackClient().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("send with 100ms deadline err = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("send with 100ms deadline took %v, want prompt return", elapsed)
	}
	if got := len(sb.Messages()); got != 0 {
		t.Errorf("Messages() after abandoned send = %d, want 0", got)
	}
}

// TestGatewayFaults: a fault with a body answers as a gateway in front of
// the Cloud API does (no Graph error), and an accepting fault keeps the
// message although the answer says it failed.
func TestGatewayFaults(t *testing.T) {
	tests := []struct {
		file         string
		wantStatus   []int // statuses of consecutive sends
		wantType     string
		wantBody     string // a substring; empty means an empty body
		wantAccepted int
	}{
		{"gateway_502_empty.json", []int{502, 200}, "", "", 1},
		{"gateway_504_html.json", []int{504, 504, 200}, "text/html", "<h1>504 Gateway Timeout</h1>", 1},
		{"accepted_502_empty.json", []int{502, 200}, "", "", 2},
	}
	sb, srv := newTestSandbox(t, Options{})
	send := readTestdata(t, "send/text.json")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			sb.ResetMessages()
			if r := do(t, http.MethodPost, srv.URL+"/_sandbox/faults", "", readTestdata(t, "faults/"+tt.file)); r.status != http.StatusCreated {
				t.Fatalf("POST /_sandbox/faults status = %d (%s), want 201", r.status, r.body)
			}
			for i, want := range tt.wantStatus {
				r := do(t, http.MethodPost, sendURL(srv), testToken, send)
				if r.status != want {
					t.Fatalf("send %d status = %d (%s), want %d", i+1, r.status, r.body, want)
				}
				if want == http.StatusOK {
					continue
				}
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) || (tt.wantType == "" && ct != "") {
					t.Errorf("send %d Content-Type = %q, want %q", i+1, ct, tt.wantType)
				}
				if (tt.wantBody == "") != (len(r.body) == 0) || !strings.Contains(string(r.body), tt.wantBody) || strings.Contains(string(r.body), `"error"`) {
					t.Errorf("send %d body = %q, want %q and no Graph error", i+1, r.body, tt.wantBody)
				}
			}
			recs := sb.Messages()
			if len(recs) != tt.wantAccepted || recs[0].WAMID == "" {
				t.Errorf("Messages() = %+v, want %d accepted sends with wamids", recs, tt.wantAccepted)
			}
		})
	}
}
