// Package samtemplate reads waguard's SAM template (template.yaml) so that
// the local stack and the template tests work from the one file that
// deploys, never from a second hand-kept list.
//
// # What it resolves
//
// CloudFormation intrinsics are resolved with a [Resolver]: parameters come
// from their defaults or the resolver's overrides (always as strings, as
// CloudFormation passes them), pseudo parameters from the resolver, and
// resources from the physical names the local provisioner created. A resource
// the resolver does not know resolves to a readable placeholder such as
// "Ref(DataTable)" or "GetAtt(DataTable.Arn)", which is what the template
// tests assert against.
//
// # Two views, one read
//
// [Parse] reads the template once into a resolved view (the methods of
// [Template]) and an unresolved one ([Template.Unresolved]), where
// {"Ref": "X"} stays as written: it answers which parameter a setting
// refers to, and which actions an alarm has behind an Fn::If.
//
// # IAM
//
// [Template.Statements] and [Template.NamedPolicies] read every policy the
// template declares, functions' and IAM resources' alike, into the one
// model of an IAM statement, [Statement], that the template tests, the
// compliance check, the records of processing and the local stack's IAM
// enforcement (devstack/iamguard) share.
//
// # Non-goals
//
// It is not a CloudFormation engine: conditions are not evaluated and only
// Ref, Fn::Sub and Fn::GetAtt are resolved beyond goformation's defaults.
package samtemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// Resolver supplies the values intrinsics resolve to.
type Resolver struct {
	// Params overrides parameter defaults, like sam's --parameter-overrides.
	Params map[string]string
	// Refs maps a resource's logical ID to what Ref returns for it.
	Refs map[string]string
	// Attrs maps "LogicalID.Attribute" to what Fn::GetAtt returns.
	Attrs map[string]string
	// AccountID, Region and Partition answer the pseudo parameters.
	AccountID, Region, Partition string
}

// Template is a parsed, resolved template.
type Template struct {
	// CFN is goformation's typed view of the template.
	CFN        *cloudformation.Template
	raw        map[string]any // resolved
	unresolved map[string]any
}

// Load reads and resolves the template at path.
func Load(path string, r Resolver) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return Parse(data, r)
}

// Parse resolves and parses template bytes.
func Parse(data []byte, r Resolver) (*Template, error) {
	opts := &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
		"Ref":        r.ref,
		"Fn::Sub":    r.sub,
		"Fn::GetAtt": r.getAtt,
	}}
	processed, err := intrinsics.ProcessYAML(data, opts)
	if err != nil {
		return nil, fmt.Errorf("process template: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(processed, &raw); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	stringifyEnvironments(raw)
	typed, err := typedView(raw)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	cfn, err := goformation.ParseJSONWithOptions(typed, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	js, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("process template: %w", err)
	}
	var unresolved map[string]any
	if err := json.Unmarshal(js, &unresolved); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	return &Template{CFN: cfn, raw: raw, unresolved: unresolved}, nil
}

// Unresolved returns the whole template as written, as JSON values, with
// intrinsics kept: !Ref X is {"Ref": "X"}. Callers must not modify it.
func (t *Template) Unresolved() map[string]any { return t.unresolved }

// RefTo returns X for an unresolved {"Ref": "X"}.
func RefTo(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	x, ok := m["Ref"].(string)
	return x, ok
}

// GlobalFunction returns the resolved Globals.Function section, for the
// properties goformation does not model (LoggingConfig, for one).
func (t *Template) GlobalFunction() map[string]any {
	globals, _ := t.raw["Globals"].(map[string]any)
	f, _ := globals["Function"].(map[string]any)
	return f
}

// typedView returns the template as goformation's typed model accepts it.
// goformation follows the CloudFormation resource specification for SAM,
// which names HttpApi's access log property AccessLogSetting and lacks Name,
// while SAM itself reads AccessLogSettings and Name; the raw view keeps SAM's.
func typedView(raw map[string]any) ([]byte, error) {
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var cp map[string]any
	if err := json.Unmarshal(data, &cp); err != nil {
		return nil, err
	}
	res, _ := cp["Resources"].(map[string]any)
	for _, r := range res {
		m, _ := r.(map[string]any)
		props, _ := m["Properties"].(map[string]any)
		if m["Type"] != "AWS::Serverless::HttpApi" || props == nil {
			continue
		}
		if v, ok := props["AccessLogSettings"]; ok {
			props["AccessLogSetting"] = v
			delete(props, "AccessLogSettings")
		}
		delete(props, "Name")
	}
	return json.Marshal(cp)
}

// stringifyEnvironments turns numeric environment values (a Ref to a Number
// parameter) into strings, as Lambda receives them.
func stringifyEnvironments(raw map[string]any) {
	var holders []any
	globals, _ := raw["Globals"].(map[string]any)
	holders = append(holders, globals["Function"])
	res, _ := raw["Resources"].(map[string]any)
	for _, r := range res {
		m, _ := r.(map[string]any)
		holders = append(holders, m["Properties"])
	}
	for _, h := range holders {
		m, _ := h.(map[string]any)
		env, _ := m["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		for k, v := range vars {
			vars[k] = str(v)
		}
	}
}

func (r Resolver) ref(_ string, input any, template any) any {
	name, ok := input.(string)
	if !ok {
		return nil
	}
	switch name {
	case "AWS::AccountId":
		return orDefault(r.AccountID, "123456789012")
	case "AWS::Region":
		return orDefault(r.Region, "eu-west-2")
	case "AWS::Partition":
		return orDefault(r.Partition, "aws")
	case "AWS::URLSuffix":
		return "amazonaws.com"
	case "AWS::StackName":
		return "waguard"
	case "AWS::NoValue":
		return nil
	}
	if typ, ok := paramType(template, name); ok {
		v, ok := r.Params[name]
		if !ok {
			v, _ = paramDefault(template, name)
		}
		if typ == "Number" {
			var n float64
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n
			}
		}
		return v
	}
	if v, ok := r.Refs[name]; ok {
		return v
	}
	return "Ref(" + name + ")"
}

