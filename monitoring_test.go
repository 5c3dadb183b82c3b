// Tests that template.yaml's alarms and dashboard watch metrics the
// functions really write: a metric name in an alarm is checked against the
// metrics.* constants each function's code (and the shared packages it
// imports) passes to its recorder, so a renamed or removed metric cannot
// leave a dead alarm that never fires.
package waguard_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/internal/samtemplate"
)

const (
	modulePath     = "github.com/waguard/waguard"
	metricsPackage = modulePath + "/shared/metrics"
	alarmType      = "AWS::CloudWatch::Alarm"
)

// lambdaMetrics are the AWS/Lambda metrics Lambda publishes for every
// function without any code of ours.
var lambdaMetrics = map[string]bool{"Errors": true, "Throttles": true, "Invocations": true, "Duration": true, "ConcurrentExecutions": true}

// functionIDs maps the Function dimension (the name each main passes to
// coldstart.Load) to its logical id in the template.
var functionIDs = map[string]string{"webhook": "WebhookFunction", "send": "SendFunction", "erase": "EraseFunction",
	"retention": "RetentionFunction", "rotate": "RotateFunction", "events": "EventsFunction"}

// emittedMetrics returns, per function, the metric names its code can
// record: every metrics.<Const> used in the non-test Go files of the
// function's package and of the module packages it imports.
func emittedMetrics(t *testing.T) map[string]map[string]bool {
	t.Helper()
	names := metricConstants(t)
	out := map[string]map[string]bool{}
	for fn := range functionIDs {
		cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \" \"}}", "./functions/"+fn)
		raw, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", fn, err)
		}
		out[fn] = map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 3 || !strings.HasPrefix(f[0], modulePath) || f[0] == metricsPackage {
				continue
			}
			for _, file := range strings.Fields(f[2]) {
				for _, c := range metricRefs(t, filepath.Join(f[1], file)) {
					if v, ok := names[c]; ok {
						out[fn][v] = true
					}
				}
			}
		}
	}
	return out
}

// metricConstants maps the string constants of shared/metrics to their
// values.
func metricConstants(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("shared", "metrics", "metrics.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == len(vs.Values) {
			for i, name := range vs.Names {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					out[name.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
		return true
	})
	return out
}

// metricRefs lists the identifiers selected from the metrics package in
// one file (metrics.X).
func metricRefs(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	local := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == metricsPackage {
			local = "metrics"
			if imp.Name != nil {
				local = imp.Name.Name
			}
		}
	}
	if local == "" {
		return nil
	}
	var refs []string
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == local {
				refs = append(refs, sel.Sel.Name)
			}
		}
		return true
	})
	return refs
}

// watched is one metric an alarm or dashboard widget reads.
type watched struct {
	namespace, name string
	dims            map[string]string
}

// alarmMetrics lists what an alarm watches: its single metric, or each
// MetricStat of its metric math.
func alarmMetrics(p map[string]any) []watched {
	if name, ok := p["MetricName"].(string); ok {
		ns, _ := p["Namespace"].(string)
		return []watched{{ns, name, dimensions(p["Dimensions"])}}
	}
	var out []watched
	ms, _ := p["Metrics"].([]any)
	for _, m := range ms {
		metric, ok := field(m, "MetricStat", "Metric").(map[string]any)
		if !ok {
			continue
		}
		ns, _ := metric["Namespace"].(string)
		name, _ := metric["MetricName"].(string)
		out = append(out, watched{ns, name, dimensions(metric["Dimensions"])})
	}
	return out
}

