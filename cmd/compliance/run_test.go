package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	realTemplate = "../../template.yaml"
	realDocs     = "../../docs"
	goodTemplate = "internal/templatecheck/testdata/good.yaml"
)

// report is the part of the JSON report the tests read.
type report struct {
	Schema string `json:"schema"`
	Passed bool   `json:"passed"`
	Items  []struct {
		ID, Title, Status, Evidence string
		Findings                    []struct{ Source, Status, Evidence string }
	} `json:"items"`
}

// noEnv is a getenv for a machine without a stack.
func noEnv(string) string { return "" }

func runCmd(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, getenv, &out, &errOut)
	return code, out.String(), errOut.String()
}

func runJSON(t *testing.T, getenv func(string) string, args ...string) (int, report) {
	t.Helper()
	code, out, stderr := runCmd(t, getenv, append(args, "-format", "json")...)
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("run(%v) = %d, output is not a JSON report: %v\nstderr: %s", args, code, err, stderr)
	}
	return code, r
}

func failing(r report) []string {
	var ids []string
	for _, it := range r.Items {
		if it.Status == "fail" {
			ids = append(ids, it.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

func itemOf(t *testing.T, r report, id string) (string, string) {
	t.Helper()
	for _, it := range r.Items {
		if it.ID == id {
			return it.Status, it.Evidence
		}
	}
	t.Fatalf("report has no item %s", id)
	return "", ""
}

// breakResource replaces the first old after the resource's heading in
// template text, within that resource's block.
func breakResource(t *testing.T, text, resource, old, new string) string {
	t.Helper()
	start := strings.Index(text, "\n  "+resource+":\n")
	if start < 0 {
		t.Fatalf("template has no resource %s", resource)
	}
	end := len(text)
	if m := regexp.MustCompile(`\n  [A-Za-z]`).FindStringIndex(text[start+3:]); m != nil {
		end = start + 3 + m[0]
	}
	i := strings.Index(text[start:end], old)
	if i < 0 {
		t.Fatalf("resource %s has no %q", resource, old)
	}
	return text[:start+i] + new + text[start+i+len(old):]
}

// TestBreakOneThingInTheRealTemplate breaks one property of a copy of
// template.yaml at a time: exactly that item turns ❌, the exit status is
// 1, and the text report's failing line names it.
func TestBreakOneThingInTheRealTemplate(t *testing.T) {
	src, err := os.ReadFile(realTemplate)
	if err != nil {
		t.Fatal(err)
	}
	_, base := runJSON(t, noEnv, "-static-only", "-template", realTemplate, "-docs", realDocs)
	tests := []struct {
		name, resource, old, new, item, line, evidence string
	}{
		{"PITR off on the data table", "DataTable", "PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false",
			"data.pitr", "❌ Point-in-time recovery on (keys table excepted by design)  [data.pitr]", "DataTable: PointInTimeRecoveryEnabled is not true"},
		{"KMS rotation off", "DataKey", "EnableKeyRotation: true", "EnableKeyRotation: false",
			"data.kms-rotation", "❌ KMS key rotation on  [data.kms-rotation]", "DataKey: EnableKeyRotation is not true"},
		{"audit table updatable", "WebhookFunction", "Action: [dynamodb:PutItem]", "Action: [dynamodb:PutItem, dynamodb:UpdateItem]",
			"data.audit-append-only", "❌ Audit table append-only: PutItem only, for every role  [data.audit-append-only]", "WebhookFunction/AuditAppendOnly grants dynamodb:UpdateItem on AuditTable"},
		{"erasure alarm silenced", "ErasurePendingAlarm", "AlarmActions:", "OKActions:",
			"monitoring.alarm.erasure-pending", "❌ Alarm: erasure pending over 24 hours  [monitoring.alarm.erasure-pending]", "ErasurePendingAlarm watches waguard/ErasurePendingOldestHours but has no AlarmActions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if contains(failing(base), tt.item) {
				t.Fatalf("%s already fails on the real template; the test cannot show the break", tt.item)
			}
			path := filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(path, []byte(breakResource(t, string(src), tt.resource, tt.old, tt.new)), 0o644); err != nil {
				t.Fatal(err)
			}
			code, broken := runJSON(t, noEnv, "-static-only", "-template", path, "-docs", realDocs)
			if code != exitFail {
				t.Errorf("exit status = %d, want %d", code, exitFail)
			}
			if diff := cmp.Diff(append(failing(base), tt.item), failing(broken), sortStrings); diff != "" {
				t.Errorf("failing items mismatch (-want +got):\n%s", diff)
			}
			_, text, _ := runCmd(t, noEnv, "-static-only", "-template", path, "-docs", realDocs)
			i := strings.Index(text, tt.line+"\n")
			if i < 0 {
				t.Fatalf("text report lacks the line %q:\n%s", tt.line, text)
			}
			if next, _, _ := strings.Cut(text[i+len(tt.line)+1:], "\n"); !strings.Contains(next, tt.evidence) {
				t.Errorf("evidence line = %q, want it to contain %q", next, tt.evidence)
			}
		})
	}
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
})

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

var liveItems = []string{"api.authentication", "gdpr.consent", "gdpr.erasure", "webhook.signature"}

func TestStaticOnlyGoodTemplatePasses(t *testing.T) {
	code, r := runJSON(t, noEnv, "-static-only", "-template", goodTemplate, "-docs", realDocs)
	if code != exitOK || !r.Passed || r.Schema != "waguard.compliance/v1" {
		t.Errorf("exit = %d, passed = %v, schema %q; failing %v", code, r.Passed, r.Schema, failing(r))
	}
	for _, id := range liveItems {
		if st, ev := itemOf(t, r, id); st != "skipped" || ev != "stack: skipped (-static-only)" {
			t.Errorf("%s = %s %q, want skipped (-static-only)", id, st, ev)
		}
	}
	if st, _ := itemOf(t, r, "gdpr.dpa"); st != "manual" {
		t.Errorf("gdpr.dpa = %s, want manual", st)
	}
}

// TestNoStackFails: without -static-only and without a stack, every stack
// item fails, so a run that checked less never passes.
func TestNoStackFails(t *testing.T) {
	code, r := runJSON(t, noEnv, "-template", goodTemplate, "-docs", realDocs)
	if code != exitFail {
		t.Errorf("exit = %d, want %d", code, exitFail)
	}
	for _, id := range append(liveItems, "data.ttl") {
		if st, ev := itemOf(t, r, id); st != "fail" || !strings.Contains(ev, "not checked: no stack") {
			t.Errorf("%s = %s %q, want fail: not checked: no stack", id, st, ev)
		}
	}
}

func TestMissingDocsFail(t *testing.T) {
	code, r := runJSON(t, noEnv, "-static-only", "-template", goodTemplate, "-docs", t.TempDir())
	if code != exitFail {
		t.Errorf("exit = %d, want %d", code, exitFail)
	}
	want := []string{"data.threat-model", "gdpr.breach-response", "gdpr.dpa", "gdpr.privacy-policy", "gdpr.records-of-processing"}
	if diff := cmp.Diff(want, failing(r)); diff != "" {
		t.Errorf("failing items mismatch (-want +got):\n%s", diff)
	}
	if _, ev := itemOf(t, r, "data.threat-model"); ev != "docs: docs/threat-model.md is missing: write it, then review it" {
		t.Errorf("data.threat-model evidence = %q", ev)
	}
}

func TestUsageErrors(t *testing.T) {
	remote := func(k string) string {
		return map[string]string{"WAGUARD_GATEWAY_URL": "https://api.example.com", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1",
			"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:1"}[k]
	}
	tests := []struct {
		name   string
		getenv func(string) string
		args   []string
		want   string
	}{
		{"bad format", noEnv, []string{"-static-only", "-template", goodTemplate, "-format", "pdf"}, `unknown format "pdf"`},
		{"no template", noEnv, []string{"-static-only", "-template", "testdata/none.yaml"}, "read template"},
		{"stray argument", noEnv, []string{"-static-only", "extra"}, `unexpected argument "extra"`},
		{"remote gateway", remote, []string{"-template", goodTemplate, "-docs", realDocs}, "gateway endpoint is not a loopback address: pass -allow-remote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tt.getenv, tt.args...)
			if code != exitError || !strings.Contains(stderr, tt.want) {
				t.Errorf("run() = %d, stderr %q, want %d and %q", code, stderr, exitError, tt.want)
			}
		})
	}
}

func TestOutFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.html")
	code, stdout, stderr := runCmd(t, noEnv, "-static-only", "-template", goodTemplate, "-docs", realDocs, "-format", "html", "-out", path)
	if code != exitOK || stdout != "" || !strings.Contains(stderr, "wrote "+path) {
		t.Errorf("run() = %d, stdout %d bytes, stderr %q", code, len(stdout), stderr)
	}
	if b, err := os.ReadFile(path); err != nil || !strings.HasPrefix(string(b), "<!DOCTYPE html>") {
		t.Errorf("report file: %v, want an HTML page", err)
	}
}

func TestStageOf(t *testing.T) {
	for in, want := range map[string]string{"waguard-prod-data": "prod", "waguard-dev-data": "dev", "": "dev", "other": "dev", "waguard--data": "dev"} {
		if got := stageOf(in); got != want {
			t.Errorf("stageOf(%q) = %q, want %q", in, got, want)
		}
	}
}
