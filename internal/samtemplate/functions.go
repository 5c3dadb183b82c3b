package samtemplate

import (
	"fmt"
	"sort"
	"strings"
)

// Function is one AWS::Serverless::Function with Globals merged in.
type Function struct {
	// LogicalID is the template's name for it, e.g. "WebhookFunction".
	LogicalID string
	// Name is its FunctionName, e.g. "waguard-dev-webhook".
	Name string
	// Dir is the folder under functions/ that holds its main package.
	Dir string
	// Env is the resolved environment, Globals first, then the function's.
	Env map[string]string
	// TimeoutSeconds and MemoryMB are the resolved limits.
	TimeoutSeconds, MemoryMB int
}

// Route is one HttpApi event: a method and path served by a function.
type Route struct {
	Method, Path, Function string
}

// Schedule is one Schedule or ScheduleV2 event.
type Schedule struct {
	Function, Event, Expression, Input string
}

// Event is one event of a function, of any type, with its resolved
// properties as the template gives them (for types this package does not
// model, such as DynamoDB stream triggers).
type Event struct {
	// Function is the function's logical ID, Name the event's.
	Function, Name string
	// Type is the event's type, e.g. "DynamoDB".
	Type string
	// Properties are the event's resolved properties.
	Properties map[string]any
}

// Functions lists every function, sorted by logical ID.
func (t *Template) Functions() []Function {
	var out []Function
	for _, id := range t.ResourceIDs("AWS::Serverless::Function") {
		out = append(out, t.function(id))
	}
	return out
}

func (t *Template) function(id string) Function {
	props, _ := t.Resource(id)["Properties"].(map[string]any)
	globals, _ := t.raw["Globals"].(map[string]any)
	gfn, _ := globals["Function"].(map[string]any)
	f := Function{
		LogicalID:      id,
		Name:           str(props["FunctionName"]),
		Dir:            strings.ToLower(strings.TrimSuffix(id, "Function")),
		Env:            map[string]string{},
		TimeoutSeconds: num(props["Timeout"], num(gfn["Timeout"], 3)),
		MemoryMB:       num(props["MemorySize"], num(gfn["MemorySize"], 128)),
	}
	for _, src := range []map[string]any{gfn, props} {
		env, _ := src["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		for k, v := range vars {
			f.Env[k] = str(v)
		}
	}
	return f
}

// Routes lists every HttpApi route, sorted by path then method.
func (t *Template) Routes() []Route {
	var out []Route
	t.eachEvent(func(fn, _ string, typ string, p map[string]any) {
		if typ == "HttpApi" {
			out = append(out, Route{Method: strings.ToUpper(str(p["Method"])), Path: str(p["Path"]), Function: fn})
		}
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// Schedules lists every Schedule and ScheduleV2 event.
func (t *Template) Schedules() []Schedule {
	var out []Schedule
	t.eachEvent(func(fn, name, typ string, p map[string]any) {
		switch typ {
		case "Schedule":
			out = append(out, Schedule{Function: fn, Event: name, Expression: str(p["Schedule"]), Input: str(p["Input"])})
		case "ScheduleV2":
			out = append(out, Schedule{Function: fn, Event: name, Expression: str(p["ScheduleExpression"]), Input: str(p["Input"])})
		}
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Function != out[j].Function {
			return out[i].Function < out[j].Function
		}
		return out[i].Event < out[j].Event
	})
	return out
}

// Events lists every function event of type typ (e.g. "DynamoDB"),
// sorted by function then event name.
func (t *Template) Events(typ string) []Event {
	var out []Event
	t.eachEvent(func(fn, name, et string, p map[string]any) {
		if et == typ {
			out = append(out, Event{Function: fn, Name: name, Type: et, Properties: p})
		}
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Function != out[j].Function {
			return out[i].Function < out[j].Function
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func (t *Template) eachEvent(f func(fn, name, typ string, props map[string]any)) {
	for _, id := range t.ResourceIDs("AWS::Serverless::Function") {
		props, _ := t.Resource(id)["Properties"].(map[string]any)
		events, _ := props["Events"].(map[string]any)
		for name, e := range events {
			ev, _ := e.(map[string]any)
			p, _ := ev["Properties"].(map[string]any)
			f(id, name, str(ev["Type"]), p)
		}
	}
}

// Strings returns a template value that may be a string or a list (as
// IAM's Action and Resource are) as strings; nil elements are skipped and
// whole numbers print without a decimal point.
func Strings(v any) []string {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if e != nil {
				out = append(out, str(e))
			}
		}
		return out
	}
	return []string{str(v)}
}

func str(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return fmt.Sprint(int64(f))
	}
	return fmt.Sprint(v)
}

func num(v any, def int) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case string:
		var i int
		if _, err := fmt.Sscan(n, &i); err == nil {
			return i
		}
	}
	return def
}
