package checklist

import (
	"strings"
	"testing"
)

func TestBuild(t *testing.T) {
	defs := []Definition{
		{ID: "a", Section: SectionData, Title: "both pass", Sources: []Source{Template, Stack}},
		{ID: "b", Section: SectionData, Title: "stack fails", Sources: []Source{Template, Stack}},
		{ID: "c", Section: SectionData, Title: "stack skipped", Sources: []Source{Template, Stack}},
		{ID: "d", Section: SectionGDPR, Title: "live only, skipped", Sources: []Source{Stack}},
		{ID: "e", Section: SectionGDPR, Title: "manual", Sources: []Source{Docs}},
		{ID: "f", Section: SectionGDPR, Title: "manual, doc missing", Sources: []Source{Docs}},
		{ID: "g", Section: SectionAPI, Title: "no check ran", Sources: []Source{Template}},
	}
	findings := []Finding{
		Passf("a", Template, "t ok"), Passf("a", Stack, "s ok"),
		Passf("b", Template, "t ok"), Failf("b", Stack, "s broken"),
		Passf("c", Template, "t ok"),
		Passf("e", Docs, "review it"),
		Failf("f", Docs, "docs/x.md is missing"),
		Passf("zz", Template, "orphan"),
	}
	absent := Absent{Stack: Skipf("", Stack, "skipped (-static-only)")}
	items := Build(defs, findings, absent)
	tests := []struct {
		id       string
		status   Status
		evidence string
	}{
		{"a", Pass, "template: t ok; stack: s ok"},
		{"b", Fail, "template: t ok; stack (FAILED): s broken"},
		{"c", Pass, "template: t ok; stack (skipped): skipped (-static-only)"},
		{"d", Skipped, "stack: skipped (-static-only)"},
		{"e", Manual, "docs: review it"},
		{"f", Fail, "docs: docs/x.md is missing"},
		{"g", Fail, "template: no check ran"},
		{"zz", Fail, "finding for an item the catalogue does not list"},
	}
	if len(items) != len(tests) {
		t.Fatalf("Build() = %d items, want %d", len(items), len(tests))
	}
	for i, tt := range tests {
		it := items[i]
		if it.ID != tt.id || it.Status != tt.status || it.Evidence != tt.evidence {
			t.Errorf("item %d = %s %v %q, want %s %v %q", i, it.ID, it.Status, it.Evidence, tt.id, tt.status, tt.evidence)
		}
	}
	r := Report{Items: items}
	if !r.Failed() || r.Counts()[Fail] != 4 || r.Counts()[Manual] != 1 {
		t.Errorf("Counts() = %v, Failed() = %v, want 4 failed, 1 manual", r.Counts(), r.Failed())
	}
}

func TestBuildWithoutAbsentFails(t *testing.T) {
	items := Build([]Definition{{ID: "x", Sources: []Source{Stack}}}, nil, nil)
	if items[0].Status != Fail || !strings.Contains(items[0].Evidence, "no check ran") {
		t.Errorf("item with no finding = %v %q, want Fail, no check ran", items[0].Status, items[0].Evidence)
	}
}

func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	sections := map[string]bool{}
	for _, s := range Sections {
		sections[s] = true
	}
	for _, d := range Catalogue() {
		if seen[d.ID] {
			t.Errorf("duplicate item %s", d.ID)
		}
		seen[d.ID] = true
		if !sections[d.Section] || d.Title == "" || len(d.Sources) == 0 {
			t.Errorf("item %s = %+v, want a known section, a title and sources", d.ID, d)
		}
		if len(d.Sources) == 1 && d.Sources[0] == Docs && (ManualNote(d.ID) == "" || !strings.HasPrefix(d.Doc, "docs/")) {
			t.Errorf("manual item %s has no note or no docs/ pointer", d.ID)
		}
	}
}

func TestStatusText(t *testing.T) {
	for s, want := range map[Status]string{Unknown: "unknown", Pass: "pass", Fail: "fail", Manual: "manual", Skipped: "skipped"} {
		if b, _ := s.MarshalText(); string(b) != want {
			t.Errorf("Status(%d).MarshalText() = %q, want %q", s, b, want)
		}
	}
}
