package streams

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/internal/samtemplate"
)

func arnOf(id string) string { return "arn:aws:lambda:eu-west-2:111122223333:function:" + id }

// TestMappingsFromTemplate reads the repository's template: the events
// function's audit stream trigger, as template.yaml declares it.
func TestMappingsFromTemplate(t *testing.T) {
	r := samtemplate.Resolver{Refs: map[string]string{}, Attrs: map[string]string{
		"AuditTable.StreamArn":     "arn:aws:dynamodb:ddblocal:000000000000:table/waguard-dev-audit/stream/x",
		"EventsStreamFailures.Arn": "arn:aws:sqs:eu-west-2:111122223333:waguard-dev-events-stream-failures",
	}}
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"), r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Mappings(tpl, arnOf)
	if err != nil {
		t.Fatalf("Mappings() err = %v, want nil", err)
	}
	want := []Mapping{{Function: "EventsFunction", Event: "AuditStream", FunctionARN: arnOf("EventsFunction"),
		StreamARN: r.Attrs["AuditTable.StreamArn"], StartingPosition: "LATEST", BatchSize: 100, MaximumRetryAttempts: 10,
		BisectBatchOnFunctionError: true, ReportBatchItemFailures: true, OnFailure: r.Attrs["EventsStreamFailures.Arn"], Enabled: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Mappings() mismatch (-want +got):\n%s", diff)
	}
}

func TestMappingProperties(t *testing.T) {
	const stream = "arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/x"
	parse := func(props string) (Mapping, error) {
		src := "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        S:\n          Type: DynamoDB\n          Properties:\n" +
			"            Stream: " + stream + "\n" + props
		tpl, err := samtemplate.Parse([]byte(src), samtemplate.Resolver{})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := Mappings(tpl, arnOf)
		if err != nil {
			return Mapping{}, err
		}
		return ms[0], nil
	}
	m, err := parse("            StartingPosition: TRIM_HORIZON\n")
	want := Mapping{Function: "F", Event: "S", FunctionARN: arnOf("F"), StreamARN: stream, StartingPosition: "TRIM_HORIZON",
		BatchSize: 100, MaximumRetryAttempts: -1, Enabled: true}
	if err != nil || !cmp.Equal(want, m) {
		t.Errorf("defaults: Mappings() = %+v, %v; want %+v", m, err, want)
	}
	if m, err := parse("            StartingPosition: LATEST\n            Enabled: false\n            MetricsConfig: {Metrics: [EventCount]}\n" +
		"            MaximumBatchingWindowInSeconds: 0\n            ParallelizationFactor: 1\n            MaximumRecordAgeInSeconds: -1\n"); err != nil || m.Enabled {
		t.Errorf("accepted values: Mappings() = %+v, %v; want a disabled mapping", m, err)
	}
	for name, props := range map[string]string{
		"no starting position": "            BatchSize: 10\n",
		"AT_TIMESTAMP":         "            StartingPosition: AT_TIMESTAMP\n",
		"batch size 0":         "            StartingPosition: LATEST\n            BatchSize: 0\n",
		"retries below -1":     "            StartingPosition: LATEST\n            MaximumRetryAttempts: -2\n",
		"batching window":      "            StartingPosition: LATEST\n            MaximumBatchingWindowInSeconds: 5\n",
		"record age":           "            StartingPosition: LATEST\n            MaximumRecordAgeInSeconds: 60\n",
		"parallelization":      "            StartingPosition: LATEST\n            ParallelizationFactor: 2\n",
		"filter":               "            StartingPosition: LATEST\n            FilterCriteria: {Filters: [{Pattern: '{}'}]}\n",
		"SNS destination":      "            StartingPosition: LATEST\n            DestinationConfig: {OnFailure: {Destination: arn:aws:sns:r:1:t}}\n",
		"response type":        "            StartingPosition: LATEST\n            FunctionResponseTypes: [Other]\n",
		"unknown":              "            StartingPosition: LATEST\n            Unheard: 1\n",
	} {
		if m, err := parse(props); err == nil {
			t.Errorf("%s: Mappings() = %+v, want a refusal", name, m)
		} else if !strings.Contains(err.Error(), "F event S") {
			t.Errorf("%s: err = %v, want it to name the event", name, err)
		}
	}
}
