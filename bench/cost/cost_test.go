package cost

import (
	"math"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestPerMillion(t *testing.T) {
	tests := []struct {
		name string
		u    Usage
		want Breakdown
	}{
		{"nothing", Usage{}, Breakdown{}},
		// 8 WRU × $0.625/M + 2 RRU × $0.125/M = $5.25 per million messages.
		{"DynamoDB", Usage{WRU: 8, RRU: 2}, Breakdown{DynamoDB: 5.25}},
		// $0.03 per 10,000 KMS requests = $3 per million; $0.05 per 10,000 Secrets Manager calls = $5 per million.
		{"KMS and Secrets Manager", Usage{KMSRequests: 0.5, SecretsManagerCalls: 0.1}, Breakdown{KMS: 1.5, SecretsManager: 0.5}},
		// 1 invocation ($0.20) + 0.005 GB-s × $0.0000133334 × 1e6 = $0.066667.
		{"Lambda", Usage{LambdaInvocations: 1, LambdaGBSeconds: 0.005}, Breakdown{Lambda: 0.2 + 0.066667}},
		{"API Gateway", Usage{HTTPAPIRequests: 1}, Breakdown{APIGateway: 1}},
		// $1.00 per million custom events: two events per message = $2 per million.
		{"EventBridge", Usage{EventBridgeEvents: 2}, Breakdown{EventBridge: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ListPrices.PerMillion(tc.u)
			for _, f := range []struct {
				name      string
				got, want float64
			}{
				{"DynamoDB", got.DynamoDB, tc.want.DynamoDB}, {"KMS", got.KMS, tc.want.KMS},
				{"SecretsManager", got.SecretsManager, tc.want.SecretsManager}, {"APIGateway", got.APIGateway, tc.want.APIGateway},
				{"EventBridge", got.EventBridge, tc.want.EventBridge},
			} {
				if !near(f.got, f.want) {
					t.Errorf("PerMillion(%+v).%s = %v, want %v", tc.u, f.name, f.got, f.want)
				}
			}
			if math.Abs(got.Lambda-tc.want.Lambda) > 1e-6 {
				t.Errorf("PerMillion(%+v).Lambda = %v, want %v", tc.u, got.Lambda, tc.want.Lambda)
			}
			if !near(got.Total(), got.DynamoDB+got.KMS+got.SecretsManager+got.Lambda+got.APIGateway+got.EventBridge) {
				t.Errorf("Total() = %v, want the sum of the services", got.Total())
			}
		})
	}
}

func TestGBSeconds(t *testing.T) {
	tests := []struct {
		billed time.Duration
		mb     int
		want   float64
	}{
		{20 * time.Millisecond, 256, 0.005},
		{1000 * time.Millisecond, 1024, 1},
		{17400 * time.Microsecond, 256, 0.0045}, // rounded up to 18 ms
		{0, 256, 0},
	}
	for _, tc := range tests {
		if got := GBSeconds(tc.billed, tc.mb); !near(got, tc.want) {
			t.Errorf("GBSeconds(%v, %d) = %v, want %v", tc.billed, tc.mb, got, tc.want)
		}
	}
}