func (r Resolver) getAtt(_ string, input any, _ any) any {
	var parts []string
	switch v := input.(type) {
	case string:
		parts = strings.SplitN(v, ".", 2)
	case []any:
		for _, p := range v {
			s, _ := p.(string)
			parts = append(parts, s)
		}
	}
	if len(parts) != 2 {
		return nil
	}
	key := parts[0] + "." + parts[1]
	if v, ok := r.Attrs[key]; ok {
		return v
	}
	return "GetAtt(" + key + ")"
}

var subVariable = regexp.MustCompile(`\$\{([\.:0-9A-Za-z]+)\}`)

func (r Resolver) sub(_ string, input any, template any) any {
	src, vars := "", map[string]any{}
	switch v := input.(type) {
	case string:
		src = v
	case []any:
		if len(v) != 2 {
			return nil
		}
		src, _ = v[0].(string)
		vars, _ = v[1].(map[string]any)
	}
	return subVariable.ReplaceAllStringFunc(src, func(m string) string {
		name := m[2 : len(m)-1]
		var val any
		if v, ok := vars[name]; ok {
			val = v
		} else if strings.Contains(name, ".") && !strings.HasPrefix(name, "AWS::") {
			val = r.getAtt("", name, template)
		} else {
			val = r.ref("", name, template)
		}
		return str(val)
	})
}

func paramType(template any, name string) (string, bool) {
	t, _ := template.(map[string]any)
	params, _ := t["Parameters"].(map[string]any)
	p, ok := params[name].(map[string]any)
	if !ok {
		return "", false
	}
	return str(p["Type"]), true
}

func paramDefault(template any, name string) (string, bool) {
	t, _ := template.(map[string]any)
	params, _ := t["Parameters"].(map[string]any)
	p, ok := params[name].(map[string]any)
	if !ok {
		return "", false
	}
	def, ok := p["Default"]
	if !ok {
		return "", false
	}
	return str(def), true
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Resource returns the resolved raw JSON form of one resource, for the
// properties goformation does not model (ScheduleV2 events, for one).
func (t *Template) Resource(logicalID string) map[string]any {
	res, _ := t.raw["Resources"].(map[string]any)
	r, _ := res[logicalID].(map[string]any)
	return r
}

// ResourceIDs lists the logical IDs of every resource of a type, sorted.
func (t *Template) ResourceIDs(typ string) []string {
	res, _ := t.raw["Resources"].(map[string]any)
	var ids []string
	for id, r := range res {
		if m, ok := r.(map[string]any); ok && m["Type"] == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}
