// Tests for template.yaml and samconfig.toml. Every property a security
// reviewer relies on (stage in every name, SSE with the data key, the PITR
// choices, the append-only audit table, least-privilege inline policies,
// rotation schedules, access logs without request data) is asserted here, so
// a later change cannot drop one silently.
package waguard_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/waguard/waguard/internal/samtemplate"
)

const (
	templateFile  = "template.yaml"
	samconfigFile = "samconfig.toml"
	functionType  = "AWS::Serverless::Function"
	tableType     = "AWS::DynamoDB::Table"
	secretType    = "AWS::SecretsManager::Secret"
)

func loadTemplate(t *testing.T, params map[string]string) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load(templateFile, samtemplate.Resolver{Params: params})
	if err != nil {
		t.Fatalf("samtemplate.Load(%q) err = %v, want nil", templateFile, err)
	}
	return tpl
}

// field walks nested maps: field(r, "Properties", "TableName").
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

func props(tpl *samtemplate.Template, id string) map[string]any {
	p, _ := tpl.Resource(id)["Properties"].(map[string]any)
	return p
}

func resourceType(tpl *samtemplate.Template, id string) string {
	typ, _ := tpl.Resource(id)["Type"].(string)
	return typ
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

func TestTemplateTransform(t *testing.T) {
	tpl := loadTemplate(t, nil)
	const want = "AWS::Serverless-2016-10-31"
	if tr := tpl.CFN.Transform; tr == nil || tr.String == nil || *tr.String != want {
		t.Errorf("Transform = %v, want %q", tr, want)
	}
}

func TestTemplateGlobals(t *testing.T) {
	g := loadTemplate(t, nil).GlobalFunction()
	tests := []struct {
		path string
		want any
	}{
		{"Runtime", "provided.al2023"},
		{"Architectures", []any{"arm64"}},
		{"Handler", "bootstrap"},
		{"Tracing", "Active"},
		{"LoggingConfig.LogFormat", "JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, field(g, strings.Split(tt.path, ".")...)); diff != "" {
				t.Errorf("Globals.Function.%s mismatch (-want +got):\n%s", tt.path, diff)
			}
		})
	}
	for _, key := range []string{"Timeout", "MemorySize"} {
		t.Run(key, func(t *testing.T) {
			if n, ok := g[key].(float64); !ok || n <= 0 {
				t.Errorf("Globals.Function.%s = %v, want a positive number", key, g[key])
			}
		})
	}
}

func TestTemplateStageParameter(t *testing.T) {
	tpl := loadTemplate(t, nil)
	p, ok := tpl.CFN.Parameters["Stage"]
	if !ok {
		t.Fatal("Parameters.Stage missing, want it")
	}
	if diff := cmp.Diff([]any{"dev", "staging", "prod"}, p.AllowedValues); diff != "" {
		t.Errorf("Stage.AllowedValues mismatch (-want +got):\n%s", diff)
	}
}

func TestTemplateNamesCarryStage(t *testing.T) {
	const stage = "staging"
	tpl := loadTemplate(t, map[string]string{"Stage": stage})
	nameProps := []struct{ typ, prop string }{
		{tableType, "TableName"},
		{functionType, "FunctionName"},
		{secretType, "Name"},
		{"AWS::KMS::Alias", "AliasName"},
		{"AWS::Serverless::HttpApi", "Name"},
		{"AWS::Logs::LogGroup", "LogGroupName"},
	}
	for _, np := range nameProps {
		ids := tpl.ResourceIDs(np.typ)
		if len(ids) == 0 {
			t.Errorf("no %s resources, want at least one", np.typ)
		}
		for _, id := range ids {
			t.Run(id, func(t *testing.T) {
				if name, _ := props(tpl, id)[np.prop].(string); !strings.Contains(name, stage) {
					t.Errorf("%s = %q, want it to contain %q", np.prop, name, stage)
				}
			})
		}
	}
}

func TestTemplateFunctions(t *testing.T) {
	tpl := loadTemplate(t, nil)
	want := []string{"EraseFunction", "EventsFunction", "RetentionFunction", "RotateFunction", "SendFunction", "WebhookFunction"}
	if diff := cmp.Diff(want, tpl.ResourceIDs(functionType)); diff != "" {
		t.Errorf("functions mismatch (-want +got):\n%s", diff)
	}
	for _, fn := range tpl.Functions() {
		t.Run(fn.LogicalID, func(t *testing.T) {
			r, p := tpl.Resource(fn.LogicalID), props(tpl, fn.LogicalID)
			if got := field(r, "Metadata", "BuildMethod"); got != "makefile" {
				t.Errorf("Metadata.BuildMethod = %v, want %q", got, "makefile")
			}
			if got := p["CodeUri"]; got != "." {
				t.Errorf("CodeUri = %v, want %q", got, ".")
			}
			if dir := filepath.Join("functions", fn.Dir); !isDir(dir) {
				t.Errorf("function folder %s is missing, want a directory", dir)
			}
			// Role would bypass the per-function Policies checked below; the
			// others must come from Globals.
			for _, k := range []string{"Role", "Runtime", "Handler", "Architectures", "Tracing"} {
				if v, ok := p[k]; ok {
					t.Errorf("%s = %v, want it unset (Globals or own Policies)", k, v)
				}
			}
			if v := field(p, "LoggingConfig", "LogFormat"); v != nil {
				t.Errorf("LoggingConfig.LogFormat = %v, want it inherited (JSON)", v)
			}
			checkInlinePolicies(t, p["Policies"])
		})
	}
}

