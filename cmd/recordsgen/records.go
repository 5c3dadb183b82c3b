package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/waguard/waguard/internal/samtemplate"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/idempotency"
	"github.com/waguard/waguard/shared/retention"
)

// Placeholders stand for what only the controller knows; the record shows
// them in square brackets so that a missing value is obvious.
const (
	stagePlaceholder      = "<stage>"
	regionPlaceholder     = "[REGION: the AWS region you deploy to]"
	controllerPlaceholder = "[CONTROLLER: legal name, address, contact]"
	dpoPlaceholder        = "[DPO: name and contact, or the contact point for data protection]"
)

// options are the inputs besides the template itself.
type options struct {
	// Params override parameter defaults, as sam deploy's
	// --parameter-overrides does; Stage defaults to a placeholder.
	Params map[string]string
	// Region, Controller and DPO fill the record's placeholders.
	Region, Controller, DPO string
	// Endpoints are the webhook endpoints the operator configured (secrets
	// under the endpoint prefix, which the template cannot know), each a
	// recipient of events (Art. 30(1)(d)).
	Endpoints []endpointRow
}

// endpointRow is one configured webhook endpoint: its secret's name, who
// receives what it is sent, and whether it receives content.
type endpointRow struct {
	Name, Recipient string
	Content         bool
}

// record is everything the record-of-processing template shows.
type record struct {
	Overrides                string
	Stage, Region            string
	Controller, DPO          string
	ProviderHost, APIBase    string
	AlarmTopic               bool
	KeyRotation, KeyRetained bool
	Alarms                   []string
	ErasurePhrase            string
	Purposes                 []purposeRow
	Classes                  []classRow
	AuditDays                int
	AuditYears               string
	Tables                   []tableRow
	Secrets                  []secretRow
	Routes                   []routeRow
	Schedules                []samtemplate.Schedule
	AccessLogGroup           string
	AccessLogDays            int
	AccessLogParam           string
	FunctionLogs             []functionLog
	RotationDays             int
	OverlapHours             int
	RedeliveryHours          int
	ReplaySeconds            int
	IdempotencyHours         int
	RateWindow, OTPWindow    int
	AuditEvents              []auditRow
	PerRecipient, OTPPerWin  int
	EventBus, EndpointPrefix string
	Endpoints                []endpointRow
}

type purposeRow struct {
	purpose
	Days int
}

type classRow struct {
	Class     retention.Class
	Use       string
	Days      int
	Parameter string
}

type tableRow struct {
	Name, Use, Stream string
	PITR              bool
}

type secretRow struct {
	Name, Description string
	Rotated           bool
}

type routeRow struct {
	Key string
	route
	Function string
}

type functionLog struct {
	Function, Retention, Param string
}

type auditRow struct {
	Type    audit.EventType
	Meaning string
}

// build reads template.yaml (its bytes) with opts and assembles the record.
func build(templateYAML []byte, opts options) (*record, error) {
	params := map[string]string{"Stage": stagePlaceholder}
	for k, v := range opts.Params {
		params[k] = v
	}
	tpl, err := samtemplate.Parse(templateYAML, samtemplate.Resolver{Params: params})
	if err != nil {
		return nil, err
	}
	if err := knownParams(tpl, opts.Params); err != nil {
		return nil, err
	}
	r := &record{AlarmTopic: paramValue(tpl, params, "AlarmTopicArn") != "", Overrides: formatOverrides(opts.Params), Stage: params["Stage"],
		Region: or(opts.Region, regionPlaceholder), Controller: or(opts.Controller, controllerPlaceholder),
		DPO: or(opts.DPO, dpoPlaceholder), IdempotencyHours: int(idempotency.RecordTTL.Hours()), Endpoints: opts.Endpoints}
	refs := parameterRefs(tpl)
	steps := []func(*samtemplate.Template, *record) error{addSettings, addTables, addSecrets, addRoutes, addEvents,
		addAuditEvents, func(t *samtemplate.Template, r *record) error { return addLogs(t, refs, r) }}
	for _, step := range steps {
		if err := step(tpl, r); err != nil {
			return nil, err
		}
	}
	return r, addRetention(tpl, refs, r)
}

// knownParams refuses an override of a parameter the template lacks: a
// typo would otherwise leave the default in the record unnoticed.
func knownParams(tpl *samtemplate.Template, params map[string]string) error {
	for name := range params {
		if _, ok := tpl.CFN.Parameters[name]; !ok {
			return fmt.Errorf("parameter %q is not in the template", name)
		}
	}
	return nil
}

// paramValue returns a parameter's override, else its default.
func paramValue(tpl *samtemplate.Template, params map[string]string, name string) string {
	if v, ok := params[name]; ok {
		return v
	}
	if d := tpl.CFN.Parameters[name].Default; d != nil {
		return fmt.Sprint(d)
	}
	return ""
}

