package main

import (
	"github.com/waguard/waguard/internal/samtemplate"
)

// parameterRefs finds the settings that name a template parameter with
// !Ref in the template as written: each Globals.Function environment
// variable, keyed by its name, and each log group's RetentionInDays, keyed
// "<LogicalID>.RetentionInDays".
func parameterRefs(tpl *samtemplate.Template) map[string]string {
	doc := tpl.Unresolved()
	out := map[string]string{}
	vars, _ := dig(doc, "Globals", "Function", "Environment", "Variables").(map[string]any)
	for k, v := range vars {
		if x, ok := samtemplate.RefTo(v); ok {
			out[k] = x
		}
	}
	for _, id := range tpl.ResourceIDs("AWS::Logs::LogGroup") {
		if x, ok := samtemplate.RefTo(dig(doc, "Resources", id, "Properties", "RetentionInDays")); ok {
			out[id+".RetentionInDays"] = x
		}
	}
	return out
}

// dig walks nested maps.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
