package templatecheck

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/shared/metrics"
)

const (
	alarmType     = "AWS::CloudWatch::Alarm"
	dashboardType = "AWS::CloudWatch::Dashboard"
	lambdaNS      = "AWS/Lambda"
)

// alarmSpec is what an alarm item requires: an alarm that watches one of
// the metrics (namespace/name), or all of them, optionally through an
// anomaly band.
type alarmSpec struct {
	item      string
	namespace string
	names     []string
	anomaly   bool
	all       bool
}

// alarmSpecs are found by what the alarms watch, not by their logical IDs.
// The retention alarm may watch the excess over the policy or how far the
// sweep is behind: both bound how long an item outlives its retention. The
// audit digest alarm must watch both late digests and failed runs.
var alarmSpecs = []alarmSpec{
	{checklist.MonSignatureFailures, metrics.Namespace, []string{metrics.SignatureFailures}, false, false},
	{checklist.MonAuthFailures, metrics.Namespace, []string{metrics.AuthFailures}, false, false},
	{checklist.MonRateLimited, metrics.Namespace, []string{metrics.RateLimited}, false, false},
	{checklist.MonOutboundAnomaly, metrics.Namespace, []string{metrics.MessagesSent}, true, false},
	{checklist.MonFunctionErrors, lambdaNS, []string{"Errors"}, false, false},
	{checklist.MonFunctionThrottles, lambdaNS, []string{"Throttles"}, false, false},
	{checklist.MonErasurePending, metrics.Namespace, []string{metrics.ErasurePendingOldestHours}, false, false},
	{checklist.MonRetentionBreach, metrics.Namespace, []string{metrics.RetentionExcessHours, metrics.RetentionOverdueHours}, false, false},
	{checklist.MonRotationFailures, metrics.Namespace, []string{metrics.RotationFailures}, false, false},
	{item: checklist.MonAuditDigest, namespace: metrics.Namespace, names: []string{metrics.AuditDigestsLate, metrics.AuditDigestFailures}, all: true},
}

// alarm is what one alarm resource watches.
type alarm struct {
	id      string
	metrics []string // "namespace/name"
	anomaly bool     // an ANOMALY_DETECTION_BAND threshold
	rule    string   // "GreaterThanThreshold 10", for evidence
	actions []string
	fns     map[string]bool // FunctionName dimensions, for AWS/Lambda metrics
}

func (t *Template) alarms() []alarm {
	var out []alarm
	for _, id := range t.ids(alarmType) {
		p := t.props(id)
		a := alarm{id: id, actions: actionNames(field(t.rawProps(id), "AlarmActions")), fns: map[string]bool{}}
		if n := str(p["MetricName"]); n != "" {
			a.metrics = append(a.metrics, str(p["Namespace"])+"/"+n)
			a.addFunctions(p["Dimensions"])
		}
		ms, _ := p["Metrics"].([]any)
		for _, m := range ms {
			if n := str(field(m, "MetricStat", "Metric", "MetricName")); n != "" {
				a.metrics = append(a.metrics, str(field(m, "MetricStat", "Metric", "Namespace"))+"/"+n)
				a.addFunctions(field(m, "MetricStat", "Metric", "Dimensions"))
			}
			if strings.Contains(strings.ToUpper(str(field(m, "Expression"))), "ANOMALY_DETECTION_BAND") && str(p["ThresholdMetricId"]) != "" {
				a.anomaly = true
			}
		}
		a.rule = strings.TrimSpace(str(p["ComparisonOperator"]) + " " + str(p["Threshold"]))
		out = append(out, a)
	}
	return out
}

// addFunctions records the functions a metric's FunctionName dimension names.
func (a alarm) addFunctions(dims any) {
	ds, _ := dims.([]any)
	for _, d := range ds {
		if field(d, "Name") == "FunctionName" {
			a.fns[refTarget(str(field(d, "Value")))] = true
		}
	}
}

// uncovered lists the functions a Lambda alarm leaves out; an alarm with
// no FunctionName dimension watches every function of the account.
func (a alarm) uncovered(functions []string) []string {
	if len(a.fns) == 0 {
		return nil
	}
	var out []string
	for _, f := range functions {
		if !a.fns[f] {
			out = append(out, f)
		}
	}
	return out
}

func (a alarm) watches(s alarmSpec) (string, bool) {
	var found []string
	for _, n := range s.names {
		if m := s.namespace + "/" + n; slices.Contains(a.metrics, m) && (!s.anomaly || a.anomaly) {
			found = append(found, m)
		}
	}
	if len(found) == 0 || (s.all && len(found) < len(s.names)) {
		return "", false
	}
	if !s.all {
		found = found[:1]
	}
	return strings.Join(found, " and "), true
}