func dimensions(v any) map[string]string {
	out := map[string]string{}
	ds, _ := v.([]any)
	for _, d := range ds {
		m, _ := d.(map[string]any)
		name, _ := m["Name"].(string)
		out[name] = str(m["Value"])
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// checkWatched fails t unless w is a metric the named function writes
// (waguard namespace, with this stage's dimension) or one Lambda publishes
// for a function of this template.
func checkWatched(t *testing.T, where string, w watched, emitted map[string]map[string]bool, stage string) {
	t.Helper()
	switch w.namespace {
	case "waguard":
		fn := w.dims["Function"]
		if _, ok := functionIDs[fn]; !ok {
			t.Errorf("%s: metric %s has Function dimension %q, want one of the functions", where, w.name, fn)
			return
		}
		if !emitted[fn][w.name] {
			t.Errorf("%s: metric %s is never written by the %s function (dead alarm or graph)", where, w.name, fn)
		}
		if w.dims["Stage"] != stage || len(w.dims) != 2 {
			t.Errorf("%s: metric %s dimensions = %v, want exactly Function and Stage=%s", where, w.name, w.dims, stage)
		}
	case "AWS/Lambda":
		ref := strings.TrimSuffix(strings.TrimPrefix(w.dims["FunctionName"], "Ref("), ")")
		if !lambdaMetrics[w.name] || !contains(functionIDs, ref) || len(w.dims) != 1 {
			t.Errorf("%s: AWS/Lambda %s on %v, want a Lambda metric of one of this template's functions", where, w.name, w.dims)
		}
	default:
		t.Errorf("%s: namespace %q, want waguard or AWS/Lambda", where, w.namespace)
	}
}

func contains(m map[string]string, v string) bool {
	for _, x := range m {
		if x == v {
			return true
		}
	}
	return false
}

// TestAlarmsWatchEmittedMetrics asserts the monitoring issue's alarm set is
// present, that every alarm notifies the topic, and that none is dead.
func TestAlarmsWatchEmittedMetrics(t *testing.T) {
	tpl := loadTemplate(t, map[string]string{"Stage": "prod"})
	emitted := emittedMetrics(t)
	want := []string{"AuditDigestAlarm", "AuthFailuresAlarm", "ErasurePendingAlarm", "EventDeadLettersAlarm", "FunctionErrorsAlarm", "FunctionThrottlesAlarm",
		"OutboundVolumeAnomalyAlarm", "RateLimitedAlarm", "RetentionBreachAlarm", "RotationFailuresAlarm", "WebhookSignatureFailuresAlarm"}
	ids := tpl.ResourceIDs(alarmType)
	sort.Strings(ids)
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("alarms (-want +got):\n%s", diff)
	}
	for _, id := range ids {
		p := props(tpl, id)
		ws := alarmMetrics(p)
		if len(ws) == 0 {
			t.Errorf("%s watches no metric", id)
		}
		for _, w := range ws {
			checkWatched(t, id, w, emitted, "prod")
		}
		if name := str(p["AlarmName"]); !strings.HasPrefix(name, "waguard-prod-") {
			t.Errorf("%s AlarmName = %q, want the stage in it", id, name)
		}
	}
	if got := alarmMetrics(props(tpl, "OutboundVolumeAnomalyAlarm")); len(got) != 1 || got[0].name != "MessagesSent" ||
		props(tpl, "OutboundVolumeAnomalyAlarm")["ThresholdMetricId"] != "band" {
		t.Errorf("OutboundVolumeAnomalyAlarm must compare MessagesSent with an anomaly detection band")
	}
}

// TestAuditDigestAlarmSeesMissedRuns checks the audit digest alarm fires
// on a late digest, on a failed run, and on a day with no run at all
// (missing data), each within a day: the daily digest reports both
// metrics on every run.
func TestAuditDigestAlarmSeesMissedRuns(t *testing.T) {
	tpl := loadTemplate(t, map[string]string{"Stage": "prod"})
	p := props(tpl, "AuditDigestAlarm")
	var names []string
	for _, w := range alarmMetrics(p) {
		names = append(names, w.name)
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"AuditDigestFailures", "AuditDigestsLate"}, names); diff != "" {
		t.Errorf("AuditDigestAlarm metrics (-want +got):\n%s", diff)
	}
	ms, _ := p["Metrics"].([]any)
	for _, m := range ms {
		if period, ok := field(m, "MetricStat", "Period").(float64); ok && period > 86400 {
			t.Errorf("AuditDigestAlarm period %v s, want at most a day", period)
		}
	}
	if p["TreatMissingData"] != "breaching" || p["ComparisonOperator"] != "GreaterThanThreshold" || p["Threshold"] != float64(0) {
		t.Errorf("AuditDigestAlarm = missing data %v, %v %v, want breaching, GreaterThanThreshold 0", p["TreatMissingData"], p["ComparisonOperator"], p["Threshold"])
	}
}

