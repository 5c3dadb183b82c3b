package loopback

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIsURL(t *testing.T) {
	tests := []struct {
		u    string
		want bool
	}{
		{"http://127.0.0.1:8000", true},
		{"http://127.9.9.9/x", true},
		{"http://[::1]:3000/", true},
		{"http://localhost:3000", false},
		{"https://dynamodb.eu-west-2.amazonaws.com", false},
		{"http://10.0.0.1", false},
		{"", false},
		{"::not a url", false},
	}
	for _, tt := range tests {
		if got := IsURL(tt.u); got != tt.want {
			t.Errorf("IsURL(%q) = %v, want %v", tt.u, got, tt.want)
		}
	}
}

func TestOnly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer srv.Close()
	c := &http.Client{Transport: Only(http.DefaultTransport)}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("Get(loopback) err = %v, want nil", err)
	}
	resp.Body.Close()
	for _, u := range []string{"http://192.0.2.1/", "http://localhost" + strings.TrimPrefix(srv.URL, "http://127.0.0.1")} {
		if resp, err := c.Get(u); err == nil || !strings.Contains(err.Error(), "non-loopback request refused") {
			if resp != nil {
				resp.Body.Close()
			}
			t.Errorf("Get(%s) err = %v, want a refusal", u, err)
		}
	}
}
