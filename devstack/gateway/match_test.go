package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testRoutes = []Route{
	{Method: "GET", Path: "/v1/items/{id}", Function: "GetItem"},
	{Method: "GET", Path: "/v1/items/special", Function: "Special"},
	{Method: "POST", Path: "/v1/items", Function: "PutItem"},
	{Method: "GET", Path: "/v1/users/{user}/items/{id}", Function: "UserItem"},
	{Method: "ANY", Path: "/files/{proxy+}", Function: "Files"},
	{Method: "GET", Path: "/files/readme", Function: "Readme"},
}

func TestMatch(t *testing.T) {
	g := New(testRoutes, nil, false)
	tests := []struct {
		name, method, path string
		wantFn             string
		wantParams         map[string]string
		wantOK             bool
	}{
		{name: "exact beats templated", method: "GET", path: "/v1/items/special", wantFn: "Special", wantOK: true},
		{name: "templated", method: "GET", path: "/v1/items/item-1", wantFn: "GetItem", wantParams: map[string]string{"id": "item-1"}, wantOK: true},
		{name: "two variables", method: "GET", path: "/v1/users/u1/items/i2", wantFn: "UserItem", wantParams: map[string]string{"user": "u1", "id": "i2"}, wantOK: true},
		{name: "trailing slash", method: "GET", path: "/v1/items/item-1/", wantFn: "GetItem", wantParams: map[string]string{"id": "item-1"}, wantOK: true},
		{name: "exact without params", method: "POST", path: "/v1/items", wantFn: "PutItem", wantOK: true},
		{name: "escaped space decoded", method: "GET", path: "/v1/items/a%20b", wantFn: "GetItem", wantParams: map[string]string{"id": "a b"}, wantOK: true},
		{name: "escaped slash stays in one segment", method: "GET", path: "/v1/items/a%2Fb", wantFn: "GetItem", wantParams: map[string]string{"id": "a/b"}, wantOK: true},
		{name: "escaped percent decoded once", method: "GET", path: "/v1/items/a%2520", wantFn: "GetItem", wantParams: map[string]string{"id": "a%20"}, wantOK: true},
		{name: "invalid escape", method: "GET", path: "/v1/items/a%zz", wantOK: false},
		{name: "empty variable", method: "GET", path: "/v1/users//items/i2", wantOK: false},
		{name: "proxy one segment", method: "DELETE", path: "/files/a", wantFn: "Files", wantParams: map[string]string{"proxy": "a"}, wantOK: true},
		{name: "proxy many segments", method: "PUT", path: "/files/a/b%20c/d", wantFn: "Files", wantParams: map[string]string{"proxy": "a/b c/d"}, wantOK: true},
		{name: "exact beats proxy", method: "GET", path: "/files/readme", wantFn: "Readme", wantOK: true},
		{name: "proxy needs a segment", method: "GET", path: "/files", wantOK: false},
		{name: "method mismatch", method: "DELETE", path: "/v1/items/item-1", wantOK: false},
		{name: "too many segments", method: "GET", path: "/v1/items/item-1/extra", wantOK: false},
		{name: "unknown path", method: "GET", path: "/v2/items", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, params, ok := g.match(tt.method, tt.path)
			if ok != tt.wantOK {
				t.Fatalf("match(%s, %s) ok = %v, want %v", tt.method, tt.path, ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if rt.Function != tt.wantFn {
				t.Errorf("match(%s, %s) function = %q, want %q", tt.method, tt.path, rt.Function, tt.wantFn)
			}
			if diff := cmp.Diff(tt.wantParams, params); diff != "" {
				t.Errorf("match(%s, %s) params mismatch (-want +got):\n%s", tt.method, tt.path, diff)
			}
		})
	}
}

// TestServeHTTPMatchesEscapedPath checks that the gateway decodes path
// parameters exactly once, from the path as sent.
func TestServeHTTPMatchesEscapedPath(t *testing.T) {
	tests := []struct {
		name, target, wantID string
	}{
		{name: "percent", target: "/v1/items/50%25", wantID: "50%"},
		{name: "double escaped", target: "/v1/items/a%2520", wantID: "a%20"},
		{name: "slash", target: "/v1/items/a%2Fb", wantID: "a/b"},
		{name: "utf-8", target: "/v1/items/caf%C3%A9", wantID: "café"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &recordingInvoker{out: []byte(`{}`)}
			rec := httptest.NewRecorder()
			New(testRoutes, inv, false).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.target, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s status = %d, want 200", tt.target, rec.Code)
			}
			ev := inv.event(t)
			if got := ev.PathParameters["id"]; got != tt.wantID {
				t.Errorf("GET %s pathParameters.id = %q, want %q", tt.target, got, tt.wantID)
			}
			if ev.RawPath != tt.target {
				t.Errorf("GET %s rawPath = %q, want %q", tt.target, ev.RawPath, tt.target)
			}
		})
	}
}

func FuzzMatchPath(f *testing.F) {
	for _, s := range [][2]string{
		{"/v1/items/{id}", "/v1/items/item-1"},
		{"/files/{proxy+}", "/files/a/b/c"},
		{"/", "/"},
		{"/a/{b}/c/{d}", "/a/%2F/c/%zz"},
		{"/{proxy+}", ""},
		{"{", "}"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, tmpl, path string) {
		params, vars, ok := matchPath(tmpl, path)
		if !ok {
			if params != nil || vars != 0 {
				t.Fatalf("matchPath(%q, %q) = %v, %d, false; want nil, 0", tmpl, path, params, vars)
			}
			return
		}
		// A greedy {proxy+} match counts 100 extra, so it loses to any
		// route with plain variables.
		if vars != len(params) && vars != len(params)+100 {
			t.Fatalf("matchPath(%q, %q) vars = %d, want %d or %d (params %v)", tmpl, path, vars, len(params), len(params)+100, params)
		}
		if !strings.Contains(tmpl, "{") {
			if params != nil || strings.Trim(tmpl, "/") != strings.Trim(path, "/") {
				t.Fatalf("matchPath(%q, %q) = %v, true; want a literal template to match only itself", tmpl, path, params)
			}
		}
	})
}
