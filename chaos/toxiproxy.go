package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// ToxiproxyVersion is the Toxiproxy release `make chaos` installs and this
// client speaks to.
const ToxiproxyVersion = "v2.12.0"

// Toxiproxy drives a Toxiproxy server through its HTTP API (the subset the
// chaos suite uses: proxies, toxics, reset). It is a small hand-written
// client rather than github.com/Shopify/toxiproxy/v2/client, so that the
// main module does not depend on Toxiproxy's own dependencies.
type Toxiproxy struct {
	// URL is the API address, e.g. http://127.0.0.1:8474.
	URL string
	// HTTP is the client used (default: one with a 10 s timeout).
	HTTP *http.Client
}

// Proxy is one TCP proxy: Listen and Upstream are host:port addresses.
type Proxy struct {
	Name     string `json:"name"`
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
	Enabled  bool   `json:"enabled"`
}

// Toxic is a fault on one direction of a proxy's traffic: Type is one of
// Toxiproxy's toxics ("latency", "timeout", "reset_peer", …), Stream is
// "upstream" (client to server) or "downstream", Toxicity the share of
// connections affected (0 means 1), and Attributes the toxic's settings,
// e.g. {"latency": 3000} in milliseconds.
type Toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float64        `json:"toxicity,omitempty"`
	Attributes map[string]any `json:"attributes"`
}

// CreateProxy creates p (enabled or not, as p says).
func (t *Toxiproxy) CreateProxy(ctx context.Context, p Proxy) error {
	return t.do(ctx, http.MethodPost, "/proxies", p, http.StatusCreated)
}

// SetEnabled starts or stops proxy name. A stopped proxy closes its
// listener and every open connection, so clients get "connection refused".
func (t *Toxiproxy) SetEnabled(ctx context.Context, name string, enabled bool) error {
	return t.do(ctx, http.MethodPost, "/proxies/"+url.PathEscape(name), map[string]bool{"enabled": enabled}, http.StatusOK)
}

// AddToxic adds x to proxy name; it applies to new and open connections.
func (t *Toxiproxy) AddToxic(ctx context.Context, name string, x Toxic) error {
	if x.Toxicity == 0 {
		x.Toxicity = 1
	}
	return t.do(ctx, http.MethodPost, "/proxies/"+url.PathEscape(name)+"/toxics", x, http.StatusOK)
}

// RemoveToxic removes toxic from proxy name.
func (t *Toxiproxy) RemoveToxic(ctx context.Context, name, toxic string) error {
	return t.do(ctx, http.MethodDelete, "/proxies/"+url.PathEscape(name)+"/toxics/"+url.PathEscape(toxic), nil, http.StatusNoContent)
}

// Reset enables every proxy and removes every toxic.
func (t *Toxiproxy) Reset(ctx context.Context) error {
	return t.do(ctx, http.MethodPost, "/reset", nil, http.StatusNoContent)
}

func (t *Toxiproxy) do(ctx context.Context, method, path string, body any, want int) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("toxiproxy %s %s: %w", method, path, err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.URL+path, r)
	if err != nil {
		return fmt.Errorf("toxiproxy %s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "waguard-chaos") // the API refuses browsers
	c := t.HTTP
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("toxiproxy %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != want {
		return fmt.Errorf("toxiproxy %s %s: status %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}
