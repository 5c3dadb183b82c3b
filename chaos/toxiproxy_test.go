package chaos

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestToxiproxyRequests pins the API calls against Toxiproxy's HTTP API
// (api.go of github.com/Shopify/toxiproxy/v2 at ToxiproxyVersion).
func TestToxiproxyRequests(t *testing.T) {
	tests := []struct {
		name                   string
		call                   func(*Toxiproxy) error
		status                 int
		method, path, wantBody string
	}{
		{"create proxy", func(c *Toxiproxy) error {
			return c.CreateProxy(context.Background(), Proxy{Name: "kms", Listen: "127.0.0.1:1", Upstream: "127.0.0.1:2", Enabled: true})
		}, 201, "POST", "/proxies", `{"name":"kms","listen":"127.0.0.1:1","upstream":"127.0.0.1:2","enabled":true}`},
		{"disable proxy", func(c *Toxiproxy) error { return c.SetEnabled(context.Background(), "kms", false) },
			200, "POST", "/proxies/kms", `{"enabled":false}`},
		{"add latency", func(c *Toxiproxy) error {
			return c.AddToxic(context.Background(), "secretsmanager", Toxic{Name: "slow", Type: "latency", Stream: "downstream",
				Attributes: map[string]any{"latency": 3000}})
		}, 200, "POST", "/proxies/secretsmanager/toxics",
			`{"name":"slow","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":3000}}`},
		{"remove toxic", func(c *Toxiproxy) error { return c.RemoveToxic(context.Background(), "kms", "slow") },
			204, "DELETE", "/proxies/kms/toxics/slow", ``},
		{"reset", func(c *Toxiproxy) error { return c.Reset(context.Background()) }, 204, "POST", "/reset", ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var method, path, body, agent string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				method, path, body, agent = r.Method, r.URL.Path, string(b), r.UserAgent()
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			if err := tc.call(&Toxiproxy{URL: srv.URL}); err != nil {
				t.Fatalf("call err = %v, want nil", err)
			}
			if method != tc.method || path != tc.path || body != tc.wantBody {
				t.Errorf("request = %s %s %s, want %s %s %s", method, path, body, tc.method, tc.path, tc.wantBody)
			}
			if strings.HasPrefix(agent, "Mozilla/") {
				t.Errorf("User-Agent %q: Toxiproxy refuses browsers", agent)
			}
		})
	}
}

func TestToxiproxyErrorStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":"proxy not found","status":404}`, http.StatusNotFound)
	}))
	defer srv.Close()
	err := (&Toxiproxy{URL: srv.URL}).SetEnabled(context.Background(), "nope", true)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("SetEnabled() err = %v, want the 404", err)
	}
}
