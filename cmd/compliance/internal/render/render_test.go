package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
)

var update = flag.Bool("update", false, "rewrite testdata/report.txt")

// fixture is a report with every status, an item with two sources and
// evidence that must be escaped in HTML.
func fixture() checklist.Report {
	defs := []checklist.Definition{
		{ID: "api.https", Section: checklist.SectionAPI, Title: "HTTPS only", Doc: "docs/api.md", Sources: []checklist.Source{checklist.Template, checklist.Stack}},
		{ID: "data.pitr", Section: checklist.SectionData, Title: "Point-in-time recovery on", Doc: "docs/crypto.md", Sources: []checklist.Source{checklist.Template}},
		{ID: "gdpr.dpa", Section: checklist.SectionGDPR, Title: "Processing agreements signed", Doc: "docs/gdpr.md", Sources: []checklist.Source{checklist.Docs}},
		{ID: "gdpr.consent", Section: checklist.SectionGDPR, Title: "Consent enforced", Sources: []checklist.Source{checklist.Stack}},
		{ID: "monitoring.dashboard", Section: checklist.SectionMonitoring, Title: "Operations dashboard", Sources: []checklist.Source{checklist.Template}},
	}
	fs := []checklist.Finding{
		checklist.Passf("api.https", checklist.Template, "HttpApi (API Gateway serves HTTPS only)"),
		checklist.Skipf("api.https", checklist.Stack, "local gateway on loopback HTTP"),
		checklist.Failf("data.pitr", checklist.Template, "DataTable: PointInTimeRecoveryEnabled is not true"),
		checklist.Passf("gdpr.dpa", checklist.Docs, "contracts are outside the code (docs/gdpr.md)"),
		checklist.Skipf("gdpr.consent", checklist.Stack, "skipped (-static-only)"),
		checklist.Passf("monitoring.dashboard", checklist.Template, `OperationsDashboard: 12 widgets <script>alert("x")</script>`),
	}
	return checklist.Report{
		RanAt: time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC), Duration: 4200 * time.Millisecond,
		Template: "template.yaml", TemplateSHA256: strings.Repeat("ab", 32), Commit: "0123456789ab", Stack: "http://127.0.0.1:3000 (local emulators, stage dev)",
		Items: checklist.Build(defs, fs, nil),
	}
}

func render(t *testing.T, f Format, r checklist.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, f, r); err != nil {
		t.Fatalf("Write(%v) err = %v, want nil", f, err)
	}
	return b.String()
}

func TestText(t *testing.T) {
	got := render(t, Text, fixture())
	const golden = "testdata/report.txt"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("text report mismatch (-want +got):\n%s", diff)
	}
	// The failing item is one line with its mark, title and id, then its evidence.
	if !strings.Contains(got, "  ❌ Point-in-time recovery on  [data.pitr]\n     template: DataTable: PointInTimeRecoveryEnabled is not true\n") {
		t.Errorf("text report lacks the failing line and its evidence:\n%s", got)
	}
}

func TestJSON(t *testing.T) {
	var doc struct {
		Schema         string         `json:"schema"`
		RanAt          time.Time      `json:"ran_at"`
		DurationMS     int64          `json:"duration_ms"`
		Template       string         `json:"template"`
		TemplateSHA256 string         `json:"template_sha256"`
		Commit         string         `json:"commit"`
		Stack          string         `json:"stack"`
		Passed         bool           `json:"passed"`
		Summary        map[string]int `json:"summary"`
		Items          []struct {
			ID, Section, Title, Status, Evidence, Doc string
			Findings                                  []struct{ Source, Status, Evidence string }
		} `json:"items"`
	}
	dec := json.NewDecoder(strings.NewReader(render(t, JSON, fixture())))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decode JSON report: %v", err)
	}
	if doc.Schema != SchemaVersion || doc.Passed || doc.DurationMS != 4200 || len(doc.TemplateSHA256) != 64 || doc.Commit == "" {
		t.Errorf("header = %q passed=%v duration=%d sha=%q commit=%q, want schema, failed, 4200, a hash, a commit",
			doc.Schema, doc.Passed, doc.DurationMS, doc.TemplateSHA256, doc.Commit)
	}
	if diff := cmp.Diff(map[string]int{"pass": 2, "fail": 1, "manual": 1, "skipped": 1}, doc.Summary); diff != "" {
		t.Errorf("summary mismatch (-want +got):\n%s", diff)
	}
	valid := map[string]bool{"pass": true, "fail": true, "manual": true, "skipped": true}
	for _, it := range doc.Items {
		if it.ID == "" || it.Section == "" || it.Title == "" || it.Evidence == "" || !valid[it.Status] || len(it.Findings) == 0 {
			t.Errorf("item %+v lacks id, section, title, evidence, a valid status or findings", it)
		}
		for _, f := range it.Findings {
			if f.Source == "" || !valid[f.Status] {
				t.Errorf("item %s finding %+v lacks a source or a valid status", it.ID, f)
			}
		}
	}
}

func TestHTML(t *testing.T) {
	got := render(t, HTML, fixture())
	for _, want := range []string{
		"<!DOCTYPE html>", "<title>waguard compliance report 2026-03-01 09:30 UTC</title>",
		"2026-03-01 09:30:00 UTC, took 4.2s", strings.Repeat("ab", 32), "0123456789ab", "http://127.0.0.1:3000 (local emulators, stage dev)",
		`class="verdict fail">FAILED: 1 of 5 items`, `<tr class="fail">`, `class="badge fail"`, `class="badge manual"`, `class="badge skipped"`,
		"DataTable: PointInTimeRecoveryEnabled is not true", "<b>stack (skipped):</b> local gateway on loopback HTTP",
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "Reviewed by", "@media print",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	for _, it := range fixture().Items {
		if !strings.Contains(got, ">"+it.ID+"<") {
			t.Errorf("HTML report lacks item %s", it.ID)
		}
	}
	// Self-contained: nothing loaded from elsewhere, no script.
	for _, bad := range []string{"<script", "<link", " src=", "@import", "url("} {
		if strings.Contains(got, bad) {
			t.Errorf("HTML report contains %q, want a self-contained page", bad)
		}
	}
	pass := fixture()
	pass.Items = pass.Items[:1]
	if got := render(t, HTML, pass); !strings.Contains(got, `class="verdict pass">PASSED`) {
		t.Error("passing HTML report lacks the PASSED banner")
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"text": Text, "json": JSON, "html": HTML, "pdf": Unknown, "": Unknown} {
		got, err := ParseFormat(in)
		if got != want || (err != nil) != (want == Unknown) {
			t.Errorf("ParseFormat(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
}
