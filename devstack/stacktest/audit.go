package stacktest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// AuditEvent is an audit event as a test inspects it.
type AuditEvent struct {
	Type, Subject, Caller string
	Details               map[string]string
}

// AuditEvents returns the audit events of type typ that requestID
// recorded today or yesterday (UTC), read through the audit table's
// by-day index with the stack's unrestricted credentials. Tests give each
// request its own id to count what one request wrote.
func (s Stack) AuditEvents(t testing.TB, requestID, typ string) []AuditEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db := dynamodb.NewFromConfig(s.AWS(t))
	var out []AuditEvent
	now := time.Now().UTC()
	for _, day := range []string{now.Format(time.DateOnly), now.Add(-24 * time.Hour).Format(time.DateOnly)} {
		p := dynamodb.NewQueryPaginator(db, &dynamodb.QueryInput{TableName: aws.String(s.AuditTable), IndexName: aws.String("by-day"),
			KeyConditionExpression: aws.String("#d = :d"), FilterExpression: aws.String("request_id = :r AND #t = :t"),
			ExpressionAttributeNames: map[string]string{"#d": "day", "#t": "type"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: day},
				":r": &types.AttributeValueMemberS{Value: requestID}, ":t": &types.AttributeValueMemberS{Value: typ}}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("query audit events: %v", err)
			}
			for _, it := range page.Items {
				out = append(out, auditEvent(it))
			}
		}
	}
	return out
}

func auditEvent(it map[string]types.AttributeValue) AuditEvent {
	s := func(m map[string]types.AttributeValue, k string) string {
		v, _ := m[k].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	e := AuditEvent{Type: s(it, "type"), Subject: s(it, "subject"), Details: map[string]string{}}
	if a, ok := it["actor"].(*types.AttributeValueMemberM); ok {
		e.Caller = s(a.Value, "caller")
	}
	if d, ok := it["details"].(*types.AttributeValueMemberM); ok {
		for k := range d.Value {
			e.Details[k] = s(d.Value, k)
		}
	}
	return e
}
