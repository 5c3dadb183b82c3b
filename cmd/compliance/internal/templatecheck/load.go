// Package templatecheck checks template.yaml against waguard's production
// checklist: KMS rotation, SSE with the customer-managed key, PITR, TTL,
// the append-only audit table, secret rotation, secrets kept out of
// environment variables, HTTPS only, throttling, access logs, alarms, the
// dashboard and the audit trail.
//
// # How the template is read
//
// Through [samtemplate], as the local stack and the template tests read
// it: intrinsics resolved with parameter defaults, resources as readable
// placeholders such as "GetAtt(AuditTable.Arn)". Its unresolved view
// answers which parameter a property refers to, and which actions an alarm
// has behind an Fn::If; its IAM model gives the statements.
//
// # Non-goals
//
// It reads one template; it does not evaluate conditions beyond
// goformation's, follow nested stacks, or reason about IAM beyond the
// statements the template itself declares.
package templatecheck

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/internal/samtemplate"
)

// Template is a template read for checking.
type Template struct {
	// Path and SHA256 identify the file checked.
	Path, SHA256 string
	// Stage is the Stage parameter it was resolved with.
	Stage string
	tpl   *samtemplate.Template
	raw   map[string]any // unresolved: {"Ref": "X"} kept as is
}

// Load reads the template at path, resolved for stage.
func Load(path, stage string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return Parse(path, data, stage)
}

// Parse reads template bytes; path only labels the report.
func Parse(path string, data []byte, stage string) (*Template, error) {
	tpl, err := samtemplate.Parse(data, samtemplate.Resolver{Params: map[string]string{"Stage": stage}})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return &Template{Path: path, SHA256: hex.EncodeToString(sum[:]), Stage: stage, tpl: tpl, raw: tpl.Unresolved()}, nil
}

// Check runs every template check.
func (t *Template) Check() []checklist.Finding {
	var out []checklist.Finding
	for _, c := range []func() []checklist.Finding{
		t.checkHTTPS, t.checkThrottling, t.checkAccessLogs,
		t.checkKMSRotation, t.checkSSE, t.checkPITR, t.checkTTL,
		t.checkAuditAppendOnly, t.checkSecretRotation, t.checkEnvironment,
		t.checkAlarms, t.checkDashboard, t.checkAuditTrail,
	} {
		out = append(out, c()...)
	}
	return out
}

// Functions lists the template's functions with their resolved environment.
func (t *Template) Functions() []samtemplate.Function { return t.tpl.Functions() }

// ids lists the logical IDs of a type, sorted.
func (t *Template) ids(typ string) []string { return t.tpl.ResourceIDs(typ) }

// props returns a resource's resolved Properties.
func (t *Template) props(id string) map[string]any {
	p, _ := t.tpl.Resource(id)["Properties"].(map[string]any)
	return p
}

func (t *Template) typeOf(id string) string {
	s, _ := t.tpl.Resource(id)["Type"].(string)
	return s
}

// rawProps returns a resource's unresolved Properties.
func (t *Template) rawProps(id string) map[string]any {
	res, _ := t.raw["Resources"].(map[string]any)
	r, _ := res[id].(map[string]any)
	p, _ := r["Properties"].(map[string]any)
	return p
}

// param returns an unresolved parameter declaration.
func (t *Template) param(name string) map[string]any {
	ps, _ := t.raw["Parameters"].(map[string]any)
	p, _ := ps[name].(map[string]any)
	return p
}

// params lists the parameter names, sorted.
func (t *Template) params() []string {
	ps, _ := t.raw["Parameters"].(map[string]any)
	out := make([]string, 0, len(ps))
	for k := range ps {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// field walks nested maps: field(p, "SSESpecification", "SSEType").
func field(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		if v == float64(int64(v)) {
			return fmt.Sprint(int64(v))
		}
	}
	return fmt.Sprint(v)
}

// refTarget returns X for "Ref(X)" or "GetAtt(X.attr)" placeholders.
func refTarget(v string) string {
	switch {
	case strings.HasPrefix(v, "Ref(") && strings.HasSuffix(v, ")"):
		return v[4 : len(v)-1]
	case strings.HasPrefix(v, "GetAtt(") && strings.HasSuffix(v, ")"):
		id, _, _ := strings.Cut(v[7:len(v)-1], ".")
		return id
	}
	return ""
}

// list joins names for evidence, at most max of them.
func list(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}

// physicalNameProps are the properties that hold a resource's name.
var physicalNameProps = []string{"TableName", "AliasName", "Name", "FunctionName"}

// EnvResource returns the physical name of the resource a function
// environment variable refers to (DATA_TABLE → "waguard-dev-data"), or
// the variable's literal value, or "" when no function sets it.
func (t *Template) EnvResource(name string) string {
	for _, fn := range t.Functions() {
		v, ok := fn.Env[name]
		if !ok {
			continue
		}
		target := refTarget(v)
		if target == "" {
			return v
		}
		for _, p := range physicalNameProps {
			if s := str(t.props(target)[p]); s != "" {
				return s
			}
		}
		return ""
	}
	return ""
}
