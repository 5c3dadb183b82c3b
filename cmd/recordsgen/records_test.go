package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/waguard/waguard/internal/samtemplate"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/retention"
)

// Paths from this package's folder to the repository's files.
const (
	templatePath  = "../../template.yaml"
	recordPath    = "../../docs/records-of-processing.md"
	breachPath    = "../../docs/breach-response.md"
	threatPath    = "../../docs/threat-model.md"
	openAPIPath   = "../../docs/openapi.yaml"
	auditTypesSrc = "../../shared/audit/event.go"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

func loadTemplate(t *testing.T, params map[string]string) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Parse(readFile(t, templatePath), samtemplate.Resolver{Params: params})
	if err != nil {
		t.Fatalf("samtemplate.Parse(%s) err = %v, want nil", templatePath, err)
	}
	return tpl
}

// TestRecordIsUpToDate regenerates the record in memory: the committed
// file must be exactly what the template and the code produce.
func TestRecordIsUpToDate(t *testing.T) {
	got, err := generate(templatePath, options{})
	if err != nil {
		t.Fatalf("generate(%s) err = %v, want nil", templatePath, err)
	}
	want := readFile(t, recordPath)
	if !bytes.Equal(got, want) {
		diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n"))
		t.Errorf("docs/records-of-processing.md is out of date: run `go run ./cmd/recordsgen` (-committed +generated):\n%s", diff)
	}
}

// TestTemplateDefaultsMatchRetentionPolicy checks that each class's
// template parameter defaults to shared/retention's default, and that the
// parameter really reaches the variable retention.PolicyFromEnv reads.
func TestTemplateDefaultsMatchRetentionPolicy(t *testing.T) {
	tpl := loadTemplate(t, nil)
	refs := parameterRefs(tpl)
	def := retention.DefaultPolicy()
	for _, c := range retention.Classes {
		t.Run(string(c), func(t *testing.T) {
			param := refs[envName(c)]
			p, ok := tpl.CFN.Parameters[param]
			if param == "" || !ok {
				t.Fatalf("Globals env %s = !Ref %q, want a Ref to a template parameter", envName(c), param)
			}
			want, _ := def.Days(c)
			if got, ok := p.Default.(float64); !ok || int(got) != want {
				t.Errorf("%s.Default = %v, want %d (retention.DefaultPolicy)", param, p.Default, want)
			}
			wired := loadTemplate(t, map[string]string{param: "777"})
			for _, fn := range wired.Functions() {
				if got := fn.Env[envName(c)]; got != "777" {
					t.Errorf("%s env %s = %q with %s=777, want 777", fn.LogicalID, envName(c), got, param)
				}
			}
		})
	}
}

func TestOverridesReachTheRecord(t *testing.T) {
	data := readFile(t, templatePath)
	r, err := build(data, options{Params: map[string]string{"RetentionDaysMarketing": "14", "Stage": "prod",
		"ProviderRapidAPIHost": "proxy.example.com", "AlarmTopicArn": "arn:aws:sns:eu-west-2:123456789012:ops"},
		Region: "eu-west-2", Controller: "Example Ltd"})
	if err != nil {
		t.Fatalf("build err = %v, want nil", err)
	}
	days, _ := classDays(r, "marketing")
	if days != 14 || r.Stage != "prod" || r.ProviderHost != "proxy.example.com" || !r.AlarmTopic {
		t.Errorf("record = marketing %d, stage %q, provider %q, alarm topic %v; want 14, prod, proxy.example.com, true",
			days, r.Stage, r.ProviderHost, r.AlarmTopic)
	}
	doc, err := render(r)
	if err != nil {
		t.Fatalf("render err = %v, want nil", err)
	}
	for _, want := range []string{"| `marketing` | outbound messages sent with purpose `marketing` | 14 |",
		"`waguard/prod/clients/ops`", "AWS region eu-west-2", "| Controller | Example Ltd |",
		"**Processor: the proxy provider at `proxy.example.com`**", "They notify the configured SNS topic.",
		`RetentionDaysMarketing="14"`} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("record lacks %q", want)
		}
	}
	if bytes.Contains(doc, []byte("[REGION")) || bytes.Contains(doc, []byte("waguard-<stage>")) {
		t.Error("record still has the region or stage placeholder, want them filled")
	}
}

