package render

import (
	_ "embed"
	"html/template"
	"io"
	"time"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
)

//go:embed report.html.tmpl
var reportHTML string

// icons are inline SVG paths, so the report needs no font with emoji.
var icons = map[checklist.Status]string{
	checklist.Pass:    `<path d="M3 8.5l3 3 7-7" fill="none" stroke="#fff" stroke-width="2.2"/>`,
	checklist.Fail:    `<path d="M4 4l8 8M12 4l-8 8" fill="none" stroke="#fff" stroke-width="2.2"/>`,
	checklist.Manual:  `<path d="M4 3h8v10H4zM6 6h4M6 9h4" fill="none" stroke="#fff" stroke-width="1.6"/>`,
	checklist.Skipped: `<path d="M3 8h10" fill="none" stroke="#fff" stroke-width="2.2"/>`,
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"badge": func(s checklist.Status) template.HTML {
		// Only fixed strings from icons and Status.String reach the page here.
		return template.HTML(`<span class="badge ` + s.String() + `"><svg viewBox="0 0 16 16" aria-hidden="true">` +
			icons[s] + `</svg>` + map[checklist.Status]string{checklist.Pass: "PASS", checklist.Fail: "FAIL",
			checklist.Manual: "MANUAL", checklist.Skipped: "SKIPPED"}[s] + `</span>`)
	},
}).Parse(reportHTML))

// htmlReport is what the page template reads.
type htmlReport struct {
	checklist.Report
	Schema   string
	Failed   bool
	Counts   map[string]int
	Sections []Section
	Duration time.Duration
}

func writeHTML(w io.Writer, r checklist.Report) error {
	counts := map[string]int{}
	for s, n := range r.Counts() {
		counts[s.String()] = n
	}
	return page.Execute(w, htmlReport{Report: r, Schema: SchemaVersion, Failed: r.Failed(), Counts: counts,
		Sections: sections(r), Duration: r.Duration.Round(100 * time.Millisecond)})
}
