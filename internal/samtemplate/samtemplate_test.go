package samtemplate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testTemplate = "testdata/template.yaml"

func loadTest(t *testing.T, r Resolver) *Template {
	t.Helper()
	tpl, err := Load(testTemplate, r)
	if err != nil {
		t.Fatalf("Load(%s) err = %v, want nil", testTemplate, err)
	}
	return tpl
}

// prop returns a resource's resolved property.
func prop(t *testing.T, tpl *Template, id, name string) any {
	t.Helper()
	props, _ := tpl.Resource(id)["Properties"].(map[string]any)
	if props == nil {
		t.Fatalf("Resource(%s) has no Properties", id)
	}
	return props[name]
}

func webhookEnv(t *testing.T, tpl *Template) map[string]string {
	t.Helper()
	for _, f := range tpl.Functions() {
		if f.LogicalID == "WebhookFunction" {
			return f.Env
		}
	}
	t.Fatalf("Functions() has no WebhookFunction")
	return nil
}

func TestResolverRefs(t *testing.T) {
	localRefs := Resolver{
		Refs:  map[string]string{"DataTable": "waguard-local-data"},
		Attrs: map[string]string{"DataTable.Arn": "arn:aws:dynamodb:eu-west-2:000000000000:table/waguard-local-data"},
	}
	tests := []struct {
		name     string
		resolver Resolver
		want     map[string]string // env var → value in WebhookFunction
	}{
		{"defaults and placeholders", Resolver{}, map[string]string{
			"STAGE":           "dev",
			"RETENTION_DAYS":  "30",
			"RATIO":           "0.5",
			"DATA_TABLE":      "Ref(DataTable)",
			"UNKNOWN":         "Ref(SomethingElse)",
			"TABLE_ARN":       "GetAtt(DataTable.Arn)",
			"STREAM_ARN":      "GetAtt(DataTable.StreamArn)",
			"TABLE_NAME_ATTR": "GetAtt(DataTable.Arn)/index",
			"LIST_FORM":       "Ref(DataTable)-dev-30",
			"REGION_URL":      "https://dynamodb.eu-west-2.amazonaws.com",
			"ACCOUNT":         "123456789012",
			"PARTITION":       "aws",
			"STACK":           "waguard",
		}},
		{"param overrides", Resolver{Params: map[string]string{"Stage": "prod", "RetentionDays": "90"}}, map[string]string{
			"STAGE":          "prod",
			"RETENTION_DAYS": "90",
			"LIST_FORM":      "Ref(DataTable)-prod-90",
		}},
		{"pseudo params", Resolver{AccountID: "210987654321", Region: "us-east-1", Partition: "aws-cn"}, map[string]string{
			"ACCOUNT":    "210987654321",
			"REGION_URL": "https://dynamodb.us-east-1.amazonaws.com",
			"PARTITION":  "aws-cn",
		}},
		{"refs and attrs", localRefs, map[string]string{
			"DATA_TABLE":      "waguard-local-data",
			"TABLE_ARN":       "arn:aws:dynamodb:eu-west-2:000000000000:table/waguard-local-data",
			"TABLE_NAME_ATTR": "arn:aws:dynamodb:eu-west-2:000000000000:table/waguard-local-data/index",
			"STREAM_ARN":      "GetAtt(DataTable.StreamArn)",
			"LIST_FORM":       "waguard-local-data-dev-30",
			"UNKNOWN":         "Ref(SomethingElse)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := webhookEnv(t, loadTest(t, tt.resolver))
			got := map[string]string{}
			for k := range tt.want {
				got[k] = env[k]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("WebhookFunction env mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNumbersStayNumbers checks a Ref to a Number parameter resolves to a
// number outside Environment.Variables.
func TestNumbersStayNumbers(t *testing.T) {
	tests := []struct {
		name     string
		resolver Resolver
		want     any
	}{
		{"default", Resolver{}, float64(30)},
		{"override", Resolver{Params: map[string]string{"RetentionDays": "90"}}, float64(90)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := prop(t, loadTest(t, tt.resolver), "ApiLogs", "RetentionInDays")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ApiLogs RetentionInDays mismatch (-want +got):\n%s", diff)
			}
		})
	}
	tpl := loadTest(t, Resolver{Params: map[string]string{"Stage": "prod"}})
	if got := prop(t, tpl, "DataTable", "TableName"); got != "waguard-prod-data" {
		t.Errorf("DataTable TableName = %v, want waguard-prod-data", got)
	}
}

func TestFunctions(t *testing.T) {
	tpl := loadTest(t, Resolver{Refs: map[string]string{"DataTable": "waguard-local-data"}})
	got := tpl.Functions()
	want := []Function{
		{
			LogicalID: "RetentionFunction", Name: "waguard-dev-retention", Dir: "retention",
			Env:            map[string]string{"STAGE": "dev", "DATA_TABLE": "waguard-local-data", "SHARED": "from-globals"},
			TimeoutSeconds: 10, MemoryMB: 512,
		},
		{
			LogicalID: "WebhookFunction", Name: "waguard-dev-webhook", Dir: "webhook",
			Env: map[string]string{
				"STAGE": "dev", "DATA_TABLE": "waguard-local-data", "SHARED": "from-function",
				"RETENTION_DAYS": "30", "RATIO": "0.5", "TABLE_ARN": "GetAtt(DataTable.Arn)",
				"STREAM_ARN": "GetAtt(DataTable.StreamArn)", "REGION_URL": "https://dynamodb.eu-west-2.amazonaws.com",
				"ACCOUNT": "123456789012", "PARTITION": "aws", "STACK": "waguard",
				"TABLE_NAME_ATTR": "GetAtt(DataTable.Arn)/index", "LIST_FORM": "waguard-local-data-dev-30",
				"UNKNOWN": "Ref(SomethingElse)",
			},
			TimeoutSeconds: 20, MemoryMB: 256,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Functions() mismatch (-want +got):\n%s", diff)
	}
}

func TestRoutes(t *testing.T) {
	want := []Route{
		{Method: "POST", Path: "/admin/retention", Function: "RetentionFunction"},
		{Method: "GET", Path: "/v1/items/{id}", Function: "WebhookFunction"},
		{Method: "GET", Path: "/webhooks/meta", Function: "WebhookFunction"},
		{Method: "POST", Path: "/webhooks/meta", Function: "WebhookFunction"},
	}
	if diff := cmp.Diff(want, loadTest(t, Resolver{}).Routes()); diff != "" {
		t.Errorf("Routes() mismatch (-want +got):\n%s", diff)
	}
}

func TestSchedules(t *testing.T) {
	want := []Schedule{
		{Function: "RetentionFunction", Event: "Hourly", Expression: "rate(1 hour)", Input: `{"mode":"light"}`},
		{Function: "RetentionFunction", Event: "Nightly", Expression: "cron(0 3 * * ? *)", Input: `{"mode":"sweep"}`},
	}
	if diff := cmp.Diff(want, loadTest(t, Resolver{}).Schedules()); diff != "" {
		t.Errorf("Schedules() mismatch (-want +got):\n%s", diff)
	}
}

func TestEvents(t *testing.T) {
	tpl := loadTest(t, Resolver{Attrs: map[string]string{"DataTable.StreamArn": "arn:stream"}})
	want := []Event{{Function: "RetentionFunction", Name: "Changes", Type: "DynamoDB", Properties: map[string]any{
		"Stream": "arn:stream", "StartingPosition": "LATEST", "BatchSize": float64(10),
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"}}}}
	if diff := cmp.Diff(want, tpl.Events("DynamoDB")); diff != "" {
		t.Errorf("Events(DynamoDB) mismatch (-want +got):\n%s", diff)
	}
	if got := tpl.Events("SQS"); len(got) != 0 {
		t.Errorf("Events(SQS) = %v, want none", got)
	}
	if got := len(tpl.Events("HttpApi")); got != 4 {
		t.Errorf("len(Events(HttpApi)) = %d, want 4", got)
	}
}

func TestResourceIDs(t *testing.T) {
	tpl := loadTest(t, Resolver{})
	tests := []struct {
		typ  string
		want []string
	}{
		{"AWS::Serverless::Function", []string{"RetentionFunction", "WebhookFunction"}},
		{"AWS::DynamoDB::Table", []string{"DataTable"}},
		{"AWS::SQS::Queue", nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tpl.ResourceIDs(tt.typ)); diff != "" {
				t.Errorf("ResourceIDs(%s) mismatch (-want +got):\n%s", tt.typ, diff)
			}
		})
	}
	if r := tpl.Resource("Missing"); r != nil {
		t.Errorf("Resource(Missing) = %v, want nil", r)
	}
}

// TestHttpAPITypedView checks goformation sees AccessLogSetting while the
// raw view keeps SAM's AccessLogSettings and Name.
func TestHttpAPITypedView(t *testing.T) {
	tpl := loadTest(t, Resolver{Attrs: map[string]string{"ApiLogs.Arn": "arn:aws:logs:eu-west-2:000000000000:log-group:api"}})
	api, err := tpl.CFN.GetServerlessHttpApiWithName("Api")
	if err != nil {
		t.Fatalf("GetServerlessHttpApiWithName(Api) err = %v, want nil", err)
	}
	if api.AccessLogSetting == nil || api.AccessLogSetting.DestinationArn == nil {
		t.Fatalf("typed Api AccessLogSetting = %+v, want DestinationArn set", api.AccessLogSetting)
	}
	if got, want := *api.AccessLogSetting.DestinationArn, "arn:aws:logs:eu-west-2:000000000000:log-group:api"; got != want {
		t.Errorf("typed Api AccessLogSetting.DestinationArn = %q, want %q", got, want)
	}
	if got := prop(t, tpl, "Api", "Name"); got != "waguard-dev" {
		t.Errorf("raw Api Name = %v, want waguard-dev", got)
	}
	if got := prop(t, tpl, "Api", "AccessLogSettings"); got == nil {
		t.Errorf("raw Api AccessLogSettings missing, want it kept")
	}
	if got := prop(t, tpl, "Api", "AccessLogSetting"); got != nil {
		t.Errorf("raw Api AccessLogSetting = %v, want absent", got)
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), Resolver{}); err == nil {
		t.Errorf("Load(missing.yaml) err = nil, want an error")
	}
	for _, tt := range []struct{ name, doc string }{
		{"invalid yaml", "Resources: [unclosed"},
		{"resources not a map", "Resources: 5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.doc), Resolver{}); err == nil {
				t.Errorf("Parse(%q) err = nil, want an error", tt.doc)
			}
		})
	}
}

func FuzzSub(f *testing.F) {
	tmpl, err := os.ReadFile(testTemplate)
	if err != nil {
		f.Fatalf("ReadFile(%s) err = %v, want nil", testTemplate, err)
	}
	tpl, err := Parse(tmpl, Resolver{})
	if err != nil {
		f.Fatalf("Parse(%s) err = %v, want nil", testTemplate, err)
	}
	for _, s := range []string{"${Stage}", "${DataTable.Arn}", "${AWS::Region}", "$${Stage}}", "${!Literal}", "plain", "${", "${a.b.c}"} {
		f.Add(s)
	}
	r := Resolver{Refs: map[string]string{"DataTable": "t"}}
	f.Fuzz(func(t *testing.T, src string) {
		got := r.sub("", src, tpl.raw)
		s, ok := got.(string)
		if !ok {
			t.Fatalf("sub(%q) = %T, want string", src, got)
		}
		if !strings.Contains(src, "${") && s != src {
			t.Fatalf("sub(%q) = %q, want it unchanged", src, s)
		}
		if list := r.sub("", []any{src, map[string]any{}}, tpl.raw); list != got {
			t.Fatalf("sub([%q, {}]) = %v, want %q as for the string form", src, list, s)
		}
	})
}

func TestStrings(t *testing.T) {
	tests := []struct {
		in   any
		want []string
	}{
		{nil, nil},
		{"dynamodb:GetItem", []string{"dynamodb:GetItem"}},
		{[]any{"a", nil, "b"}, []string{"a", "b"}},
		{[]any{float64(90), 1.5}, []string{"90", "1.5"}},
		{[]any{}, []string{}},
	}
	for _, tt := range tests {
		got := Strings(tt.in)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) || len(got) != len(tt.want) {
			t.Errorf("Strings(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
