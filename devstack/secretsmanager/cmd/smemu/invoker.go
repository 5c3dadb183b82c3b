package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// httpInvoker delivers rotation events by POSTing them to one URL, such as
// the invocation endpoint of the Lambda runtime interface emulator. It
// ignores the function ARN.
type httpInvoker struct {
	url    string
	client *http.Client
}

// Invoke POSTs payload and reports a non-2xx status or a Lambda function
// error (an X-Amz-Function-Error header, or a body with errorType) as an
// error.
func (h *httpInvoker) Invoke(ctx context.Context, _ string, payload []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("build invoke request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read invoke response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("invoke: status %d", resp.StatusCode)
	}
	var fnErr struct {
		ErrorType string `json:"errorType"`
	}
	_ = json.Unmarshal(body, &fnErr) // a non-object body is a successful result
	if resp.Header.Get("X-Amz-Function-Error") != "" || fnErr.ErrorType != "" {
		return fmt.Errorf("function error: %s", fnErr.ErrorType)
	}
	return nil
}