// checkInlinePolicies requires inline {Statement: [...]} documents only:
// managed policies and SAM policy templates would escape the IAM tests.
func checkInlinePolicies(t *testing.T, v any) {
	t.Helper()
	pols, _ := v.([]any)
	if len(pols) == 0 {
		t.Errorf("Policies = %v, want an inline least-privilege policy", v)
	}
	for i, pol := range pols {
		if _, ok := field(pol, "Statement").([]any); !ok {
			t.Errorf("Policies[%d] = %v, want an inline {Statement: [...]} document", i, pol)
		}
	}
}

var pathParam = regexp.MustCompile(`\{([^}]*)\}`)

func TestTemplateRoutes(t *testing.T) {
	tpl := loadTemplate(t, nil)
	want := []samtemplate.Route{
		{Method: "GET", Path: "/webhooks/meta", Function: "WebhookFunction"},
		{Method: "POST", Path: "/webhooks/meta", Function: "WebhookFunction"},
		{Method: "POST", Path: "/webhooks/signed", Function: "WebhookFunction"},
		{Method: "POST", Path: "/v1/messages", Function: "SendFunction"},
		{Method: "POST", Path: "/v1/consents", Function: "SendFunction"},
		{Method: "POST", Path: "/v1/consents/query", Function: "SendFunction"},
		{Method: "GET", Path: "/v1/notices/{id}", Function: "SendFunction"},
		{Method: "POST", Path: "/v1/erasure-requests", Function: "EraseFunction"},
		{Method: "GET", Path: "/v1/erasure-requests/{id}", Function: "EraseFunction"},
		{Method: "POST", Path: "/v1/exports", Function: "EraseFunction"},
		{Method: "GET", Path: "/v1/messages/{id}", Function: "EventsFunction"},
		{Method: "POST", Path: "/v1/messages/query", Function: "EventsFunction"},
		{Method: "GET", Path: "/v1/dead-letters", Function: "EventsFunction"},
		{Method: "POST", Path: "/v1/dead-letters/{id}/redrive", Function: "EventsFunction"},
	}
	byKey := cmpopts.SortSlices(func(a, b samtemplate.Route) bool { return a.Path+a.Method < b.Path+b.Method })
	if diff := cmp.Diff(want, tpl.Routes(), byKey); diff != "" {
		t.Errorf("routes mismatch (-want +got):\n%s", diff)
	}
	for _, r := range tpl.Routes() {
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			if strings.ContainsAny(r.Path, "?#") {
				t.Errorf("path %q has a query string or fragment, want none", r.Path)
			}
			// Only opaque ids may sit in a path: paths reach access logs and
			// metrics, so a phone number must never be a path parameter.
			for _, m := range pathParam.FindAllStringSubmatch(r.Path, -1) {
				if m[1] != "id" {
					t.Errorf("path %q has parameter {%s}, want only {id}", r.Path, m[1])
				}
			}
		})
	}
}

func onlyResource(t *testing.T, tpl *samtemplate.Template, typ string) string {
	t.Helper()
	ids := tpl.ResourceIDs(typ)
	if len(ids) != 1 {
		t.Fatalf("%s resources = %v, want exactly one", typ, ids)
	}
	return ids[0]
}

func TestTemplateAPIThrottling(t *testing.T) {
	tpl := loadTemplate(t, nil)
	api := props(tpl, onlyResource(t, tpl, "AWS::Serverless::HttpApi"))
	for _, k := range []string{"ThrottlingRateLimit", "ThrottlingBurstLimit"} {
		if n, ok := field(api, "DefaultRouteSettings", k).(float64); !ok || n <= 0 {
			t.Errorf("DefaultRouteSettings.%s = %v, want a positive number", k, field(api, "DefaultRouteSettings", k))
		}
	}
}

// accessLogVariables may appear in the access log format. None can carry a
// request body, query string, header or raw path (which could hold a phone
// number a client put there by mistake); routeKey is the route template.
var accessLogVariables = map[string]bool{
	"$context.requestId": true, "$context.extendedRequestId": true,
	"$context.identity.sourceIp": true, "$context.requestTime": true,
	"$context.requestTimeEpoch": true, "$context.routeKey": true,
	"$context.httpMethod": true, "$context.protocol": true, "$context.status": true,
	"$context.responseLength": true, "$context.responseLatency": true,
	"$context.integrationLatency": true, "$context.integrationStatus": true,
	"$context.integrationErrorMessage": true, "$context.error.message": true,
	"$context.error.responseType": true, "$context.apiId": true, "$context.stage": true,
}

