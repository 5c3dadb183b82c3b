package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/waguard/waguard/devstack/iamguard"
)

// stackServing answers /_local/iam/usage as waguard-dev does: with usage,
// or 404 when status is set (IAM not enforced).
func stackServing(t *testing.T, usage iamguard.Usage, status int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_local/iam/usage" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		if status != 0 {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"message":"IAM is not enforced on this stack"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(usage)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRun(t *testing.T) {
	put := iamguard.Grant{Function: "EraseFunction", Sid: "KeysTable", Action: "dynamodb:PutItem", Resource: "arn:t/keys"}
	get := iamguard.Grant{Function: "EraseFunction", Sid: "KeysTable", Action: "dynamodb:GetItem", Resource: "arn:t/keys"}
	used := iamguard.Use{Function: "EraseFunction", Action: "dynamodb:GetItem", Resource: "arn:t/keys"}
	exercised := stackServing(t, iamguard.Usage{Grants: []iamguard.Grant{get}, Uses: []iamguard.Use{used}}, 0)
	unexercised := stackServing(t, iamguard.Usage{Grants: []iamguard.Grant{get, put}, Uses: []iamguard.Use{used}}, 0)
	noGrants := stackServing(t, iamguard.Usage{}, 0)
	unenforced := stackServing(t, iamguard.Usage{}, http.StatusNotFound)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	tests := []struct {
		name     string
		env      map[string]string
		want     int
		wantOut  []string
		dontWant []string
	}{
		{"every grant exercised", map[string]string{"WAGUARD_GATEWAY_URL": exercised}, 0,
			[]string{"iamcheck: ok: 1 grants in template.yaml, 1 exercised"}, []string{"granted but"}},
		{"unexercised grant listed", map[string]string{"WAGUARD_GATEWAY_URL": unexercised}, 1,
			[]string{"iamcheck: FAIL", "granted but exercised by no test", "  EraseFunction/KeysTable dynamodb:PutItem on arn:t/keys"},
			[]string{"dynamodb:GetItem on"}},
		{"no stack outside CI skips", map[string]string{}, 0, []string{"SKIPPED"}, nil},
		{"no stack in CI fails", map[string]string{"CI": "true"}, 1, []string{"FAIL", "WAGUARD_GATEWAY_URL is not set"}, nil},
		{"stack down in CI fails", map[string]string{"CI": "true", "WAGUARD_GATEWAY_URL": down.URL}, 1, []string{"FAIL"}, nil},
		{"unenforced stack outside CI skips", map[string]string{"WAGUARD_GATEWAY_URL": unenforced}, 0, []string{"SKIPPED", "does not enforce IAM"}, nil},
		{"unenforced stack in CI fails", map[string]string{"CI": "1", "WAGUARD_GATEWAY_URL": unenforced}, 1, []string{"FAIL", "does not enforce IAM"}, nil},
		{"empty record fails even outside CI", map[string]string{"WAGUARD_GATEWAY_URL": noGrants}, 1, []string{"FAIL", "no grants"}, nil},
		{"reused stack noted", map[string]string{"WAGUARD_GATEWAY_URL": exercised, "WAGUARD_STACK_REUSED": "1"}, 0,
			[]string{"already running"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			got := run(context.Background(), func(k string) string { return tt.env[k] }, nil, &out)
			if got != tt.want {
				t.Errorf("run() = %d, want %d; output:\n%s", got, tt.want, out.String())
			}
			for _, s := range tt.wantOut {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tt.dontWant {
				if strings.Contains(out.String(), s) {
					t.Errorf("output has %q:\n%s", s, out.String())
				}
			}
		})
	}
}

// TestMakeTestRunsTheCheckLast: CI runs `make test`, so the check is only
// as unskippable as that recipe: it must run iamcheck after the tests, on
// the same stack (one with-stack.sh command), and only then.
func TestMakeTestRunsTheCheckLast(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	recipe := regexp.MustCompile(`(?m)^test:.*\n((?:\t.*\n)+)`).FindStringSubmatch(string(b))
	if recipe == nil {
		t.Fatal("Makefile has no test target")
	}
	want := regexp.MustCompile(`devstack/with-stack\.sh sh -c 'go test [^'&]*\./\.\.\. && go run \./devstack/cmd/iamcheck'`)
	if !want.MatchString(recipe[1]) {
		t.Errorf("make test recipe:\n%s\nwant one with-stack.sh command running go test ./... && go run ./devstack/cmd/iamcheck", recipe[1])
	}
}