// TestAlarmTopicIsOptional checks, in the template's source (intrinsic
// conditions are not evaluated locally), that every alarm notifies
// AlarmTopicArn exactly when the HasAlarmTopic condition holds.
func TestAlarmTopicIsOptional(t *testing.T) {
	tpl := loadTemplate(t, nil)
	for _, id := range tpl.ResourceIDs(alarmType) {
		acts, _ := field(tpl.Unresolved(), "Resources", id, "Properties", "AlarmActions").([]any)
		branches, _ := field(firstOf(acts), "Fn::If").([]any)
		if len(acts) != 1 || len(branches) != 3 {
			t.Errorf("%s AlarmActions is not one Fn::If", id)
			continue
		}
		got := []string{}
		for _, b := range branches {
			if x, ok := samtemplate.RefTo(b); ok {
				got = append(got, "!Ref "+x)
			} else {
				got = append(got, fmt.Sprintf("%T %v", b, b))
			}
		}
		want := []string{"string HasAlarmTopic", "!Ref AlarmTopicArn", "!Ref AWS::NoValue"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s AlarmActions Fn::If (-want +got):\n%s", id, diff)
		}
	}
}

func firstOf(l []any) any {
	if len(l) == 0 {
		return nil
	}
	return l[0]
}

// TestDashboardGraphsEmittedMetrics parses the dashboard body and checks
// every graphed metric the same way, and that each alarm's metric is on it.
func TestDashboardGraphsEmittedMetrics(t *testing.T) {
	tpl := loadTemplate(t, map[string]string{"Stage": "prod"})
	id := onlyResource(t, tpl, "AWS::CloudWatch::Dashboard")
	var body struct {
		Widgets []struct {
			Properties struct {
				Title   string  `json:"title"`
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(str(props(tpl, id)["DashboardBody"])), &body); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v", err)
	}
	emitted := emittedMetrics(t)
	graphed := map[string]bool{}
	for _, w := range body.Widgets {
		for _, m := range w.Properties.Metrics {
			var parts []string
			for _, v := range m {
				if s, ok := v.(string); ok {
					parts = append(parts, s)
				}
			}
			if len(parts) < 2 {
				continue // a metric math expression
			}
			wm := watched{parts[0], parts[1], map[string]string{}}
			for i := 2; i+1 < len(parts); i += 2 {
				wm.dims[parts[i]] = parts[i+1]
			}
			checkWatched(t, "dashboard "+w.Properties.Title, wm, emitted, "prod")
			graphed[wm.name] = true
		}
	}
	for _, aid := range tpl.ResourceIDs(alarmType) {
		for _, w := range alarmMetrics(props(tpl, aid)) {
			if !graphed[w.name] {
				t.Errorf("alarm %s watches %s, which the dashboard does not graph", aid, w.name)
			}
		}
	}
}

// TestFunctionLogsExpire checks every function's log group is part of the
// stack with the LogRetentionDays retention, so no log is kept forever.
func TestFunctionLogsExpire(t *testing.T) {
	tpl := loadTemplate(t, map[string]string{"Stage": "prod", "LogRetentionDays": "30"})
	groups := map[string]any{}
	for _, id := range tpl.ResourceIDs("AWS::Logs::LogGroup") {
		p := props(tpl, id)
		groups[str(p["LogGroupName"])] = p["RetentionInDays"]
	}
	for _, fn := range tpl.Functions() {
		name := "/aws/lambda/" + fn.Name
		if r, ok := groups[name]; !ok || r != float64(30) {
			t.Errorf("%s: log group %s retention = %v (present %v), want 30 days", fn.LogicalID, name, r, ok)
		}
	}
}
