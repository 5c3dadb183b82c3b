// Package checklist is the model of waguard's production compliance
// checklist: the items ([Catalogue]), what each check found ([Finding]) and
// the report assembled from them ([Build]).
//
// # How an item is decided
//
// An item names the sources that decide it: the template, the running
// stack, or a person (manual items, which point to a document under docs/).
// Every source contributes one [Finding]; the item fails if any finding
// fails, is skipped if every finding was skipped, and passes otherwise. Its
// evidence is one line: the findings' evidence, each prefixed by its source.
//
// # Non-goals
//
// The package runs no check itself and prints nothing; templatecheck,
// stackcheck and render do.
package checklist

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// Status is the outcome of an item or a finding.
type Status int

// The statuses. The zero value is an invalid Unknown.
const (
	Unknown Status = iota
	Pass
	Fail
	Manual
	Skipped
)

// String returns the lower-case name used in JSON: pass, fail, manual, skipped.
func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case Manual:
		return "manual"
	case Skipped:
		return "skipped"
	}
	return "unknown"
}

// MarshalText encodes the status as its [Status.String] name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Source says what a finding was checked against.
type Source string

// The sources of findings.
const (
	Template Source = "template"
	Stack    Source = "stack"
	Docs     Source = "docs"
)

// Finding is what one check found for one item.
type Finding struct {
	// Item is the ID of the catalogue item it decides, such as "data.pitr".
	Item string `json:"-"`
	// Source is what was checked.
	Source Source `json:"source"`
	// Status is Pass, Fail or Skipped.
	Status Status `json:"status"`
	// Evidence is one line a reviewer can verify; it never holds personal
	// data or secret values.
	Evidence string `json:"evidence"`
}

// Passf returns a passing finding; with [Failf] and [Skipf] it keeps
// checks short.
func Passf(item string, src Source, evidence string) Finding {
	return Finding{Item: item, Source: src, Status: Pass, Evidence: evidence}
}

// Failf returns a failing finding; see [Passf].
func Failf(item string, src Source, evidence string) Finding {
	return Finding{Item: item, Source: src, Status: Fail, Evidence: evidence}
}

// Skipf returns a skipped finding; see [Passf].
func Skipf(item string, src Source, evidence string) Finding {
	return Finding{Item: item, Source: src, Status: Skipped, Evidence: evidence}
}

// Definition is one checklist item as the catalogue declares it.
type Definition struct {
	// ID is stable across runs and releases, such as "data.pitr".
	ID string `json:"id"`
	// Section is one of [Sections].
	Section string `json:"section"`
	// Title says what must hold, such as "Point-in-time recovery on".
	Title string `json:"title"`
	// Doc is the document under docs/ that explains the item.
	Doc string `json:"doc,omitempty"`
	// Sources lists what decides the item; a manual item has only Docs.
	Sources []Source `json:"-"`
}

// Item is a decided checklist item.
type Item struct {
	Definition
	Status   Status    `json:"status"`
	Evidence string    `json:"evidence"`
	Findings []Finding `json:"findings"`
}

// Report is one run of the checklist.
type Report struct {
	// RanAt is when the run started; Duration how long it took.
	RanAt    time.Time     `json:"ran_at"`
	Duration time.Duration `json:"-"`
	// Template is the path of the template checked, TemplateSHA256 its hash.
	Template       string `json:"template"`
	TemplateSHA256 string `json:"template_sha256"`
	// Commit is the git commit of the working tree, or "unknown".
	Commit string `json:"commit"`
	// Stack describes the stack checked, or why none was.
	Stack string `json:"stack"`
	// Items are in catalogue order.
	Items []Item `json:"items"`
}

// Counts returns how many items have each status.
func (r Report) Counts() map[Status]int {
	c := map[Status]int{}
	for _, it := range r.Items {
		c[it.Status]++
	}
	return c
}

// Failed reports whether any item failed.
func (r Report) Failed() bool { return r.Counts()[Fail] > 0 }

// Absent supplies the finding for a source no check ran for, such as
// "stack: skipped (-static-only)". A source without an entry fails.
type Absent map[Source]Finding

// Build decides every definition from the findings, in catalogue order.
// A finding for an unknown item, or a definition with no finding for a
// source it needs and no [Absent] entry, fails that item: a check that
// silently did not run must never pass.
func Build(defs []Definition, findings []Finding, absent Absent) []Item {
	byItem := map[string][]Finding{}
	known := map[string]bool{}
	for _, d := range defs {
		known[d.ID] = true
	}
	for _, f := range findings {
		byItem[f.Item] = append(byItem[f.Item], f)
	}
	items := make([]Item, 0, len(defs))
	for _, d := range defs {
		items = append(items, decide(d, byItem[d.ID], absent))
	}
	for _, id := range slices.Sorted(maps.Keys(byItem)) {
		if !known[id] {
			items = append(items, Item{Definition: Definition{ID: id, Section: "Unknown", Title: "Unknown check " + id},
				Status: Fail, Evidence: "finding for an item the catalogue does not list", Findings: byItem[id]})
		}
	}
	return items
}

func decide(d Definition, fs []Finding, absent Absent) Item {
	it := Item{Definition: d}
	for _, src := range d.Sources {
		got := false
		for _, f := range fs {
			if f.Source == src {
				it.Findings = append(it.Findings, f)
				got = true
			}
		}
		if got {
			continue
		}
		if a, ok := absent[src]; ok {
			a.Item = d.ID
			it.Findings = append(it.Findings, a)
		} else if src != Docs {
			it.Findings = append(it.Findings, Failf(d.ID, src, "no check ran"))
		}
	}
	it.Status, it.Evidence = combine(d, it.Findings)
	return it
}

// Label names the finding's source for evidence: "stack", or "stack
// (skipped)" and "stack (FAILED)" when the item has other findings that
// decided differently.
func (f Finding) Label() string {
	switch f.Status {
	case Skipped:
		return string(f.Source) + " (skipped)"
	case Fail:
		return string(f.Source) + " (FAILED)"
	}
	return string(f.Source)
}

// combine returns the item's status and one evidence line.
func combine(d Definition, fs []Finding) (Status, string) {
	parts := make([]string, 0, len(fs))
	fail, pass := false, false
	for _, f := range fs {
		label := string(f.Source)
		if len(fs) > 1 {
			label = f.Label()
		}
		parts = append(parts, label+": "+f.Evidence)
		fail = fail || f.Status == Fail
		pass = pass || f.Status == Pass
	}
	evidence := strings.Join(parts, "; ")
	switch {
	case fail:
		return Fail, evidence
	case isManual(d):
		return Manual, evidence
	case pass:
		return Pass, evidence
	case len(fs) > 0:
		return Skipped, evidence
	}
	return Fail, "no check ran"
}

func isManual(d Definition) bool { return len(d.Sources) == 1 && d.Sources[0] == Docs }
