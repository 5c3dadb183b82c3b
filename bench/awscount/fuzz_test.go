package awscount

import (
	"encoding/json"
	"testing"
)

// FuzzItemSize checks the item sizer never panics, never returns a
// negative size, and that a size it accepts survives re-encoding the item
// (the size depends on the values, not on their JSON spelling).
func FuzzItemSize(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":{"S":"x"}}`, `{"n":{"N":"-1.50e3"}}`, `{"l":{"L":[{"M":{"k":{"BOOL":true}}}]}}`,
		`{"b":{"B":"AAE="},"s":{"SS":["a"]},"ns":{"NS":["1"]},"bs":{"BS":["AA=="]},"z":{"NULL":true}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, item []byte) {
		n, err := ItemSize(item)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ItemSize(%q) = %d, want ≥ 0", item, n)
		}
		var v any
		if json.Unmarshal(item, &v) != nil {
			t.Fatalf("ItemSize accepted invalid JSON %q", item)
		}
		again, _ := json.Marshal(v)
		if m, err := ItemSize(again); err != nil || m != n {
			t.Fatalf("ItemSize(re-encoded) = %d, %v, want %d, nil", m, err, n)
		}
	})
}

// FuzzDynamoDBUnits checks the request sizer (with a two-index schema)
// never panics and that what it returns is consistent: units are never
// negative, every item and index write costs at least 1 WRU, whole items
// are among the writes and each is in at most the schema's two indexes.
func FuzzDynamoDBUnits(f *testing.F) {
	ops := []string{"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem", "GetItem", "Query", "Scan",
		"BatchGetItem", "TransactGetItems"}
	f.Add(uint8(3), []byte(`{"TransactItems":[{"Put":{"Item":{"a":{"S":"x"}}}},{"ConditionCheck":{"Key":{"a":{"S":"y"}}}}]}`), []byte(`{}`))
	f.Add(uint8(4), []byte(`{"RequestItems":{"t":[{"PutRequest":{"Item":{"a":{"N":"1"}}}},{"DeleteRequest":{"Key":{}}}]}}`), []byte(`{}`))
	f.Add(uint8(6), []byte(`{"ConsistentRead":true}`), []byte(`{"Items":[{"a":{"S":"x"}}],"Count":1,"ScannedCount":4}`))
	f.Add(uint8(5), []byte(`{}`), []byte(`{"Item":{"a":{"B":"AAAA"}}}`))
	f.Add(uint8(8), []byte(`{"RequestItems":{"t":{"ConsistentRead":true}}}`), []byte(`{"Responses":{"t":[{"a":{"S":"x"}}]}}`))
	f.Add(uint8(9), []byte(`{}`), []byte(`{"Responses":[{"Item":{"a":{"S":"x"}}},{}]}`))
	f.Add(uint8(0), []byte(`{"TableName":"t","Item":{"a":{"S":"x"},"g":{"S":"y"}}}`), []byte(`{}`))
	schema := Schema{"t": {Keys: []string{"a"}, Indexes: []Index{{Name: "g", Keys: []string{"g"}, Projection: "ALL"},
		{Name: "h", Keys: []string{"g", "h"}, Projection: "INCLUDE", NonKey: []string{"x"}}}}}
	f.Fuzz(func(t *testing.T, op uint8, req, resp []byte) {
		name := ops[int(op)%len(ops)]
		u, err := schema.Units(name, req, resp)
		if err != nil {
			return
		}
		if u.Writes < 0 || u.Reads < 0 || u.WRU < 0 || u.RRU < 0 || u.FullItems < 0 || u.WrittenBytes < 0 || u.IndexWrites < 0 {
			t.Fatalf("DynamoDBUnits(%s) = %+v, want no negative field", name, u)
		}
		if u.WRU < float64(u.Writes+u.IndexWrites) || u.FullItems > u.Writes || u.IndexWrites > 2*u.FullItems {
			t.Fatalf("Units(%s) = %+v, want WRU ≥ Writes + IndexWrites, FullItems ≤ Writes, IndexWrites ≤ 2·FullItems", name, u)
		}
	})
}

// FuzzPutEventsBilled checks the PutEvents meter never panics, bills at
// least one event per entry and never more than one per started 64 KB
// of what the entries can hold: the request body, three times over
// (encoding/json turns each invalid UTF-8 byte into the three bytes of
// U+FFFD), and 14 bytes per entry for its Time.
func FuzzPutEventsBilled(f *testing.F) {
	f.Add([]byte(`{"Entries":[{"Time":1,"Source":"waguard","DetailType":"message.received","Detail":"{}","Resources":["r"]}]}`))
	f.Add([]byte(`{"Entries":[{},{}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, req []byte) {
		n, err := PutEventsBilled(req)
		if err != nil {
			return
		}
		var in struct{ Entries []json.RawMessage }
		if json.Unmarshal(req, &in) != nil {
			t.Fatalf("PutEventsBilled accepted invalid JSON %q", req)
		}
		if n < len(in.Entries) || n > len(in.Entries)+(3*len(req)+timeEntryBytes*len(in.Entries))/eventChunk+1 {
			t.Fatalf("PutEventsBilled = %d for %d entries in %d bytes", n, len(in.Entries), len(req))
		}
	})
}

// FuzzGetRecordsCount checks the GetRecords meter never panics nor
// returns a negative count.
func FuzzGetRecordsCount(f *testing.F) {
	f.Add([]byte(`{"Records":[{"eventID":"1"}],"NextShardIterator":"i"}`))
	f.Add([]byte(`{"Records":null}`))
	f.Fuzz(func(t *testing.T, resp []byte) {
		if n, err := GetRecordsCount(resp); err == nil && (n < 0 || n > len(resp)) {
			t.Fatalf("GetRecordsCount = %d for %d bytes", n, len(resp))
		}
	})
}