var logVariable = regexp.MustCompile(`\$[A-Za-z][A-Za-z0-9_.]*`)

func TestTemplateAccessLogFormat(t *testing.T) {
	tpl := loadTemplate(t, nil)
	api := props(tpl, onlyResource(t, tpl, "AWS::Serverless::HttpApi"))
	if dst, _ := field(api, "AccessLogSettings", "DestinationArn").(string); dst == "" {
		t.Error("AccessLogSettings.DestinationArn is empty, want a log group")
	}
	format, _ := field(api, "AccessLogSettings", "Format").(string)
	var fields map[string]string
	if err := json.Unmarshal([]byte(format), &fields); err != nil {
		t.Errorf("AccessLogSettings.Format = %q is not a JSON object: %v", format, err)
	}
	for _, v := range logVariable.FindAllString(format, -1) {
		if !accessLogVariables[v] {
			t.Errorf("AccessLogSettings.Format uses %s, want only accessLogVariables", v)
		}
	}
	for _, bad := range []string{"$input", "body", "querystring", "$context.path", "header", "useragent"} {
		if strings.Contains(strings.ToLower(format), strings.ToLower(bad)) {
			t.Errorf("AccessLogSettings.Format contains %q, want no request data", bad)
		}
	}
}

var dailyCron = regexp.MustCompile(`^cron\(\d{1,2} \d{1,2} \* \* \? \*\)$`)

