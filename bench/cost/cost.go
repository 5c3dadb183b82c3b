// Package cost turns the AWS usage of one message into a cost per million
// messages at list prices.
//
// # Non-goals
//
// It ignores free tiers, volume tiers beyond the first, savings plans,
// storage, data transfer, CloudWatch (logs and metrics) and X-Ray: it
// prices the per-request part of the bill, which is what grows with the
// message count. DynamoDB Streams reads have no price here: the only
// reader of a stream is a Lambda trigger, whose GetRecords calls are
// free.
package cost

import (
	"math"
	"time"
)

// Prices are on-demand list prices in US dollars per unit.
type Prices struct {
	// Region and AsOf say where and when the prices apply; Sources lists
	// the pages they were read from.
	Region, AsOf string
	Sources      []string
	// DynamoDBWRU and DynamoDBRRU are per on-demand write and read
	// request unit.
	DynamoDBWRU, DynamoDBRRU float64
	// KMSRequest is per KMS API request (symmetric keys).
	KMSRequest float64
	// SecretsManagerCall is per Secrets Manager API call.
	SecretsManagerCall float64
	// LambdaRequest is per invocation; LambdaGBSecond per GB-second on
	// arm64 (the template's Architectures), first volume tier.
	LambdaRequest, LambdaGBSecond float64
	// HTTPAPIRequest is per API Gateway HTTP API request (first 300
	// million a month).
	HTTPAPIRequest float64
	// EventBridgeEvent is per custom event published to an event bus
	// (each 64 KB chunk of an entry is one event).
	EventBridgeEvent float64
}

// ListPrices are the us-east-1 list prices used by the benchmark; see
// docs/performance.md for where each one was read.
var ListPrices = Prices{
	Region: "us-east-1",
	AsOf:   "2026-11-24",
	Sources: []string{
		"https://aws.amazon.com/dynamodb/pricing/on-demand/",
		"https://aws.amazon.com/kms/pricing/",
		"https://aws.amazon.com/secrets-manager/pricing/",
		"https://aws.amazon.com/lambda/pricing/",
		"https://aws.amazon.com/api-gateway/pricing/",
		"https://aws.amazon.com/eventbridge/pricing/",
	},
	DynamoDBWRU:        0.625 / 1e6,
	DynamoDBRRU:        0.125 / 1e6,
	KMSRequest:         0.03 / 1e4,
	SecretsManagerCall: 0.05 / 1e4,
	LambdaRequest:      0.20 / 1e6,
	LambdaGBSecond:     0.0000133334,
	HTTPAPIRequest:     1.00 / 1e6,
	EventBridgeEvent:   1.00 / 1e6,
}

// Usage is what one message uses, on average.
type Usage struct {
	// WRU and RRU are DynamoDB on-demand request units.
	WRU, RRU float64
	// KMSRequests and SecretsManagerCalls are API calls.
	KMSRequests, SecretsManagerCalls float64
	// LambdaInvocations and LambdaGBSeconds are the function's requests
	// and billed duration times memory.
	LambdaInvocations, LambdaGBSeconds float64
	// HTTPAPIRequests are API Gateway requests.
	HTTPAPIRequests float64
	// EventBridgeEvents are billed custom events (PutEvents entries, per
	// 64 KB chunk).
	EventBridgeEvents float64
}

// Breakdown is a cost in US dollars per million messages, by service.
type Breakdown struct {
	DynamoDB, KMS, SecretsManager, Lambda, APIGateway, EventBridge float64
}

// Total is the sum over services.
func (b Breakdown) Total() float64 {
	return b.DynamoDB + b.KMS + b.SecretsManager + b.Lambda + b.APIGateway + b.EventBridge
}

// PerMillion prices one million messages of usage u.
func (p Prices) PerMillion(u Usage) Breakdown {
	const m = 1e6
	return Breakdown{
		DynamoDB:       m * (u.WRU*p.DynamoDBWRU + u.RRU*p.DynamoDBRRU),
		KMS:            m * u.KMSRequests * p.KMSRequest,
		SecretsManager: m * u.SecretsManagerCalls * p.SecretsManagerCall,
		Lambda:         m * (u.LambdaInvocations*p.LambdaRequest + u.LambdaGBSeconds*p.LambdaGBSecond),
		APIGateway:     m * u.HTTPAPIRequests * p.HTTPAPIRequest,
		EventBridge:    m * u.EventBridgeEvents * p.EventBridgeEvent,
	}
}

// GBSeconds is Lambda's compute for one invocation: the billed duration
// (rounded up to the millisecond, as Lambda bills) times the configured
// memory in GB (MB/1024).
func GBSeconds(billed time.Duration, memoryMB int) float64 {
	ms := math.Ceil(float64(billed) / float64(time.Millisecond))
	return ms / 1000 * float64(memoryMB) / 1024
}