// env returns the environment every function shares (Globals), failing if
// any function sets one of keys differently.
func env(tpl *samtemplate.Template, keys ...string) (map[string]string, error) {
	fns := tpl.Functions()
	if len(fns) == 0 {
		return nil, fmt.Errorf("template has no functions")
	}
	out := map[string]string{}
	for _, k := range keys {
		out[k] = fns[0].Env[k]
		for _, fn := range fns[1:] {
			if fn.Env[k] != out[k] {
				return nil, fmt.Errorf("functions %s and %s disagree on %s", fns[0].LogicalID, fn.LogicalID, k)
			}
		}
	}
	return out, nil
}

// functionEnv returns one function's environment.
func functionEnv(tpl *samtemplate.Template, logicalID string) map[string]string {
	for _, fn := range tpl.Functions() {
		if fn.LogicalID == logicalID {
			return fn.Env
		}
	}
	return map[string]string{}
}

// addSettings reads the parameters the record quotes, through the
// environment the functions receive.
func addSettings(tpl *samtemplate.Template, r *record) error {
	g, err := env(tpl, "PROVIDER_RAPIDAPI_HOST", "WHATSAPP_API_BASE_URL", "AUDIT_RETENTION_DAYS")
	if err != nil {
		return err
	}
	r.ProviderHost, r.APIBase = g["PROVIDER_RAPIDAPI_HOST"], g["WHATSAPP_API_BASE_URL"]
	wh, send := functionEnv(tpl, "WebhookFunction"), functionEnv(tpl, "SendFunction")
	r.ErasurePhrase = wh["ERASURE_PHRASE"]
	ints := []struct {
		v   string
		dst *int
	}{
		{g["AUDIT_RETENTION_DAYS"], &r.AuditDays},
		{wh["WEBHOOK_REDELIVERY_HORIZON_HOURS"], &r.RedeliveryHours},
		{wh["SIGNED_WEBHOOK_TOLERANCE_SECONDS"], &r.ReplaySeconds},
		{send["API_KEY_OVERLAP_HOURS"], &r.OverlapHours},
		{send["RATE_LIMIT_PER_RECIPIENT"], &r.PerRecipient},
		{send["RATE_LIMIT_PER_RECIPIENT_WINDOW_SECONDS"], &r.RateWindow},
		{send["RATE_LIMIT_OTP"], &r.OTPPerWin},
		{send["RATE_LIMIT_OTP_WINDOW_SECONDS"], &r.OTPWindow},
	}
	for _, i := range ints {
		n, err := strconv.Atoi(i.v)
		if err != nil {
			return fmt.Errorf("template: a setting the record quotes is not a whole number: %q", i.v)
		}
		*i.dst = n
	}
	r.ReplaySeconds *= 2 // replay keys are kept twice the tolerance
	r.AuditYears = strconv.FormatFloat(float64(r.AuditDays)/365, 'f', -1, 64)
	if len(r.AuditYears) > 4 {
		r.AuditYears = strconv.FormatFloat(float64(r.AuditDays)/365, 'f', 1, 64)
	}
	return nil
}

// addEvents finds the destinations of events: the bus the template
// creates and the secret prefix under which endpoints are configured.
func addEvents(tpl *samtemplate.Template, r *record) error {
	buses := tpl.ResourceIDs("AWS::Events::EventBus")
	if len(buses) != 1 {
		return fmt.Errorf("template: want one event bus, found %d", len(buses))
	}
	p, _ := tpl.Resource(buses[0])["Properties"].(map[string]any)
	r.EventBus, _ = p["Name"].(string)
	r.EndpointPrefix = functionEnv(tpl, "EventsFunction")["ENDPOINT_SECRET_PREFIX"]
	if r.EventBus == "" || r.EndpointPrefix == "" {
		return fmt.Errorf("template: the event bus name or the events function's ENDPOINT_SECRET_PREFIX is missing")
	}
	return nil
}