func TestTemplateSchedules(t *testing.T) {
	tpl := loadTemplate(t, nil)
	tests := []struct {
		name, function, action string
		expr                   *regexp.Regexp
	}{
		{"retention sweep daily 03:00 UTC", "RetentionFunction", "sweep", regexp.MustCompile(`^cron\(0 3 \* \* \? \*\)$`)},
		{"retention audit digest daily", "RetentionFunction", "audit_digest", dailyCron},
		{"erase resumes pending erasures", "EraseFunction", "resume_pending_erasures", regexp.MustCompile(`^(rate|cron)\(.+\)$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := findSchedule(tpl, tt.function, tt.action)
			if !ok {
				t.Fatalf("no %s schedule with action %q, want one", tt.function, tt.action)
			}
			if !tt.expr.MatchString(s.Expression) {
				t.Errorf("%s expression = %q, want it to match %s", s.Event, s.Expression, tt.expr)
			}
			tz := field(tpl.Resource(s.Function), "Properties", "Events", s.Event, "Properties", "ScheduleExpressionTimezone")
			if tz != nil && tz != "UTC" {
				t.Errorf("%s ScheduleExpressionTimezone = %v, want UTC", s.Event, tz)
			}
		})
	}
}

func findSchedule(tpl *samtemplate.Template, function, action string) (samtemplate.Schedule, bool) {
	for _, s := range tpl.Schedules() {
		var in struct{ Action string }
		if s.Function == function && json.Unmarshal([]byte(s.Input), &in) == nil && in.Action == action {
			return s, true
		}
	}
	return samtemplate.Schedule{}, false
}

func isDataKey(v any) bool { return v == "Ref(DataKey)" || v == "GetAtt(DataKey.Arn)" }

func TestTemplateTables(t *testing.T) {
	tpl := loadTemplate(t, nil)
	tests := []struct {
		id     string
		pitr   bool
		stream string
		gsis   []string
	}{
		{id: "DataTable", pitr: true, gsis: []string{"by-expiry", "by-lookup", "by-id"}},
		// No PITR on purpose: a deleted subject key must not be restorable
		// for 35 days, or crypto-shredding would not be final (docs/crypto.md).
		{id: "KeysTable", pitr: false},
		{id: "AuditTable", pitr: true, stream: "NEW_IMAGE"},
	}
	var ids []string
	for _, tt := range tests {
		ids = append(ids, tt.id)
	}
	if diff := cmp.Diff(ids, tpl.ResourceIDs(tableType), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("tables mismatch (-want +got):\n%s\nevery new table needs a PITR decision here", diff)
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			p := props(tpl, tt.id)
			checkTableBaseline(t, p)
			if got, ok := field(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled").(bool); !ok || got != tt.pitr {
				t.Errorf("PointInTimeRecoveryEnabled = %v, want explicit %v", field(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"), tt.pitr)
			}
			if got := field(p, "StreamSpecification", "StreamViewType"); tt.stream != "" && got != tt.stream {
				t.Errorf("StreamViewType = %v, want %q", got, tt.stream)
			}
			for _, gsi := range tt.gsis {
				if !hasIndex(p, gsi) {
					t.Errorf("GlobalSecondaryIndexes lacks %q, want it", gsi)
				}
			}
		})
	}
}

func checkTableBaseline(t *testing.T, p map[string]any) {
	t.Helper()
	want := map[string]any{
		"BillingMode":                           "PAY_PER_REQUEST",
		"DeletionProtectionEnabled":             true,
		"SSESpecification.SSEEnabled":           true,
		"SSESpecification.SSEType":              "KMS",
		"TimeToLiveSpecification.AttributeName": "expires_at",
		"TimeToLiveSpecification.Enabled":       true,
	}
	for path, w := range want {
		if got := field(p, strings.Split(path, ".")...); got != w {
			t.Errorf("%s = %v, want %v", path, got, w)
		}
	}
	if got := field(p, "SSESpecification", "KMSMasterKeyId"); !isDataKey(got) {
		t.Errorf("SSESpecification.KMSMasterKeyId = %v, want the DataKey", got)
	}
}

func hasIndex(p map[string]any, name string) bool {
	gsis, _ := p["GlobalSecondaryIndexes"].([]any)
	for _, g := range gsis {
		if field(g, "IndexName") == name {
			return true
		}
	}
	return false
}

func TestTemplateKMSKeys(t *testing.T) {
	tpl := loadTemplate(t, nil)
	tests := []struct {
		key  string
		want map[string]any
	}{
		{"DataKey", map[string]any{"EnableKeyRotation": true, "KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"}},
		{"AuditSigningKey", map[string]any{"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			p := props(tpl, tt.key)
			for k, w := range tt.want {
				if p[k] != w {
					t.Errorf("%s = %v, want %v", k, p[k], w)
				}
			}
			if !hasAlias(tpl, tt.key) {
				t.Errorf("no AWS::KMS::Alias targets %s, want one", tt.key)
			}
			checkWildcardPrincipals(t, p["KeyPolicy"])
		})
	}
}

func hasAlias(tpl *samtemplate.Template, key string) bool {
	for _, id := range tpl.ResourceIDs("AWS::KMS::Alias") {
		name, _ := props(tpl, id)["AliasName"].(string)
		if props(tpl, id)["TargetKeyId"] == "Ref("+key+")" && strings.HasPrefix(name, "alias/") {
			return true
		}
	}
	return false
}

// checkWildcardPrincipals requires a kms:CallerAccount condition on any key
// policy statement open to Principal "*".
func checkWildcardPrincipals(t *testing.T, policy any) {
	t.Helper()
	sts, _ := field(policy, "Statement").([]any)
	for i, st := range sts {
		if field(st, "Principal", "AWS") != "*" && field(st, "Principal") != "*" {
			continue
		}
		if !hasConditionKey(field(st, "Condition"), "kms:CallerAccount") {
			t.Errorf("KeyPolicy.Statement[%d] allows Principal * without kms:CallerAccount, want it", i)
		}
	}
}

// hasConditionKey reports whether any operator block has a key with prefix.
func hasConditionKey(cond any, prefix string) bool {
	ops, _ := cond.(map[string]any)
	for _, block := range ops {
		keys, _ := block.(map[string]any)
		for k := range keys {
			if strings.HasPrefix(strings.ToLower(k), strings.ToLower(prefix)) {
				return true
			}
		}
	}
	return false
}

func TestTemplateSecrets(t *testing.T) {
	tpl := loadTemplate(t, nil)
	// The index and pseudonym keys are never rotated: rotating them orphans
	// every partition and pseudonym (docs/crypto.md).
	rotated := map[string]bool{
		"MetaWebhookSecret": true, "SignedWebhookSecret": true,
		"ProviderCredentialsSecret": true, "OpsClientSecret": true,
		"IndexKeySecret": false, "PseudonymKeySecret": false,
	}
	schedules := rotationSchedules(tpl)
	for _, id := range tpl.ResourceIDs(secretType) {
		t.Run(id, func(t *testing.T) {
			p := props(tpl, id)
			if !isDataKey(p["KmsKeyId"]) {
				t.Errorf("KmsKeyId = %v, want the DataKey", p["KmsKeyId"])
			}
			if _, ok := p["GenerateSecretString"].(map[string]any); !ok {
				t.Error("GenerateSecretString missing, want the value generated at deploy")
			}
			if _, ok := p["SecretString"]; ok {
				t.Error("SecretString is set, want no secret value in the template")
			}
			want, known := rotated[id]
			if !known {
				t.Fatalf("secret %s has no rotation decision in this test, want one", id)
			}
			s, got := schedules[id]
			if got != want {
				t.Fatalf("has RotationSchedule = %v, want %v", got, want)
			}
			if want {
				checkRotationSchedule(t, s)
			}
		})
	}
	if p := tpl.CFN.Parameters["SecretRotationDays"]; p.MaxValue != nil && *p.MaxValue > 90 {
		t.Errorf("SecretRotationDays.MaxValue = %v, want <= 90", *p.MaxValue)
	}
}

// rotationSchedules maps secret logical IDs to their RotationSchedule properties.
func rotationSchedules(tpl *samtemplate.Template) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, id := range tpl.ResourceIDs("AWS::SecretsManager::RotationSchedule") {
		p := props(tpl, id)
		secret, _ := p["SecretId"].(string)
		out[strings.TrimSuffix(strings.TrimPrefix(secret, "Ref("), ")")] = p
	}
	return out
}

func checkRotationSchedule(t *testing.T, p map[string]any) {
	t.Helper()
	if got := p["RotationLambdaARN"]; got != "GetAtt(RotateFunction.Arn)" {
		t.Errorf("RotationLambdaARN = %v, want GetAtt(RotateFunction.Arn)", got)
	}
	if days, ok := field(p, "RotationRules", "AutomaticallyAfterDays").(float64); !ok || days < 1 || days > 90 {
		t.Errorf("AutomaticallyAfterDays = %v, want 1..90", field(p, "RotationRules", "AutomaticallyAfterDays"))
	}
}

func TestTemplateRotatePermission(t *testing.T) {
	tpl := loadTemplate(t, nil)
	for _, id := range tpl.ResourceIDs("AWS::Lambda::Permission") {
		p := props(tpl, id)
		fn := p["FunctionName"]
		if p["Principal"] == "secretsmanager.amazonaws.com" && p["Action"] == "lambda:InvokeFunction" &&
			(fn == "GetAtt(RotateFunction.Arn)" || fn == "Ref(RotateFunction)") {
			if p["SourceAccount"] == nil {
				t.Errorf("%s.SourceAccount unset, want it (confused deputy)", id)
			}
			return
		}
	}
	t.Error("no AWS::Lambda::Permission lets secretsmanager.amazonaws.com invoke RotateFunction, want one")
}

func TestTemplateOutputs(t *testing.T) {
	tpl := loadTemplate(t, nil)
	for _, name := range []string{"ApiUrl", "DataTableName", "KeysTableName", "AuditTableName", "DataKeyArn"} {
		if _, ok := tpl.CFN.Outputs[name]; !ok {
			t.Errorf("Outputs.%s missing, want it", name)
		}
	}
}

// statement is one statement of a function's policy, in the template's
// IAM model.
type statement struct{ samtemplate.Statement }

func (s statement) grants(action string) bool {
	for _, a := range s.Actions {
		if strings.EqualFold(a, action) {
			return true
		}
	}
	return false
}

func (s statement) usesService(prefix string) bool {
	for _, a := range s.Actions {
		if strings.HasPrefix(strings.ToLower(a), prefix) {
			return true
		}
	}
	return false
}

func (s statement) covers(prefix string) bool {
	for _, r := range s.Resources {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}

// names reports whether the statement grants on resource exactly or, for
// a resource ending in "/", on anything under it.
func (s statement) names(resource string) bool {
	if strings.HasSuffix(resource, "/") {
		return s.covers(resource)
	}
	return slices.Contains(s.Resources, resource)
}

// allowStatements lists every Allow statement of every function's Policies.
func allowStatements(tpl *samtemplate.Template) []statement {
	var out []statement
	for _, st := range tpl.Statements() {
		if st.Effect == "Allow" && resourceType(tpl, st.Holder) == functionType {
			out = append(out, statement{st})
		}
	}
	return out
}

func TestTemplateIAMNoWildcardActions(t *testing.T) {
	for _, s := range allowStatements(loadTemplate(t, nil)) {
		if s.NotActions != nil || s.NotResources != nil {
			t.Errorf("%s uses NotAction/NotResource, want explicit lists", s)
		}
		for _, a := range s.Actions {
			if strings.ContainsAny(a, "*?") {
				t.Errorf("%s grants %q, want no wildcard actions", s, a)
			}
		}
	}
}

// resourceStarActions have no resource-level permissions, so AWS requires
// Resource "*" for them (Service Authorization Reference for Secrets Manager;
// the rotation-function execution role example grants GetRandomPassword on "*").
//
// secretsmanager:ListSecrets has none either: the events function lists the
// operator's endpoint secrets by name prefix (docs/events.md) and reads only
// those (GetSecretValue stays scoped to waguard/<stage>/endpoints/*).
var resourceStarActions = map[string]bool{"secretsmanager:getrandompassword": true, "secretsmanager:listsecrets": true}

func TestTemplateIAMResourceStar(t *testing.T) {
	for _, s := range allowStatements(loadTemplate(t, nil)) {
		if !s.covers("*") {
			continue
		}
		for _, a := range s.Actions {
			if !resourceStarActions[strings.ToLower(a)] {
				t.Errorf("%s grants %s on Resource \"*\", want a named resource", s, a)
			}
		}
	}
}

var tableARN = regexp.MustCompile(`^GetAtt\((\w+)\.(Arn|StreamArn)\)(/index/(\*|[\w.-]+))?$`)

// TestTemplateIAMDynamoDBResourcesAreTables keeps the audit checks below
// sound: a literal or wildcard table ARN could grant the audit table unseen.
// A named index must be one of the table's.
func TestTemplateIAMDynamoDBResourcesAreTables(t *testing.T) {
	tpl := loadTemplate(t, nil)
	for _, s := range allowStatements(tpl) {
		if !s.usesService("dynamodb:") {
			continue
		}
		for _, r := range s.Resources {
			m := tableARN.FindStringSubmatch(r)
			switch {
			case m == nil || resourceType(tpl, m[1]) != tableType:
				t.Errorf("%s resource %q, want GetAtt(<Table>.Arn) or one of its indexes", s, r)
			case m[4] != "" && m[4] != "*" && !hasIndex(props(tpl, m[1]), m[4]):
				t.Errorf("%s resource %q: %s has no index %s", s, r, m[1], m[4])
			}
		}
	}
}

// TestTemplateIAMIndexResourcesOnlyForQueries: IAM checks item actions
// (GetItem, PutItem, ...) against the table, never an index, so granting
// one on an index ARN is dead weight that hides what a statement means;
// only Query and Scan read an index.
func TestTemplateIAMIndexResourcesOnlyForQueries(t *testing.T) {
	for _, s := range allowStatements(loadTemplate(t, nil)) {
		if !slices.ContainsFunc(s.Resources, func(r string) bool { return strings.Contains(r, "/index/") }) {
			continue
		}
		for _, a := range s.Actions {
			if l := strings.ToLower(a); l != "dynamodb:query" && l != "dynamodb:scan" {
				t.Errorf("%s grants %s on an index, want only dynamodb:Query or Scan there", s, a)
			}
		}
	}
}

// TestTemplateIAMRemovedGrantsStayRemoved lists grants no code path uses,
// found by reading each function's SDK calls and confirmed by the IAM
// coverage check of `make test` (devstack/cmd/iamcheck), so that none
// creeps back unseen by a run without the stack.
func TestTemplateIAMRemovedGrantsStayRemoved(t *testing.T) {
	sts := allowStatements(loadTemplate(t, nil))
	secretReaders := map[string][]string{
		"WebhookFunction": {"Ref(ProviderCredentialsSecret)", "Ref(IndexKeySecret)", "Ref(PseudonymKeySecret)"},
		"SendFunction":    {"Ref(ProviderCredentialsSecret)", "Ref(IndexKeySecret)", "Ref(PseudonymKeySecret)"},
		"EraseFunction":   {"Ref(ProviderCredentialsSecret)", "Ref(IndexKeySecret)", "Ref(PseudonymKeySecret)"},
	}
	tests := []struct{ function, action, resource, why string }{
		{"EraseFunction", "dynamodb:BatchWriteItem", "", "erasure deletes item by item (shared/store ErasePage, EraseRecords)"},
		{"RetentionFunction", "dynamodb:BatchWriteItem", "", "the sweep deletes item by item, each with its expiry condition"},
		{"EraseFunction", "dynamodb:PutItem", "GetAtt(KeysTable.Arn)", "erasure reads and deletes subject keys, never creates one"},
		{"EraseFunction", "kms:GenerateDataKey", "", "a branch key is only created with a subject key, which erasure never creates"},
		{"RetentionFunction", "kms:GetPublicKey", "", "the digest only signs; auditors fetch the public key themselves (cmd/auditverify)"},
		{"RetentionFunction", "dynamodb:Query", "GetAtt(DataTable.Arn)", "the sweep queries the by-expiry index, not the table"},
		{"RetentionFunction", "dynamodb:Query", "GetAtt(AuditTable.Arn)", "the digest queries the by-day index, not the table"},
		{"SendFunction", "dynamodb:Query", "GetAtt(DataTable.Arn)/index/", "send queries no index"},
	}
	for fn, ids := range secretReaders {
		tests = append(tests, struct{ function, action, resource, why string }{fn, "secretsmanager:DescribeSecret", "",
			"shared/secrets only reads values and lists versions; only rotate describes a secret"})
		for _, id := range ids {
			tests = append(tests, struct{ function, action, resource, why string }{fn, "secretsmanager:ListSecretVersionIds", id,
				"versions are listed only for a secret whose AWSPREVIOUS is honoured for an overlap (API keys, webhook secrets)"})
		}
	}
	for _, tt := range tests {
		t.Run(tt.function+"/"+tt.action+"/"+tt.resource, func(t *testing.T) {
			for _, s := range sts {
				if s.Holder == tt.function && s.grants(tt.action) && (tt.resource == "" || s.names(tt.resource)) {
					t.Errorf("%s grants %s on %v, want it removed: %s", s, tt.action, s.Resources, tt.why)
				}
			}
		})
	}
}

const auditTable = "GetAtt(AuditTable."

// auditActions is all a function may do to the audit table: append and read.
var auditActions = map[string]bool{
	"dynamodb:putitem": true, "dynamodb:getitem": true, "dynamodb:query": true,
	"dynamodb:batchgetitem": true, "dynamodb:describetable": true, "dynamodb:conditioncheckitem": true,
	// Reading the stream (the events function's outbox) changes nothing.
	"dynamodb:describestream": true, "dynamodb:getrecords": true, "dynamodb:getsharditerator": true, "dynamodb:liststreams": true,
}

func TestTemplateIAMAuditTableIsAppendOnly(t *testing.T) {
	sts := allowStatements(loadTemplate(t, nil))
	forbidden := []string{"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
		"dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive",
		"dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"}
	for _, action := range forbidden {
		t.Run(action, func(t *testing.T) {
			for _, s := range sts {
				if s.covers(auditTable) && s.grants(action) {
					t.Errorf("%s grants %s on the audit table, want append-only", s, action)
				}
			}
		})
	}
	t.Run("allowlist", func(t *testing.T) {
		for _, s := range sts {
			for _, a := range s.Actions {
				if s.covers(auditTable) && !auditActions[strings.ToLower(a)] {
					t.Errorf("%s grants %s on the audit table, want only PutItem and reads", s, a)
				}
			}
		}
	})
}

func TestTemplateIAMEveryFunctionAppendsToAudit(t *testing.T) {
	tpl := loadTemplate(t, nil)
	sts := allowStatements(tpl)
	for _, fn := range tpl.ResourceIDs(functionType) {
		t.Run(fn, func(t *testing.T) {
			for _, s := range sts {
				if s.Holder == fn && s.grants("dynamodb:PutItem") && s.covers("GetAtt(AuditTable.Arn)") {
					return
				}
			}
			t.Error("no dynamodb:PutItem on GetAtt(AuditTable.Arn), want every function to write audit events")
		})
	}
}

func TestTemplateIAMDataKeyNeedsEncryptionContext(t *testing.T) {
	for _, s := range allowStatements(loadTemplate(t, nil)) {
		if !s.covers("GetAtt(DataKey.") && !s.covers("Ref(DataKey") {
			continue
		}
		if !hasConditionKey(s.Condition, "kms:EncryptionContext:") {
			t.Errorf("%s uses the DataKey without a kms:EncryptionContext:* condition, want one", s)
		}
	}
}

var (
	secretishName = regexp.MustCompile(`(?i)SECRET|TOKEN|PASSWORD|CREDENTIAL|(^|_)KEY(_|$)`)
	tokenValue    = regexp.MustCompile(`^[A-Za-z0-9+/=_-]{24,}$`)
	refValue      = regexp.MustCompile(`^Ref\((\w+)\)$`)
	integerValue  = regexp.MustCompile(`^[0-9]+$`)
)

// looksLikeSecret flags long mixed-case tokens and PEM blocks.
func looksLikeSecret(v string) bool {
	if strings.Contains(v, "-----BEGIN") {
		return true
	}
	return tokenValue.MatchString(v) && strings.ContainsAny(v, "0123456789") &&
		strings.ToLower(v) != v && strings.ToUpper(v) != v
}

// namesSecret reports whether a secret-like variable names a secret or key
// (a Ref to one, or a secret-name prefix) or is a count, rather than holding one.
func namesSecret(tpl *samtemplate.Template, name, value string) bool {
	if m := refValue.FindStringSubmatch(value); m != nil {
		typ := resourceType(tpl, m[1])
		return typ == secretType || typ == "AWS::KMS::Key" || typ == "AWS::KMS::Alias"
	}
	if strings.HasSuffix(name, "_PREFIX") {
		return strings.HasSuffix(value, "/")
	}
	return integerValue.MatchString(value)
}

func TestTemplateEnvironmentHoldsNoSecrets(t *testing.T) {
	tpl := loadTemplate(t, nil)
	for _, fn := range tpl.Functions() {
		t.Run(fn.LogicalID, func(t *testing.T) {
			for name, value := range fn.Env {
				if looksLikeSecret(value) {
					t.Errorf("env %s looks like a secret value, want a Ref to a secret", name)
				}
				if secretishName.MatchString(name) && !namesSecret(tpl, name, value) {
					t.Errorf("env %s = %q, want a Ref to a secret or key, never its value", name, value)
				}
			}
		})
	}
}

// readSamconfig reads the subset of TOML samconfig.toml uses: [section]
// headers and one-line key = value pairs. Keys before any header go in "".
func readSamconfig(t *testing.T) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(samconfigFile)
	if err != nil {
		t.Fatalf("open %s: %v", samconfigFile, err)
	}
	defer f.Close()
	out, section := map[string]map[string]string{"": {}}, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			if out[section] == nil {
				out[section] = map[string]string{}
			}
		default:
			k, v, _ := strings.Cut(line, "=")
			v = strings.TrimSpace(v)
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			}
			out[section][strings.TrimSpace(k)] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", samconfigFile, err)
	}
	return out
}

// samParam looks a key up in [env.cmd.parameters], then [env.global.parameters].
func samParam(cfg map[string]map[string]string, env, cmd, key string) string {
	if v, ok := cfg[env+"."+cmd+".parameters"][key]; ok {
		return v
	}
	return cfg[env+".global.parameters"][key]
}

func hasField(s, want string) bool {
	for _, f := range strings.Fields(s) {
		if f == want {
			return true
		}
	}
	return false
}

func TestSamconfigEnvironments(t *testing.T) {
	cfg := readSamconfig(t)
	if v := cfg[""]["version"]; v != "0.1" {
		t.Errorf("version = %q, want %q", v, "0.1")
	}
	tests := []struct {
		env, stage string
		confirm    bool
	}{
		{"default", "dev", false},
		{"staging", "staging", false},
		{"prod", "prod", true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			want := map[string]string{"stack_name": "waguard-" + tt.stage, "resolve_s3": "true"}
			if tt.confirm {
				want["confirm_changeset"] = "true"
			}
			for k, w := range want {
				if got := samParam(cfg, tt.env, "deploy", k); got != w {
					t.Errorf("deploy %s = %q, want %q", k, got, w)
				}
			}
			if caps := samParam(cfg, tt.env, "deploy", "capabilities"); !hasField(caps, "CAPABILITY_IAM") {
				t.Errorf("deploy capabilities = %q, want it to contain CAPABILITY_IAM", caps)
			}
			for _, k := range []string{"cached", "parallel"} {
				if got := samParam(cfg, tt.env, "build", k); got != "true" {
					t.Errorf("build %s = %q, want true", k, got)
				}
			}
			checkStageOverrides(t, cfg, tt.env, tt.stage)
		})
	}
}

// checkStageOverrides requires deploy to pass Stage=<stage>, and no section of
// the environment to pass another stage.
func checkStageOverrides(t *testing.T, cfg map[string]map[string]string, env, stage string) {
	t.Helper()
	if o := samParam(cfg, env, "deploy", "parameter_overrides"); !hasField(o, "Stage="+stage) {
		t.Errorf("deploy parameter_overrides = %q, want it to contain %q", o, "Stage="+stage)
	}
	for section, kv := range cfg {
		o, ok := kv["parameter_overrides"]
		if ok && strings.HasPrefix(section, env+".") && !hasField(o, "Stage="+stage) {
			t.Errorf("[%s] parameter_overrides = %q, want it to contain %q", section, o, "Stage="+stage)
		}
	}
}

// TestTemplateOperatorStagedSecretsWaitForSchedule checks that the secrets
// only Meta can issue are not rotated at deploy (nothing can be staged
// yet), while the generated ones may be.
func TestTemplateOperatorStagedSecretsWaitForSchedule(t *testing.T) {
	tpl := loadTemplate(t, nil)
	for id, want := range map[string]any{"MetaWebhookSecretRotation": false, "ProviderCredentialsRotation": false,
		"SignedWebhookSecretRotation": nil, "OpsClientSecretRotation": nil} {
		if got := props(tpl, id)["RotateImmediatelyOnUpdate"]; got != want {
			t.Errorf("%s RotateImmediatelyOnUpdate = %v, want %v", id, got, want)
		}
	}
}

// TestTemplateStatefulPolicies: every resource that holds state says what
// a stack deletion or a replacement does to it (cfn-lint I3011), and the
// ones whose loss loses data or the way to find it are retained: the
// tables, the KMS keys, the blind-index and pseudonym keys (a new index
// key orphans every partition, so no erasure could find a person again:
// docs/crypto.md) and the logs (no personal data; they expire by
// LogRetentionDays). Secrets an operator can set again (webhook secrets,
// provider credentials, the ops client) and the queue of failed stream
// batches are deleted with the stack.
func TestTemplateStatefulPolicies(t *testing.T) {
	tpl := loadTemplate(t, nil)
	retained := map[string]bool{"IndexKeySecret": true, "PseudonymKeySecret": true}
	for _, typ := range []string{tableType, "AWS::KMS::Key", "AWS::Logs::LogGroup"} {
		for _, id := range tpl.ResourceIDs(typ) {
			retained[id] = true
		}
	}
	for _, typ := range []string{tableType, "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::SecretsManager::Secret", "AWS::SQS::Queue", "AWS::S3::Bucket"} {
		for _, id := range tpl.ResourceIDs(typ) {
			want := "Delete"
			if retained[id] {
				want = "Retain"
			}
			r := tpl.Resource(id)
			for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
				if got := r[policy]; got != want {
					t.Errorf("%s %s = %v, want explicit %s", id, policy, got, want)
				}
			}
		}
	}
}

// TestStatefulPoliciesDocumented: docs/stack-deletion.md names every
// stateful resource in a table row with the policy the template gives it.
func TestStatefulPoliciesDocumented(t *testing.T) {
	tpl := loadTemplate(t, nil)
	doc, err := os.ReadFile("docs/stack-deletion.md")
	if err != nil {
		t.Fatalf("read docs/stack-deletion.md: %v", err)
	}
	for _, typ := range []string{tableType, "AWS::KMS::Key", "AWS::Logs::LogGroup", secretType, "AWS::SQS::Queue", "AWS::S3::Bucket"} {
		for _, id := range tpl.ResourceIDs(typ) {
			want := fmt.Sprint(tpl.Resource(id)["DeletionPolicy"])
			row := regexp.MustCompile("(?m)^\\| [^|]*`" + id + "`[^|]*\\| [^|]+ \\| (\\w+) \\|")
			m := row.FindSubmatch(doc)
			switch {
			case m == nil:
				t.Errorf("docs/stack-deletion.md has no row for %s, want one saying %s and why", id, want)
			case string(m[1]) != want:
				t.Errorf("docs/stack-deletion.md says %s for %s, want %s as template.yaml", m[1], id, want)
			}
		}
	}
}
