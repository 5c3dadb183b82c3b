package stackcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
)

// answer is an HTTP response as the probes judge it.
type answer struct {
	status int
	code   string // error.code of waguard's error document, if any
	body   map[string]any
	header http.Header
}

func (a answer) String() string {
	if a.code != "" {
		return fmt.Sprintf("%d %s", a.status, a.code)
	}
	return strconv.Itoa(a.status)
}

// call sends one request to the gateway. A 429 with a Retry-After of at
// most a minute (flood control, shared by every client on this address) is
// waited out once, so another test run cannot make a check flaky.
func (c *Checker) call(ctx context.Context, method, path string, body []byte, header http.Header) (answer, error) {
	a, err := c.send(ctx, method, path, body, header)
	if err != nil || a.status != http.StatusTooManyRequests || a.code != "rate_limited" {
		return a, err
	}
	wait, perr := strconv.Atoi(a.header.Get("Retry-After"))
	if perr != nil || wait > 61 {
		return a, nil
	}
	select {
	case <-ctx.Done():
		return a, ctx.Err()
	case <-time.After(time.Duration(wait+1) * time.Second):
	}
	return c.send(ctx, method, path, body, header)
}

func (c *Checker) send(ctx context.Context, method, path string, body []byte, header http.Header) (answer, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, strings.TrimSuffix(c.cfg.GatewayURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: bad request", method, path)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.web.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: gateway unreachable", method, path)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := answer{status: resp.StatusCode, header: resp.Header}
	_ = json.Unmarshal(raw, &a.body)
	if e, ok := a.body["error"].(map[string]any); ok {
		a.code, _ = e["code"].(string)
	}
	return a, nil
}

// callJSON sends body as JSON with the probe client's API key.
func (c *Checker) callJSON(ctx context.Context, method, path string, body any, key string) (answer, error) {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	h := http.Header{}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	return c.call(ctx, method, path, b, h)
}

// judgeUnauthenticated decides the authentication item from the answers to
// a send without a key and with a wrong one.
func judgeUnauthenticated(none, wrong answer) checklist.Finding {
	const id = checklist.APIAuthentication
	for _, a := range []answer{none, wrong} {
		if a.status != http.StatusUnauthorized || a.code != "unauthenticated" {
			return checklist.Failf(id, checklist.Stack, fmt.Sprintf("POST /v1/messages without a valid key → %s, want 401 unauthenticated", a))
		}
	}
	if !strings.HasPrefix(none.header.Get("WWW-Authenticate"), "Bearer") {
		return checklist.Failf(id, checklist.Stack, "401 without WWW-Authenticate: Bearer")
	}
	return checklist.Passf(id, checklist.Stack, "POST /v1/messages with no key → 401 unauthenticated, with a wrong key → 401 unauthenticated")
}

func (c *Checker) checkAuthentication(ctx context.Context) checklist.Finding {
	body := map[string]any{"to": "+12015550100", "purpose": "transactional", "text": "compliance check"}
	none, err := c.callJSON(ctx, http.MethodPost, "/v1/messages", body, "")
	if err != nil {
		return checklist.Failf(checklist.APIAuthentication, checklist.Stack, err.Error())
	}
	wrong, err := c.callJSON(ctx, http.MethodPost, "/v1/messages", body, "wg_"+c.cfg.APIClientID+"_not-the-key-0000000000000000")
	if err != nil {
		return checklist.Failf(checklist.APIAuthentication, checklist.Stack, err.Error())
	}
	return judgeUnauthenticated(none, wrong)
}
