package streams

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/google/go-cmp/cmp"
)

const testStream = "arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/2026-01-01T00:00:00.000"

func streamRecord(seq string, img map[string]types.AttributeValue) types.Record {
	created := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	return types.Record{EventID: aws.String("e-" + seq), EventName: types.OperationTypeInsert, EventVersion: aws.String("1.1"),
		EventSource: aws.String("aws:dynamodb"), AwsRegion: aws.String("ddblocal"),
		Dynamodb: &types.StreamRecord{ApproximateCreationDateTime: &created, SequenceNumber: aws.String(seq), SizeBytes: aws.Int64(42),
			StreamViewType: types.StreamViewTypeNewImage, Keys: map[string]types.AttributeValue{"pk": img["pk"]}, NewImage: img}}
}

// TestRecordJSON pins the event of one record, byte for byte, in the
// order Lambda sends its fields, with every attribute type.
func TestRecordJSON(t *testing.T) {
	img := map[string]types.AttributeValue{
		"pk":   &types.AttributeValueMemberS{Value: "a"},
		"n":    &types.AttributeValueMemberN{Value: "1.5"},
		"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2}},
		"ok":   &types.AttributeValueMemberBOOL{Value: true},
		"none": &types.AttributeValueMemberNULL{Value: true},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"1"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{255}}},
		"m":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}},
		"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "2"}}},
	}
	r, err := toRecord(streamRecord("000000000000000000001", img), testStream, "eu-west-2")
	if err != nil {
		t.Fatalf("toRecord() err = %v, want nil", err)
	}
	want := `{"eventID":"e-000000000000000000001","eventName":"INSERT","eventVersion":"1.1","eventSource":"aws:dynamodb",` +
		`"awsRegion":"eu-west-2","dynamodb":{"ApproximateCreationDateTime":1767323040,"Keys":{"pk":{"S":"a"}},` +
		`"NewImage":{"b":{"B":"AAEC"},"bs":{"BS":["/w=="]},"l":{"L":[{"N":"2"}]},"m":{"M":{"k":{"S":"v"}}},"n":{"N":"1.5"},` +
		`"none":{"NULL":true},"ns":{"NS":["1"]},"ok":{"BOOL":true},"pk":{"S":"a"},"ss":{"SS":["x","y"]}},` +
		`"SequenceNumber":"000000000000000000001","SizeBytes":42,"StreamViewType":"NEW_IMAGE"},"eventSourceARN":"` + testStream + `"}`
	if diff := cmp.Diff(want, string(r.event)); diff != "" {
		t.Errorf("record JSON mismatch (-want +got):\n%s", diff)
	}
	if r.seq != "000000000000000000001" || !r.created.Equal(time.Unix(1767323040, 0)) {
		t.Errorf("record = %q at %v", r.seq, r.created)
	}
	if _, err := toRecord(types.Record{EventID: aws.String("x")}, testStream, "eu-west-2"); err == nil {
		t.Error("toRecord(no sequence number) err = nil, want an error")
	}
}

// TestPayloadDecodes checks that a function reading the event with
// aws-lambda-go, as the events function does, gets every field.
func TestPayloadDecodes(t *testing.T) {
	img := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}, "n": &types.AttributeValueMemberN{Value: "7"}}
	ttl := streamRecord("000000000000000000002", img)
	ttl.EventName, ttl.UserIdentity = types.OperationTypeRemove, &types.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")}
	var batch []record
	for _, sr := range []types.Record{streamRecord("000000000000000000001", img), ttl} {
		r, err := toRecord(sr, testStream, "eu-west-2")
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, r)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(payload(batch), &ev); err != nil {
		t.Fatalf("Unmarshal(payload) err = %v, want nil", err)
	}
	if len(ev.Records) != 2 {
		t.Fatalf("records = %d, want 2", len(ev.Records))
	}
	got := ev.Records[0]
	if got.EventName != "INSERT" || got.EventSource != "aws:dynamodb" || got.AWSRegion != "eu-west-2" || got.EventSourceArn != testStream ||
		got.Change.SequenceNumber != "000000000000000000001" || got.Change.NewImage["n"].Number() != "7" ||
		got.Change.Keys["pk"].String() != "a" || got.Change.StreamViewType != "NEW_IMAGE" || got.Change.SizeBytes != 42 ||
		!got.Change.ApproximateCreationDateTime.Equal(time.Unix(1767323040, 0)) {
		t.Errorf("record 0 = %+v", got)
	}
	if id := ev.Records[1].UserIdentity; id == nil || id.Type != "Service" || id.PrincipalID != "dynamodb.amazonaws.com" {
		t.Errorf("record 1 userIdentity = %+v, want the TTL service identity", id)
	}
	if string(payload(nil)) != `{"Records":[]}` {
		t.Errorf("payload(nil) = %s", payload(nil))
	}
}
