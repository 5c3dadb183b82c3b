package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// answer is what one request got through the gateway: the status, and
// waguard's error code or API Gateway's message.
type answer struct {
	Status   int
	Code     string // waguard's error code; "" on success or a foreign body
	Message  string // a foreign error body's message (API Gateway's)
	Latency  time.Duration
	Replayed bool
	// RetryAfter is the Retry-After header, if any.
	RetryAfter string
	Body       map[string]any
	Raw        string // the body's start, for answers that are not waguard's
	Err        error  // transport failure (no answer)
}

func (a answer) String() string {
	switch {
	case a.Err != nil:
		return "no answer"
	case a.Code != "":
		return fmt.Sprintf("%d %s", a.Status, a.Code)
	case a.Message != "":
		return fmt.Sprintf("%d %q", a.Status, a.Message)
	}
	return fmt.Sprint(a.Status)
}

// api is the client of one stack's gateway and sandbox.
type api struct {
	gateway, sandbox, key string
	http                  *http.Client
}

func newAPI(s *stack) *api {
	return &api{gateway: s.env["WAGUARD_GATEWAY_URL"], sandbox: s.env["WAGUARD_SANDBOX_URL"], key: s.key,
		http: &http.Client{Timeout: 45 * time.Second}} // the gateway's own limit is 30 s
}

// call sends one API request with the ops key (and an Idempotency-Key
// when idem is not empty).
func (c *api) call(ctx context.Context, method, path, idem string, body any) answer {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.gateway+path, r)
	if err != nil {
		return answer{Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{Err: err, Latency: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Latency: time.Since(start), Replayed: resp.Header.Get("Idempotent-Replayed") == "true",
		RetryAfter: resp.Header.Get("Retry-After")}
	decodeBody(&a, raw)
	return a
}

// decodeBody fills the body, waguard's error code, or a foreign message.
func decodeBody(a *answer, raw []byte) {
	a.Raw = string(raw[:min(len(raw), 160)])
	if json.Unmarshal(raw, &a.Body) != nil && len(raw) > 0 {
		a.Message = strings.TrimSpace(a.Raw) // not JSON: e.g. the RIE's "Task timed out after 10.00 seconds"
		return
	}
	if e, ok := a.Body["error"].(map[string]any); ok {
		a.Code, _ = e["code"].(string)
	} else if m, ok := a.Body["message"].(string); ok {
		a.Message = m
	}
}

// webhook posts a signed Meta delivery to the gateway, as Meta would.
func (c *api) webhook(ctx context.Context, body []byte, signature string) answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.gateway+"/webhooks/meta", bytes.NewReader(body))
	if err != nil {
		return answer{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", signature)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{Err: err, Latency: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Latency: time.Since(start), RetryAfter: resp.Header.Get("Retry-After")}
	decodeBody(&a, raw)
	return a
}

// resumeErasures runs the erase function's 15-minute schedule now.
func (c *api) resumeErasures(ctx context.Context) error {
	if a := c.invoke(ctx, "EraseFunction", `{"action":"resume_pending_erasures"}`); a.Err != nil || a.Status != http.StatusOK {
		return fmt.Errorf("invoke the erasure schedule: %s", a)
	}
	return nil
}

// invoke runs function fn with event now, as its schedule would
// (schedules do not fire on the local stack), and returns its answer.
func (c *api) invoke(ctx context.Context, fn, event string) answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.gateway+"/_local/invoke/"+fn, strings.NewReader(event))
	if err != nil {
		return answer{Err: err}
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{Err: err, Latency: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Latency: time.Since(start)}
	decodeBody(&a, raw)
	return a
}

// fault queues a sandbox fault (see devstack/sandbox Fault).
func (c *api) fault(ctx context.Context, f map[string]any) error {
	return c.sandboxDo(ctx, http.MethodPost, "/_sandbox/faults", f, nil)
}

// pendingFaults is the number of sandbox faults not consumed yet.
func (c *api) pendingFaults(ctx context.Context) (int, error) {
	var q []json.RawMessage
	err := c.sandboxDo(ctx, http.MethodGet, "/_sandbox/faults", nil, &q)
	return len(q), err
}

// sends counts the messages the sandbox accepted for a recipient.
func (c *api) sends(ctx context.Context, to string) (int, error) {
	var recs []struct {
		Request struct {
			To string `json:"to"`
		} `json:"request"`
	}
	if err := c.sandboxDo(ctx, http.MethodGet, "/_sandbox/messages", nil, &recs); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		if strings.TrimPrefix(r.Request.To, "+") == strings.TrimPrefix(to, "+") {
			n++
		}
	}
	return n, nil
}

func (c *api) sandboxDo(ctx context.Context, method, path string, in, out any) error {
	var r io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.sandbox+path, r)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("sandbox %s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
