package streams

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// record is one stream record as the function receives it.
type record struct {
	// seq is its sequence number; created its approximate creation time.
	seq     string
	created time.Time
	// event is its JSON in the invocation's Records.
	event json.RawMessage
}

// lambdaRecord is a record of the invocation event, with the fields in the
// order Lambda sends them.
type lambdaRecord struct {
	EventID        string          `json:"eventID"`
	EventName      string          `json:"eventName"`
	EventVersion   string          `json:"eventVersion"`
	EventSource    string          `json:"eventSource"`
	AWSRegion      string          `json:"awsRegion"`
	DynamoDB       lambdaChange    `json:"dynamodb"`
	EventSourceARN string          `json:"eventSourceARN"`
	UserIdentity   *lambdaIdentity `json:"userIdentity,omitempty"`
}

type lambdaChange struct {
	// ApproximateCreationDateTime is whole seconds since the epoch.
	ApproximateCreationDateTime int64          `json:"ApproximateCreationDateTime"`
	Keys                        map[string]any `json:"Keys,omitempty"`
	NewImage                    map[string]any `json:"NewImage,omitempty"`
	OldImage                    map[string]any `json:"OldImage,omitempty"`
	SequenceNumber              string         `json:"SequenceNumber"`
	SizeBytes                   int64          `json:"SizeBytes"`
	StreamViewType              string         `json:"StreamViewType"`
}

type lambdaIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
}

// toRecord builds the invocation's form of a stream record: the stream
// record's own fields, awsRegion the stack's region (DynamoDB Local says
// "ddblocal"), and eventSourceARN the stream.
func toRecord(r types.Record, streamARN, region string) (record, error) {
	if r.Dynamodb == nil || aws.ToString(r.Dynamodb.SequenceNumber) == "" {
		return record{}, fmt.Errorf("stream record %s has no sequence number", aws.ToString(r.EventID))
	}
	d := r.Dynamodb
	var created time.Time
	if d.ApproximateCreationDateTime != nil {
		created = d.ApproximateCreationDateTime.UTC()
	}
	lr := lambdaRecord{
		EventID: aws.ToString(r.EventID), EventName: string(r.EventName), EventVersion: aws.ToString(r.EventVersion),
		EventSource: "aws:dynamodb", AWSRegion: region, EventSourceARN: streamARN,
		DynamoDB: lambdaChange{ApproximateCreationDateTime: created.Unix(), Keys: attributeMap(d.Keys),
			NewImage: attributeMap(d.NewImage), OldImage: attributeMap(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: aws.ToInt64(d.SizeBytes), StreamViewType: string(d.StreamViewType)},
	}
	if id := r.UserIdentity; id != nil {
		lr.UserIdentity = &lambdaIdentity{Type: aws.ToString(id.Type), PrincipalID: aws.ToString(id.PrincipalId)}
	}
	b, err := json.Marshal(lr)
	if err != nil {
		return record{}, fmt.Errorf("stream record %s: %w", lr.EventID, err)
	}
	return record{seq: lr.DynamoDB.SequenceNumber, created: created, event: b}, nil
}

// attributeMap gives an item's attributes in DynamoDB's JSON form, nil
// for none.
func attributeMap(m map[string]types.AttributeValue) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = attributeValue(v)
	}
	return out
}

// attributeValue gives one attribute value in DynamoDB's JSON form
// ({"S": …}, {"N": …}, {"B": base64}, …).
func attributeValue(v types.AttributeValue) map[string]any {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": x.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": x.Value}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": x.Value}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": x.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": x.Value}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": nonNil(x.Value)}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": nonNil(x.Value)}
	case *types.AttributeValueMemberBS:
		return map[string]any{"BS": nonNil(x.Value)}
	case *types.AttributeValueMemberM:
		m := attributeMap(x.Value)
		if m == nil {
			m = map[string]any{}
		}
		return map[string]any{"M": m}
	case *types.AttributeValueMemberL:
		l := make([]any, 0, len(x.Value))
		for _, e := range x.Value {
			l = append(l, attributeValue(e))
		}
		return map[string]any{"L": l}
	}
	return map[string]any{} // an attribute type newer than this SDK
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// payload is the invocation event of a batch: {"Records": [...]}.
func payload(recs []record) []byte {
	b := []byte(`{"Records":[`)
	for i, r := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r.event...)
	}
	return append(b, "]}"...)
}
