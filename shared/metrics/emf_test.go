package metrics

import (
	"encoding/json"
	"testing"
)

// units are the unit names CloudWatch accepts.
var units = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true,
	"Kilobytes": true, "Megabytes": true, "Gigabytes": true, "Terabytes": true,
	"Bits": true, "Kilobits": true, "Megabits": true, "Gigabits": true,
	"Terabits": true, "Percent": true, "Count": true, "Bytes/Second": true,
	"Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true,
	"Terabytes/Second": true, "Bits/Second": true, "Kilobits/Second": true,
	"Megabits/Second": true, "Gigabits/Second": true, "Terabits/Second": true,
	"Count/Second": true, "None": true,
}

// validateEMF checks one line against the EMF specification ("Specification:
// Embedded metric format", Amazon CloudWatch User Guide) and returns how
// many metrics it defines:
//
//   - the line is one JSON object followed by a newline;
//   - the root holds _aws, an object with CloudWatchMetrics (an array of
//     MetricDirective) and Timestamp (a number, milliseconds since the epoch);
//   - a MetricDirective holds exactly Namespace (a string), Dimensions (an
//     array of DimensionSets, each an array of at most 30 strings) and
//     Metrics (an array of at most 100 MetricDefinitions);
//   - a MetricDefinition holds Name (a string) and optionally Unit (a
//     CloudWatch unit) and StorageResolution, nothing else;
//   - every dimension named is a string member of the root, and every
//     metric a number or an array of at most 100 numbers.
func validateEMF(t *testing.T, line []byte) int {
	t.Helper()
	if len(line) == 0 || line[len(line)-1] != '\n' {
		t.Fatalf("EMF line %q does not end in a newline", line)
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		t.Fatalf("EMF line is not a JSON object: %v", err)
	}
	var meta struct {
		CloudWatchMetrics []map[string]json.RawMessage
		Timestamp         *float64
	}
	strictUnmarshal(t, root["_aws"], &meta)
	if meta.Timestamp == nil || len(meta.CloudWatchMetrics) == 0 {
		t.Fatalf("_aws = %s, want Timestamp and CloudWatchMetrics", root["_aws"])
	}
	n := 0
	for _, d := range meta.CloudWatchMetrics {
		n += validateDirective(t, d, root)
	}
	return n
}

func validateDirective(t *testing.T, d map[string]json.RawMessage, root map[string]json.RawMessage) int {
	t.Helper()
	if len(d) != 3 {
		t.Errorf("MetricDirective has members %v, want Namespace, Dimensions, Metrics", keys(d))
	}
	var ns string
	var dims [][]string
	var defs []map[string]json.RawMessage
	strictUnmarshal(t, d["Namespace"], &ns)
	strictUnmarshal(t, d["Dimensions"], &dims)
	strictUnmarshal(t, d["Metrics"], &defs)
	if ns == "" || len(defs) == 0 || len(defs) > 100 {
		t.Errorf("MetricDirective has namespace %q and %d metrics, want a namespace and 1-100", ns, len(defs))
	}
	for _, set := range dims {
		if len(set) > 30 {
			t.Errorf("DimensionSet has %d keys, want at most 30", len(set))
		}
		for _, name := range set {
			var v string
			strictUnmarshal(t, root[name], &v)
		}
	}
	for _, def := range defs {
		validateDefinition(t, def, root)
	}
	return len(defs)
}

func validateDefinition(t *testing.T, def map[string]json.RawMessage, root map[string]json.RawMessage) {
	t.Helper()
	var name, unit string
	strictUnmarshal(t, def["Name"], &name)
	if u, ok := def["Unit"]; ok {
		strictUnmarshal(t, u, &unit)
		if !units[unit] {
			t.Errorf("metric %q has unit %q, not a CloudWatch unit", name, unit)
		}
	}
	for k := range def {
		if k != "Name" && k != "Unit" && k != "StorageResolution" {
			t.Errorf("MetricDefinition %q has member %q", name, k)
		}
	}
	var v float64
	var vs []float64
	if json.Unmarshal(root[name], &v) != nil && (json.Unmarshal(root[name], &vs) != nil || len(vs) > 100) {
		t.Errorf("metric %q has value %s, want a number or up to 100 numbers", name, root[name])
	}
}

func strictUnmarshal(t *testing.T, b json.RawMessage, v any) {
	t.Helper()
	if b == nil {
		t.Fatalf("EMF member missing, want %T", v)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("EMF member %s is not a %T: %v", b, v, err)
	}
}

func keys(m map[string]json.RawMessage) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