func addTables(tpl *samtemplate.Template, r *record) error {
	key := tpl.Resource("DataKey")
	r.KeyRotation, _ = dig(key, "Properties", "EnableKeyRotation").(bool)
	r.KeyRetained = key["DeletionPolicy"] == "Retain"
	r.Alarms = tpl.ResourceIDs("AWS::CloudWatch::Alarm")
	for _, id := range tpl.ResourceIDs("AWS::DynamoDB::Table") {
		use, ok := tableUse[id]
		if !ok {
			return fmt.Errorf("table %s has no description in cmd/recordsgen/facts.go", id)
		}
		p, _ := tpl.Resource(id)["Properties"].(map[string]any)
		pitr, _ := dig(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled").(bool)
		stream, _ := dig(p, "StreamSpecification", "StreamViewType").(string)
		name, _ := p["TableName"].(string)
		r.Tables = append(r.Tables, tableRow{Name: name, Use: use, Stream: stream, PITR: pitr})
	}
	return nil
}

func addSecrets(tpl *samtemplate.Template, r *record) error {
	rotated := map[string]bool{}
	for _, id := range tpl.ResourceIDs("AWS::SecretsManager::RotationSchedule") {
		p, _ := tpl.Resource(id)["Properties"].(map[string]any)
		ref, _ := p["SecretId"].(string)
		rotated[strings.TrimSuffix(strings.TrimPrefix(ref, "Ref("), ")")] = true
		if days, ok := dig(p, "RotationRules", "AutomaticallyAfterDays").(float64); ok {
			r.RotationDays = int(days)
		}
	}
	for _, id := range tpl.ResourceIDs("AWS::SecretsManager::Secret") {
		p, _ := tpl.Resource(id)["Properties"].(map[string]any)
		name, _ := p["Name"].(string)
		desc, _ := p["Description"].(string)
		r.Secrets = append(r.Secrets, secretRow{Name: name, Description: desc, Rotated: rotated[id]})
	}
	return nil
}

func addRoutes(tpl *samtemplate.Template, r *record) error {
	for _, rt := range tpl.Routes() {
		key := rt.Method + " " + rt.Path
		use, ok := routeUse[key]
		if !ok {
			return fmt.Errorf("route %s has no description in cmd/recordsgen/facts.go", key)
		}
		r.Routes = append(r.Routes, routeRow{Key: key, route: use, Function: rt.Function})
	}
	r.Schedules = tpl.Schedules()
	return nil
}

// addLogs finds the API access log group and, per function, a log group
// named /aws/lambda/<function> with a retention, if the template has one,
// naming the parameter that sets each retention.
func addLogs(tpl *samtemplate.Template, refs map[string]string, r *record) error {
	type group struct {
		days  int
		param string
	}
	groups := map[string]group{}
	for _, id := range tpl.ResourceIDs("AWS::Logs::LogGroup") {
		p, _ := tpl.Resource(id)["Properties"].(map[string]any)
		name, _ := p["LogGroupName"].(string)
		days, _ := p["RetentionInDays"].(float64)
		groups[name] = group{int(days), refs[id+".RetentionInDays"]}
		if strings.HasSuffix(name, "/api-access") {
			r.AccessLogGroup, r.AccessLogDays, r.AccessLogParam = name, int(days), refs[id+".RetentionInDays"]
		}
	}
	if r.AccessLogGroup == "" {
		return fmt.Errorf("template has no API access log group (…/api-access)")
	}
	for _, fn := range tpl.Functions() {
		fl := functionLog{Function: fn.Name, Retention: "not set in template.yaml: kept until deleted"}
		if g, ok := groups["/aws/lambda/"+fn.Name]; ok && g.days > 0 {
			fl.Retention, fl.Param = days(g.days), g.param
		}
		r.FunctionLogs = append(r.FunctionLogs, fl)
	}
	return nil
}

func addAuditEvents(_ *samtemplate.Template, r *record) error {
	for t, m := range auditMeaning {
		r.AuditEvents = append(r.AuditEvents, auditRow{Type: t, Meaning: m})
	}
	sort.Slice(r.AuditEvents, func(i, j int) bool { return r.AuditEvents[i].Type < r.AuditEvents[j].Type })
	return nil
}

// addRetention reads the retention policy as the functions do
// (retention.PolicyFromEnv over their environment) and names the template
// parameter behind each class.
func addRetention(tpl *samtemplate.Template, refs map[string]string, r *record) error {
	keys := make([]string, len(retention.Classes))
	for i, c := range retention.Classes {
		keys[i] = envName(c)
	}
	g, err := env(tpl, keys...)
	if err != nil {
		return err
	}
	policy, err := retention.PolicyFromEnv(func(k string) string { return g[k] })
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	for _, c := range retention.Classes {
		use, ok := classUse[c]
		if !ok || refs[envName(c)] == "" {
			return fmt.Errorf("retention class %s lacks a description in facts.go or a Globals parameter", c)
		}
		days, _ := policy.Days(c)
		r.Classes = append(r.Classes, classRow{Class: c, Use: use, Days: days, Parameter: refs[envName(c)]})
	}
	for _, p := range purposes {
		days, err := policy.Days(p.Class)
		if err != nil {
			return fmt.Errorf("purpose %s: %w", p.Class, err)
		}
		r.Purposes = append(r.Purposes, purposeRow{purpose: p, Days: days})
	}
	return nil
}

// envName is the variable retention.PolicyFromEnv reads for class c.
func envName(c retention.Class) string { return "RETENTION_DAYS_" + strings.ToUpper(string(c)) }
