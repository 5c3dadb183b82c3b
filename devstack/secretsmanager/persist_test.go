package secretsmanager

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func call(t *testing.T, s *Server, op, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "secretsmanager."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestStatePathKeepsSecretsBetweenRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	first := New(Options{StatePath: path})
	if code, body := call(t, first, "CreateSecret", `{"Name":"app/one","SecretString":"v1","ClientRequestToken":"`+strings.Repeat("b", 32)+`"}`); code != 200 {
		t.Fatalf("CreateSecret status = %d, body %s", code, body)
	}
	token := strings.Repeat("a", 32)
	if code, body := call(t, first, "PutSecretValue", `{"SecretId":"app/one","SecretString":"v2","ClientRequestToken":"`+token+`"}`); code != 200 {
		t.Fatalf("PutSecretValue status = %d, body %s", code, body)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file = %v (err %v), want mode 0600", info, err)
	}
	second := New(Options{StatePath: path})
	for _, tc := range []struct{ stage, want string }{{"AWSCURRENT", `"v2"`}, {"AWSPREVIOUS", `"v1"`}} {
		code, body := call(t, second, "GetSecretValue", `{"SecretId":"app/one","VersionStage":"`+tc.stage+`"}`)
		if code != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("GetSecretValue(%s) after reload = %d %s, want %s", tc.stage, code, body, tc.want)
		}
	}
}

func TestCorruptStateRefusesRequests(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := New(Options{StatePath: path})
	if s.LoadError() == nil {
		t.Fatal("LoadError() = nil, want an error for a corrupt state file")
	}
	if code, _ := call(t, s, "ListSecrets", `{}`); code == 200 {
		t.Errorf("ListSecrets status = 200, want a refusal while the state is unreadable")
	}
}
