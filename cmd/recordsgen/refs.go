package main

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// parameterRefs finds the settings that name a template parameter with
// !Ref: each Globals.Function environment variable, keyed by its name, and
// each log group's RetentionInDays, keyed "<LogicalID>.RetentionInDays".
func parameterRefs(templateYAML []byte) (map[string]string, error) {
	var doc struct {
		Globals struct {
			Function struct {
				Environment struct {
					Variables map[string]yaml.Node `yaml:"Variables"`
				} `yaml:"Environment"`
			} `yaml:"Function"`
		} `yaml:"Globals"`
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				RetentionInDays yaml.Node `yaml:"RetentionInDays"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(templateYAML, &doc); err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	out := map[string]string{}
	for k, n := range doc.Globals.Function.Environment.Variables {
		if n.Tag == "!Ref" {
			out[k] = n.Value
		}
	}
	for id, res := range doc.Resources {
		if n := res.Properties.RetentionInDays; res.Type == "AWS::Logs::LogGroup" && n.Tag == "!Ref" {
			out[id+".RetentionInDays"] = n.Value
		}
	}
	return out, nil
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
