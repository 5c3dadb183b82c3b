package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/bench/awscount"
	"github.com/waguard/waguard/bench/cost"
	"github.com/waguard/waguard/bench/lambdalog"
	"github.com/waguard/waguard/bench/loadgen"
	"github.com/waguard/waguard/shared/phone"
)

func TestReadEnvFile(t *testing.T) {
	env, err := readEnvFile(filepath.Join("testdata", "stack.env"))
	if err != nil {
		t.Fatalf("readEnvFile() err = %v, want nil", err)
	}
	want := map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:13201", "AWS_REGION": "eu-west-2",
		"WAGUARD_DATA_TABLE": "waguard-dev-data", "WAGUARD_GATEWAY_URL": "http://127.0.0.1:13200",
		"WAGUARD_META_WEBHOOK_SECRET_ID": "arn:aws:secretsmanager:eu-west-2:111122223333:secret:waguard/dev/webhook/meta-1y7gWA"}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("readEnvFile() mismatch (-want +got):\n%s", diff)
	}
	for name, text := range map[string]string{"no gateway": `export AWS_ENDPOINT_URL_DYNAMODB="x"`, "malformed": "export NOEQUALS"} {
		if _, err := parseEnv(text); err == nil {
			t.Errorf("parseEnv(%s) err = nil, want an error", name)
		}
	}
}

func TestTemplateWithGlobalLimit(t *testing.T) {
	dir := t.TempDir()
	path, err := templateWithGlobalLimit(filepath.Join("..", "..", "..", "template.yaml"), dir, 5000)
	if err != nil {
		t.Fatalf("templateWithGlobalLimit() err = %v, want nil", err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "  RateLimitGlobalPerSecond:\n    Type: Number\n    Default: 5000\n") {
		t.Errorf("copied template does not set RateLimitGlobalPerSecond to 5000")
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("Parameters: {}\n"), 0o600)
	if _, err := templateWithGlobalLimit(bad, dir, 5000); err == nil {
		t.Errorf("templateWithGlobalLimit(no parameter) err = nil, want an error")
	}
}

func TestNumbers(t *testing.T) {
	got, err := numbers(250, 201)
	if err != nil {
		t.Fatalf("numbers() err = %v, want nil", err)
	}
	seen := map[string]bool{}
	for _, n := range got {
		if seen[n] || !strings.HasPrefix(n, "1") || n[4:8] != "5550" || n[8] != '1' {
			t.Fatalf("numbers() gave %s: want distinct 1 NXX 555 01xx", n)
		}
		if _, err := phone.Parse("+" + n); err != nil {
			t.Fatalf("numbers() gave %s, which does not parse: %v", n, err)
		}
		seen[n] = true
	}
	if len(got) != 250 {
		t.Errorf("numbers() gave %d numbers, want 250", len(got))
	}
}

// TestUsageAndCost checks the arithmetic from counted calls to a cost per
// million messages.
func TestUsageAndCost(t *testing.T) {
	phases := []phase{
		{concurrency: 8, result: loadgen.Result{Requests: 100},
			dynamoDB: awscount.Counts{"GetItem": {Calls: 100, Units: awscount.Units{Reads: 50, RRU: 100}},
				"TransactWriteItems": {Calls: 100, Units: awscount.Units{Writes: 400, WRU: 800}}},
			secrets: awscount.Counts{"GetSecretValue": {Calls: 1}},
			reports: []lambdalog.Report{{Billed: 100 * time.Millisecond, MemoryMB: 256}}},
		{concurrency: 1, result: loadgen.Result{Requests: 101, Errors: 1},
			dynamoDB: awscount.Counts{"GetItem": {Calls: 100, Units: awscount.Units{RRU: 100}},
				"TransactWriteItems": {Calls: 100, Units: awscount.Units{Writes: 400, WRU: 800}}},
			kms:     awscount.Counts{"Decrypt": {Calls: 2}},
			reports: []lambdalog.Report{{Billed: 18 * time.Millisecond, MemoryMB: 256}, {Billed: 22 * time.Millisecond, MemoryMB: 256}}},
	}
	u := usageOf(phases)
	want := usage{Messages: 200,
		Calls:      map[string]float64{"DynamoDB.GetItem": 1, "DynamoDB.TransactWriteItems": 1, "KMS.Decrypt": 0.01, "SecretsManager.GetSecretValue": 0.005},
		ItemWrites: 4, ItemReads: 0.25, WRU: 8, RRU: 1, KMSRequests: 0.01, SecretsManagerCalls: 0.005, LambdaInvocations: 0.015,
		BilledMs: 20, MemoryMB: 256, GBSeconds: 0.005, APIRequests: 1}
	if diff := cmp.Diff(want, u, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })); diff != "" {
		t.Errorf("usageOf() mismatch (-want +got):\n%s", diff)
	}
	c := u.cost(cost.ListPrices)
	// 8 WRU at $0.625/M + 1 RRU at $0.125/M = $5.125; KMS 0.01 × $3 = $0.03;
	// Secrets Manager 0.005 × $5 = $0.025; Lambda 0.015 × $0.20 + 0.005 GB-s
	// × $0.0000133334 × 1e6 = $0.003 + $0.066667; API Gateway $1.
	wantCost := costLines{DynamoDB: 5.125, KMS: 0.03, SecretsManager: 0.025, Lambda: 0.069667, APIGateway: 1}
	wantCost.Total = wantCost.DynamoDB + wantCost.KMS + wantCost.SecretsManager + wantCost.Lambda + wantCost.APIGateway
	if diff := cmp.Diff(wantCost, c, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-6 })); diff != "" {
		t.Errorf("cost() mismatch (-want +got):\n%s", diff)
	}
}

func TestShapeOf(t *testing.T) {
	wh := phase{result: loadgen.Result{Requests: 101, Errors: 1}, dynamoDB: awscount.Counts{
		"GetItem":            {Calls: 140, Units: awscount.Units{RRU: 140}},
		"TransactWriteItems": {Calls: 100, Units: awscount.Units{Writes: 400, FullItems: 300, WrittenBytes: 300 * 380, IndexWrites: 300}},
	}}
	sh, writes := shapeOf(wh)
	if want := (shape{Gets: 1, Puts: 3, Indexed: 3, Checks: 1, ItemBytes: 380}); sh != want || writes != 4 {
		t.Errorf("shapeOf() = %+v, %v; want %+v, 4", sh, writes, want)
	}
	if sh, writes := shapeOf(phase{}); sh != (shape{}) || writes != 0 {
		t.Errorf("shapeOf(nothing) = %+v, %v; want zero", sh, writes)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzParseEnv checks the env-file parser never panics and accepts only
// files that name the gateway and DynamoDB endpoints.
func FuzzParseEnv(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join("testdata", "stack.env"))
	f.Add(string(b))
	f.Add("export WAGUARD_GATEWAY_URL=x\nexport AWS_ENDPOINT_URL_DYNAMODB=\"y\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		env, err := parseEnv(text)
		if err != nil {
			return
		}
		if env["WAGUARD_GATEWAY_URL"] == "" || env["AWS_ENDPOINT_URL_DYNAMODB"] == "" {
			t.Fatalf("parseEnv(%q) = %v, want both endpoints", text, env)
		}
	})
}