func (t *Template) checkAlarms() []checklist.Finding {
	all, fns := t.alarms(), t.ids(functionType)
	out := make([]checklist.Finding, 0, len(alarmSpecs))
	for _, s := range alarmSpecs {
		out = append(out, checkAlarm(s, all, fns))
	}
	return out
}

func checkAlarm(s alarmSpec, all []alarm, functions []string) checklist.Finding {
	var silent, partial []string
	for _, a := range all {
		m, ok := a.watches(s)
		if !ok {
			continue
		}
		if len(a.actions) == 0 {
			silent = append(silent, a.id)
			continue
		}
		rule := a.rule
		if s.anomaly {
			rule = "outside its anomaly band (" + rule + ")"
		}
		if s.namespace == lambdaNS {
			if left := a.uncovered(functions); len(left) > 0 {
				partial = append(partial, a.id+" leaves out "+list(left, 3))
				continue
			}
			rule += fmt.Sprintf(", every function (%d)", len(functions))
		}
		return checklist.Passf(s.item, checklist.Template, fmt.Sprintf("%s watches %s, %s, notifies %s", a.id, m, rule, actions(a.actions)))
	}
	if len(partial) > 0 {
		return checklist.Failf(s.item, checklist.Template, strings.Join(partial, "; "))
	}
	join := " or "
	if s.all {
		join = " and "
	}
	want := s.namespace + "/" + strings.Join(s.names, join+s.namespace+"/")
	if s.anomaly {
		want += " with an ANOMALY_DETECTION_BAND threshold"
	}
	if len(silent) > 0 {
		return checklist.Failf(s.item, checklist.Template, list(silent, 3)+" watches "+want+" but has no AlarmActions")
	}
	return checklist.Failf(s.item, checklist.Template, "no AWS::CloudWatch::Alarm watches "+want)
}

func actions(as []string) string { return list(as, 2) }

// actionNames reads unresolved AlarmActions: a Ref names its parameter or
// resource, and each branch of an Fn::If counts except AWS::NoValue
// (goformation does not evaluate conditions reliably, so this does not
// depend on it).
func actionNames(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, actionNames(e)...)
		}
		return out
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok {
			if ref == "AWS::NoValue" {
				return nil
			}
			return []string{ref}
		}
		if branches, ok := v["Fn::If"].([]any); ok && len(branches) == 3 {
			return actionNames(branches[1:])
		}
		return []string{"an expression"}
	}
	return nil
}

func (t *Template) checkDashboard() []checklist.Finding {
	const id = checklist.MonDashboard
	ds := t.ids(dashboardType)
	if len(ds) == 0 {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, "no AWS::CloudWatch::Dashboard in the template")}
	}
	var body struct{ Widgets []any }
	if err := json.Unmarshal([]byte(str(t.props(ds[0])["DashboardBody"])), &body); err != nil || len(body.Widgets) == 0 {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, ds[0]+": DashboardBody is not a JSON document with widgets")}
	}
	return []checklist.Finding{checklist.Passf(id, checklist.Template, fmt.Sprintf("%s: %d widgets", ds[0], len(body.Widgets)))}
}

func (t *Template) checkAuditTrail() []checklist.Finding {
	const id = checklist.MonAuditTrail
	audit := t.auditTableID()
	if audit == "" {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, "no audit table (AUDIT_TABLE) in the template")}
	}
	var parts, bad []string
	if v := str(field(t.props(audit), "StreamSpecification", "StreamViewType")); v != "" {
		parts = append(parts, audit+" stream "+v)
	} else {
		bad = append(bad, audit+" has no stream (the audit stream for SIEMs)")
	}
	if s, ok := t.digestSchedule(); ok {
		parts = append(parts, "signed digest "+s)
	} else {
		bad = append(bad, "no schedule runs the audit_digest action")
	}
	if k := t.signingKey(); k != "" {
		parts = append(parts, k+" signs it")
	} else {
		bad = append(bad, "no SIGN_VERIFY KMS key for the digest")
	}
	if len(bad) > 0 {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, strings.Join(bad, "; "))}
	}
	return []checklist.Finding{checklist.Passf(id, checklist.Template, strings.Join(parts, "; "))}
}

func (t *Template) digestSchedule() (string, bool) {
	for _, s := range t.tpl.Schedules() {
		var in struct{ Action string }
		if json.Unmarshal([]byte(s.Input), &in) == nil && in.Action == "audit_digest" {
			return s.Function + " " + s.Expression, true
		}
	}
	return "", false
}

func (t *Template) signingKey() string {
	for _, k := range t.ids(kmsKeyType) {
		if str(t.props(k)["KeyUsage"]) == "SIGN_VERIFY" {
			return k
		}
	}
	return ""
}
