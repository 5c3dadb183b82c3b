// Package render writes a compliance [checklist.Report] as text for a
// terminal, JSON for machines, or a self-contained one-page HTML report a
// data-protection officer can print and file.
//
// Evidence is written as the checks produced it; it never holds personal
// data or secret values (the checks guarantee that), and the HTML escapes
// it.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
)

// Format is an output format.
type Format int

// The formats. The zero value is an invalid Unknown.
const (
	Unknown Format = iota
	Text
	JSON
	HTML
)

// ParseFormat parses "text", "json" or "html".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "text":
		return Text, nil
	case "json":
		return JSON, nil
	case "html":
		return HTML, nil
	}
	return Unknown, fmt.Errorf("unknown format %q (want text, json or html)", s)
}

// Write renders the report in format f.
func Write(w io.Writer, f Format, r checklist.Report) error {
	switch f {
	case Text:
		return writeText(w, r)
	case JSON:
		return writeJSON(w, r)
	case HTML:
		return writeHTML(w, r)
	}
	return fmt.Errorf("render: unknown format %d", f)
}

// Mark returns the symbol of a status: ✅, ❌, 📝 (manual) or ➖ (skipped).
func Mark(s checklist.Status) string {
	switch s {
	case checklist.Pass:
		return "✅"
	case checklist.Fail:
		return "❌"
	case checklist.Manual:
		return "📝"
	case checklist.Skipped:
		return "➖"
	}
	return "?"
}

func shortHash(h string) string {
	if len(h) < 12 {
		return h
	}
	return h[:12]
}

func summary(r checklist.Report) string {
	c := r.Counts()
	return fmt.Sprintf("%d items: %d passed, %d failed, %d manual, %d skipped",
		len(r.Items), c[checklist.Pass], c[checklist.Fail], c[checklist.Manual], c[checklist.Skipped])
}

func writeText(w io.Writer, r checklist.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "waguard compliance check, %s (%s)\n", r.RanAt.UTC().Format("2006-01-02 15:04:05 MST"), r.Duration.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "template %s (sha256 %s) · commit %s · stack %s\n", r.Template, shortHash(r.TemplateSHA256), r.Commit, r.Stack)
	for _, section := range sections(r) {
		fmt.Fprintf(&b, "\n%s\n", section.Name)
		for _, it := range section.Items {
			fmt.Fprintf(&b, "  %s %s  [%s]\n", Mark(it.Status), it.Title, it.ID)
			fmt.Fprintf(&b, "     %s\n", it.Evidence)
		}
	}
	verdict := "PASS"
	if r.Failed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "\n%s: %s\n", verdict, summary(r))
	_, err := io.WriteString(w, b.String())
	return err
}

// Section is one section of the report with its items, in order.
type Section struct {
	Name  string
	Items []checklist.Item
}

func sections(r checklist.Report) []Section {
	var out []Section
	names := append(append([]string{}, checklist.Sections...), "Unknown")
	for _, name := range names {
		s := Section{Name: name}
		for _, it := range r.Items {
			if it.Section == name {
				s.Items = append(s.Items, it)
			}
		}
		if len(s.Items) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// jsonReport is the JSON document: schema waguard.compliance/v1.
type jsonReport struct {
	Schema string `json:"schema"`
	checklist.Report
	DurationMS int64          `json:"duration_ms"`
	Passed     bool           `json:"passed"`
	Summary    map[string]int `json:"summary"`
}

// SchemaVersion names the JSON document's format.
const SchemaVersion = "waguard.compliance/v1"

func writeJSON(w io.Writer, r checklist.Report) error {
	sum := map[string]int{}
	for _, s := range []checklist.Status{checklist.Pass, checklist.Fail, checklist.Manual, checklist.Skipped} {
		sum[s.String()] = r.Counts()[s]
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(jsonReport{Schema: SchemaVersion, Report: r, DurationMS: r.Duration.Milliseconds(), Passed: !r.Failed(), Summary: sum})
}