// TestEndpointsReachTheRecord: each configured endpoint is a recipient
// row saying whether it receives content; without any, a placeholder
// asks for them.
func TestEndpointsReachTheRecord(t *testing.T) {
	data := readFile(t, templatePath)
	var rows []endpointRow
	f := endpointFlag{&rows}
	for _, v := range []string{"crm=Acme CRM (the controller)+content", "bi=Analytics warehouse"} {
		if err := f.Set(v); err != nil {
			t.Fatalf("Set(%q) err = %v, want nil", v, err)
		}
	}
	for _, bad := range []string{"crm", "=x", "crm=", "crm=+content"} {
		if err := f.Set(bad); err == nil {
			t.Errorf("Set(%q) err = nil, want an error", bad)
		}
	}
	r, err := build(data, options{Params: map[string]string{"Stage": "prod"}, Endpoints: rows})
	if err != nil {
		t.Fatalf("build err = %v, want nil", err)
	}
	doc, err := render(r)
	if err != nil {
		t.Fatalf("render err = %v, want nil", err)
	}
	for _, want := range []string{"| Webhook endpoint `crm`: Acme CRM (the controller) | the event types its secret selects, signed, **with content**",
		"| Webhook endpoint `bi`: Analytics warehouse | the event types its secret selects, signed, without content",
		"Rules on the event bus `waguard-prod`"} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("record lacks %q", want)
		}
	}
	if bytes.Contains(doc, []byte("[ENDPOINTS")) {
		t.Error("record has the endpoints placeholder, want the configured endpoints")
	}
	r, _ = build(data, options{})
	if doc, _ = render(r); !bytes.Contains(doc, []byte("[ENDPOINTS: one row per secret under `waguard/<stage>/endpoints/`")) {
		t.Error("record without endpoints lacks the placeholder asking for them")
	}
}

func TestBuildRefuses(t *testing.T) {
	data := readFile(t, templatePath)
	for name, params := range map[string]map[string]string{
		"unknown parameter":     {"RetentionDaysMarketting": "14"},
		"zero days":             {"RetentionDaysOtp": "0"},
		"days not a number":     {"RetentionDaysSupport": "six months"},
		"audit days not number": {"AuditRetentionDays": "forever"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := build(data, options{Params: params}); err == nil {
				t.Errorf("build(%v) err = nil, want an error", params)
			}
		})
	}
}

// TestPurposesMatchOpenAPI keeps the record's purposes those the API
// accepts (components.schemas.Purpose in docs/openapi.yaml).
func TestPurposesMatchOpenAPI(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				Purpose struct {
					Enum []string `yaml:"enum"`
				} `yaml:"Purpose"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(readFile(t, openAPIPath), &doc); err != nil {
		t.Fatalf("parse %s: %v", openAPIPath, err)
	}
	var got []string
	for _, p := range purposes {
		got = append(got, string(p.Class))
	}
	want := doc.Components.Schemas.Purpose.Enum
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" || len(want) == 0 {
		t.Errorf("purposes mismatch (-openapi +recordsgen):\n%s", diff)
	}
}

// TestAuditEventTypes keeps auditMeaning in step with the EventType
// constants declared in shared/audit.
func TestAuditEventTypes(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), auditTypesSrc, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", auditTypesSrc, err)
	}
	var declared []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || vs.Type == nil || identName(vs.Type) != "EventType" {
			return true
		}
		for _, v := range vs.Values {
			if lit, ok := v.(*ast.BasicLit); ok {
				if s, _ := strconv.Unquote(lit.Value); s != "" {
					declared = append(declared, s)
				}
			}
		}
		return true
	})
	var described []string
	for typ := range auditMeaning {
		if !typ.Valid() {
			t.Errorf("auditMeaning has %q, which audit.EventType.Valid rejects", typ)
		}
		described = append(described, string(typ))
	}
	sort.Strings(declared)
	sort.Strings(described)
	if diff := cmp.Diff(declared, described); diff != "" {
		t.Errorf("audit event types mismatch (-shared/audit +facts.go):\n%s", diff)
	}
	if audit.EventUnknown.Valid() {
		t.Error("audit.EventUnknown is valid, want invalid")
	}
}

func identName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// TestBreachResponseNamesEveryAlarm makes a new alarm or dashboard in
// template.yaml come with its meaning for a responder.
func TestBreachResponseNamesEveryAlarm(t *testing.T) {
	tpl := loadTemplate(t, nil)
	doc := string(readFile(t, breachPath))
	ids := append(tpl.ResourceIDs("AWS::CloudWatch::Alarm"), tpl.ResourceIDs("AWS::CloudWatch::Dashboard")...)
	if len(ids) == 0 {
		t.Fatal("template has no alarms, want some")
	}
	for _, id := range ids {
		if !strings.Contains(doc, "`"+id+"`") {
			t.Errorf("docs/breach-response.md does not name `%s`, want every alarm and dashboard explained", id)
		}
	}
}

// TestThreatModelCoversEveryEntryPoint makes a new route or scheduled job
// come with its threats.
func TestThreatModelCoversEveryEntryPoint(t *testing.T) {
	tpl := loadTemplate(t, nil)
	doc := string(readFile(t, threatPath))
	var want []string
	for _, r := range tpl.Routes() {
		want = append(want, "`"+r.Method+" "+r.Path+"`")
	}
	for _, s := range tpl.Schedules() {
		var in struct{ Action string }
		if err := yaml.Unmarshal([]byte(s.Input), &in); err != nil || in.Action == "" {
			t.Errorf("schedule %s input %q has no action", s.Event, s.Input)
		}
		want = append(want, "`"+in.Action+"`")
	}
	if len(tpl.ResourceIDs("AWS::SecretsManager::RotationSchedule")) > 0 {
		want = append(want, "rotation")
	}
	for _, w := range want {
		if !strings.Contains(doc, w) {
			t.Errorf("docs/threat-model.md does not mention %s, want every entry point covered", w)
		}
	}
}
