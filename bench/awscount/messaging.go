package awscount

import (
	"encoding/json"
	"errors"
)

// eventChunk is the payload size EventBridge bills as one event: "each
// 64 KB chunk of a payload is billed as one event"
// (https://aws.amazon.com/eventbridge/pricing/).
const eventChunk = 64 << 10

// timeEntryBytes is what an entry's Time counts towards its size.
const timeEntryBytes = 14

// errNotJSON is returned for a body that is not the expected JSON object.
var errNotJSON = errors.New("awscount: body is not the expected JSON object")

// PutEventsBilled returns the number of events EventBridge bills for a
// PutEvents request body (JSON protocol): each entry is sized as
// EventBridge sizes a PutEventsRequestEntry (14 bytes for Time if set,
// the UTF-8 bytes of Source, DetailType, Detail and each of Resources;
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html)
// and billed one event per started 64 KB, at least one.
func PutEventsBilled(req []byte) (int, error) {
	var in struct {
		Entries []struct {
			Time       json.RawMessage `json:"Time"`
			Source     string          `json:"Source"`
			DetailType string          `json:"DetailType"`
			Detail     string          `json:"Detail"`
			Resources  []string        `json:"Resources"`
		} `json:"Entries"`
	}
	if err := json.Unmarshal(req, &in); err != nil {
		return 0, errNotJSON
	}
	billed := 0
	for _, e := range in.Entries {
		size := len(e.Source) + len(e.DetailType) + len(e.Detail)
		if len(e.Time) > 0 && string(e.Time) != "null" {
			size += timeEntryBytes
		}
		for _, r := range e.Resources {
			size += len(r)
		}
		billed += max(1, (size+eventChunk-1)/eventChunk)
	}
	return billed, nil
}

// GetRecordsCount returns the number of stream records in a DynamoDB
// Streams GetRecords response body.
func GetRecordsCount(resp []byte) (int, error) {
	var out struct {
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return 0, errNotJSON
	}
	return len(out.Records), nil
}
