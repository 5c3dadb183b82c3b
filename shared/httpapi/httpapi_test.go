package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func wantHeaders(contentType string) map[string]string {
	return map[string]string{"Content-Type": contentType, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name string
		got  Response
		want Response
	}{
		{
			name: "error",
			got:  Error(http.StatusForbidden, "verification_failed", "verification failed"),
			want: Response{StatusCode: 403, Headers: wantHeaders("application/json"),
				Body: `{"error":{"code":"verification_failed","message":"verification failed"}}`},
		},
		{
			name: "error escapes",
			got:  Error(http.StatusBadRequest, "bad_request", `quote " and <tag>`),
			want: Response{StatusCode: 400, Headers: wantHeaders("application/json"),
				Body: `{"error":{"code":"bad_request","message":"quote \" and \u003ctag\u003e"}}`},
		},
		{
			name: "json",
			got:  JSON(http.StatusCreated, map[string]any{"id": "item-1", "n": 2}),
			want: Response{StatusCode: 201, Headers: wantHeaders("application/json"), Body: `{"id":"item-1","n":2}`},
		},
		{
			name: "json unencodable",
			got:  JSON(http.StatusOK, math.Inf(1)),
			want: Response{StatusCode: 500, Headers: wantHeaders("application/json"),
				Body: `{"error":{"code":"internal_error","message":"internal error"}}`},
		},
		{
			name: "text",
			got:  Text(http.StatusOK, "challenge-123"),
			want: Response{StatusCode: 200, Headers: wantHeaders("text/plain; charset=utf-8"), Body: "challenge-123"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrorShape decodes the error body strictly: exactly one "error"
// object with exactly "code" and "message".
func TestErrorShape(t *testing.T) {
	r := Error(http.StatusServiceUnavailable, "dependency_unavailable", "retry later")
	var doc map[string]map[string]string
	if err := json.Unmarshal([]byte(r.Body), &doc); err != nil {
		t.Fatalf("json.Unmarshal(body) err = %v, want nil", err)
	}
	want := map[string]map[string]string{"error": {"code": "dependency_unavailable", "message": "retry later"}}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("error document mismatch (-want +got):\n%s", diff)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		seconds int
		want    string
	}{
		{30, "30"},
		{1, "1"},
		{0, "1"},
		{-5, "1"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("seconds %d", tt.seconds), func(t *testing.T) {
			base := Error(http.StatusTooManyRequests, "rate_limited", "too many requests")
			got := RetryAfter(base, tt.seconds)
			if h := got.Headers["Retry-After"]; h != tt.want {
				t.Errorf("RetryAfter(r, %d) Retry-After = %q, want %q", tt.seconds, h, tt.want)
			}
			if got.StatusCode != 429 || got.Headers["Cache-Control"] != "no-store" {
				t.Errorf("RetryAfter(r, %d) = %d %v, want 429 with the other headers kept", tt.seconds, got.StatusCode, got.Headers)
			}
			if _, ok := base.Headers["Retry-After"]; ok {
				t.Errorf("RetryAfter(r, %d) modified r's headers, want r unchanged", tt.seconds)
			}
		})
	}
	t.Run("zero response", func(t *testing.T) {
		got := RetryAfter(Response{StatusCode: 429}, 5)
		if h := got.Headers["Retry-After"]; h != "5" {
			t.Errorf("RetryAfter(Response{}, 5) Retry-After = %q, want 5", h)
		}
	})
}

// TestHeadersNotShared checks that responses never share a header map, so
// handlers may add headers concurrently.
func TestHeadersNotShared(t *testing.T) {
	a, b := Text(200, "a"), Text(200, "b")
	a.Headers["X-Extra"] = "1"
	if _, ok := b.Headers["X-Extra"]; ok {
		t.Errorf("Text responses share a header map")
	}
	if securityHeaders["X-Extra"] != "" {
		t.Errorf("adding a response header changed the package defaults")
	}
}

func TestWireSize(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want int
	}{
		{"plain", map[string]string{"a": "b"}, len(`"{\"a\":\"b\"}"`) + 1},
		{"escaped twice", "<", len(`"\"\\u003c\""`) + 1},
		{"nil", nil, len(`"null"`) + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := WireSize(tc.v); got != tc.want {
				t.Errorf("WireSize(%v) = %d, want %d", tc.v, got, tc.want)
			}
		})
	}
}
