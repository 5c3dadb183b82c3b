package lambdapool

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrefixWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"one line", []string{"hello\n"}, "[fn#1] hello\n"},
		{"two lines in one write", []string{"a\nb\n"}, "[fn#1] a\n[fn#1] b\n"},
		{"line split across writes", []string{"par", "tial", " line\n"}, "[fn#1] partial line\n"},
		{"partial line buffered", []string{"done\nstill wri"}, "[fn#1] done\n"},
		{"empty lines", []string{"\n\n"}, "[fn#1] \n[fn#1] \n"},
		{"empty write", []string{""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			w := &prefixWriter{prefix: "[fn#1] ", w: &out}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", s, n, err, len(s))
				}
			}
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// errWriter fails every write.
type errWriter struct{ err error }

func (e errWriter) Write([]byte) (int, error) { return 0, e.err }

func TestPrefixWriterError(t *testing.T) {
	want := errors.New("disk full")
	w := &prefixWriter{prefix: "> ", w: errWriter{want}}
	if n, err := w.Write([]byte("x\n")); n != 2 || !errors.Is(err, want) {
		t.Errorf("Write(x\\n) = %d, %v; want 2, %v", n, err, want)
	}
}

func TestIsErrorDocument(t *testing.T) {
	tests := []struct {
		name, body string
		want       bool
	}{
		{"runtime error", `{"errorMessage":"boom","errorType":"Err"}`, true},
		{"with stack trace", `{"errorMessage":"boom","errorType":"Err","stackTrace":[]}`, true},
		{"result with extra fields", `{"errorMessage":"m","errorType":"t","a":1,"b":2}`, false},
		{"message only", `{"errorMessage":"boom"}`, false},
		{"type only", `{"errorType":"Err"}`, false},
		{"ordinary result", `{"statusCode":200,"body":"ok"}`, false},
		{"array", `[1,2]`, false},
		{"string", `"errorMessage"`, false},
		{"not json", `oops`, false},
		{"empty", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isErrorDocument([]byte(tt.body)); got != tt.want {
				t.Errorf("isErrorDocument(%s) = %v, want %v", tt.body, got, tt.want)
			}
		})
	}
}

func TestIsFunctionError(t *testing.T) {
	fe := &FunctionError{Payload: []byte(`{}`)}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"function error", fe, true},
		{"wrapped", fmt.Errorf("invoke: %w", fe), true},
		{"transport error", errors.New("connection refused"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsFunctionError(tt.err); got != tt.want {
				t.Errorf("IsFunctionError(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if got := fe.Error(); got != "function error" {
		t.Errorf("FunctionError.Error() = %q, want %q (no payload)", got, "function error")
	}
}

// TestTimeoutIsAFunctionError checks that the emulator's plain-text
// timeout answer (status 200) becomes a function error, as Lambda reports
// it, and never a 200 result the gateway would pass on.
func TestTimeoutIsAFunctionError(t *testing.T) {
	for body, want := range map[string]bool{
		"Task timed out after 10.00 seconds":                         true,
		"Task timed out after 3 seconds\n":                           true,
		`{"statusCode":200,"body":"Task timed out after 1 seconds"}`: false,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }))
		_, err := invoke(context.Background(), strings.TrimPrefix(srv.URL, "http://"), []byte(`{}`), 1)
		srv.Close()
		if got := IsFunctionError(err); got != want {
			t.Errorf("invoke answered %q: function error = %v (err %v), want %v", body, got, err, want)
		}
	}
}
