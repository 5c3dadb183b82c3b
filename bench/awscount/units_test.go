package awscount

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestItemSize(t *testing.T) {
	kb := base64.StdEncoding.EncodeToString(make([]byte, 1000))
	tests := []struct {
		name string
		item string
		want int
	}{
		{"empty", `{}`, 0},
		{"string counts UTF-8 bytes", `{"pk":{"S":"héllo"}}`, 2 + 6},
		{"binary counts raw bytes", `{"b":{"B":"` + kb + `"}}`, 1 + 1000},
		{"number: two digits a byte, plus one", `{"n":{"N":"1795564617"}}`, 1 + 5 + 1},
		{"number: odd digit count rounds up", `{"n":{"N":"123"}}`, 1 + 2 + 1},
		{"number: zeros trimmed", `{"n":{"N":"-000120.500"}}`, 1 + 2 + 1},
		{"number: exponent ignored", `{"n":{"N":"1.5E+10"}}`, 1 + 1 + 1},
		{"bool and null", `{"t":{"BOOL":true},"z":{"NULL":true}}`, 1 + 1 + 1 + 1},
		{"string set", `{"ss":{"SS":["ab","c"]}}`, 2 + 3},
		{"number set", `{"ns":{"NS":["12","3456"]}}`, 2 + 2 + 3},
		{"binary set", `{"bs":{"BS":["AAE=","AA=="]}}`, 2 + 3},
		{"list: 3 bytes plus 1 per element", `{"l":{"L":[{"S":"ab"},{"N":"1"}]}}`, 1 + 3 + (1 + 2) + (1 + 2)},
		{"empty list", `{"l":{"L":[]}}`, 1 + 3},
		{"map: names count", `{"m":{"M":{"k":{"S":"v"}}}}`, 1 + 3 + 1 + (1 + 1)},
		{"nested", `{"m":{"M":{"l":{"L":[{"M":{}}]}}}}`, 1 + 3 + 1 + 1 + (3 + 1 + 3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ItemSize([]byte(tc.item))
			if err != nil || got != tc.want {
				t.Errorf("ItemSize(%s) = %d, %v, want %d, nil", tc.item, got, err, tc.want)
			}
		})
	}
}

func TestItemSizeRejects(t *testing.T) {
	deep := strings.Repeat(`{"L":[`, 40) + `{"S":"x"}` + strings.Repeat(`]}`, 40)
	for name, item := range map[string]string{
		"not JSON":           `{"pk":`,
		"not an object":      `["pk"]`,
		"null":               `null`,
		"two types":          `{"a":{"S":"x","N":"1"}}`,
		"no type":            `{"a":{}}`,
		"unknown type":       `{"a":{"X":"1"}}`,
		"string not string":  `{"a":{"S":1}}`,
		"malformed number":   `{"a":{"N":"1x"}}`,
		"empty number":       `{"a":{"N":""}}`,
		"malformed base64":   `{"a":{"B":"!!"}}`,
		"set of non-strings": `{"a":{"SS":[1]}}`,
		"map not an object":  `{"a":{"M":[]}}`,
		"too deep":           `{"a":` + deep + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ItemSize([]byte(item)); !errors.Is(err, errItem) {
				t.Errorf("ItemSize(%s) err = %v, want errItem", item, err)
			}
		})
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDynamoDBUnits(t *testing.T) {
	big := base64.StdEncoding.EncodeToString(make([]byte, 2100))
	tests := []struct {
		name, op  string
		req, resp string // testdata file names start with "@"
		want      Units
	}{
		// ConditionCheck 60 B, message Put 412 B, window Put 107 B, Update
		// 27 B (key + values): each ⌈size/1 KB⌉ = 1, twice in a transaction.
		{"webhook transaction", "TransactWriteItems", "@transact_write_webhook.json", "{}",
			Units{Writes: 4, WRU: 8, FullItems: 2, WrittenBytes: 412 + 107}},
		// Put 1510 B = 2 WRU, Delete (key only) 1 WRU.
		{"batch write", "BatchWriteItem", "@batch_write.json", "{}", Units{Writes: 2, WRU: 3, FullItems: 1, WrittenBytes: 1510}},
		{"put over 2 KB", "PutItem", `{"TableName":"t","Item":{"pk":{"S":"a"},"b":{"B":"` + big + `"}}}`, "{}",
			Units{Writes: 1, WRU: 3, FullItems: 1, WrittenBytes: (2 + 1) + (1 + 2100)}},
		{"update: key and values", "UpdateItem", `{"Key":{"pk":{"S":"a"}},"ExpressionAttributeValues":{":v":{"N":"1"}}}`, "{}",
			Units{Writes: 1, WRU: 1}},
		{"delete", "DeleteItem", `{"Key":{"pk":{"S":"a"}}}`, "{}", Units{Writes: 1, WRU: 1}},
		{"get, consistent, found", "GetItem", `{"ConsistentRead":true}`, `{"Item":{"pk":{"S":"a"}}}`, Units{Reads: 1, RRU: 1}},
		{"get, eventual, not found", "GetItem", `{}`, `{}`, Units{RRU: 0.5}},
		{"get, large item", "GetItem", `{"ConsistentRead":true}`, `{"Item":{"b":{"B":"` +
			base64.StdEncoding.EncodeToString(make([]byte, 9000)) + `"}}}`, Units{Reads: 1, RRU: 3}},
		// One 1996-byte item returned of three read: 5988 B → 2 RRU.
		{"query with filtered items", "Query", "@query_request.json", "@query_response.json", Units{Reads: 1, RRU: 2}},
		{"query, nothing", "Query", `{}`, `{"Items":[],"Count":0,"ScannedCount":0}`, Units{RRU: 0.5}},
		{"scan, all filtered", "Scan", `{"ConsistentRead":true}`, `{"Items":[],"Count":0,"ScannedCount":5}`, Units{RRU: 2}},
		{"batch get", "BatchGetItem", `{"RequestItems":{"a":{"ConsistentRead":true},"b":{}}}`,
			`{"Responses":{"a":[{"k":{"S":"1"}}],"b":[{"k":{"S":"1"}},{"k":{"S":"2"}}]}}`, Units{Reads: 3, RRU: 2}},
		{"transact get", "TransactGetItems", `{}`, `{"Responses":[{"Item":{"k":{"S":"1"}}},{}]}`, Units{Reads: 1, RRU: 4}},
		{"not billed", "DescribeTable", `{}`, `{}`, Units{}},
	}
	body := func(s string) []byte {
		if name, ok := strings.CutPrefix(s, "@"); ok {
			return readTestdata(t, name)
		}
		return []byte(s)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DynamoDBUnits(tc.op, body(tc.req), body(tc.resp))
			if err != nil {
				t.Fatalf("DynamoDBUnits(%s) err = %v, want nil", tc.op, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("DynamoDBUnits(%s) mismatch (-want +got):\n%s", tc.op, diff)
			}
		})
	}
}

func TestDynamoDBUnitsRejects(t *testing.T) {
	tests := []struct{ op, req, resp string }{
		{"TransactWriteItems", `{"TransactItems":{}}`, ""},
		{"TransactWriteItems", `{"TransactItems":[{"Put":{"Item":{"a":{"Q":"1"}}}}]}`, ""},
		{"BatchWriteItem", `[]`, ""},
		{"PutItem", `{"Item":{"a":{"N":"x"}}}`, ""},
		{"GetItem", `{}`, `not json`},
		{"Query", `{}`, `{"Items":[{"a":{}}]}`},
		{"BatchGetItem", `{"RequestItems":[]}`, `{}`},
		{"TransactGetItems", `{}`, `{"Responses":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.op, func(t *testing.T) {
			if _, err := DynamoDBUnits(tc.op, []byte(tc.req), []byte(tc.resp)); err == nil {
				t.Errorf("DynamoDBUnits(%s, %s, %s) err = nil, want an error", tc.op, tc.req, tc.resp)
			}
		})
	}
}

func TestSchemaUnitsChargesIndexWrites(t *testing.T) {
	schema := Schema{
		"waguard-dev-data": {Keys: []string{"pk", "sk"}, Indexes: []Index{
			{Name: "by-expiry", Keys: []string{"exp_bucket", "expires_at"}, Projection: "INCLUDE", NonKey: []string{"class", "written_at"}},
			{Name: "by-lookup", Keys: []string{"lookup"}, Projection: "KEYS_ONLY"}}},
		"audit": {Keys: []string{"pk", "sk"}, Indexes: []Index{{Name: "by-day", Keys: []string{"day", "sk"}, Projection: "ALL"}}},
	}
	big := base64.StdEncoding.EncodeToString(make([]byte, 2100))
	tests := []struct {
		name, op, req string
		want          Units
	}{
		// Only the message item has both by-expiry keys: one more write
		// (its projection is 152 bytes: 1 WRU, not doubled).
		{"webhook transaction", "TransactWriteItems", "@transact_write_webhook.json",
			Units{Writes: 4, WRU: 9, FullItems: 2, WrittenBytes: 412 + 107, IndexWrites: 1}},
		// ALL projection: the index entry is the whole 2,112-byte item.
		{"projection ALL", "PutItem", `{"TableName":"audit","Item":{"pk":{"S":"a"},"sk":{"S":"b"},"day":{"S":"2026-11-24"},"b":{"B":"` + big + `"}}}`,
			Units{Writes: 1, WRU: 3 + 3, FullItems: 1, WrittenBytes: 3 + 3 + 13 + 2101, IndexWrites: 1}},
		{"not in the index", "PutItem", `{"TableName":"audit","Item":{"pk":{"S":"a"},"sk":{"S":"b"}}}`,
			Units{Writes: 1, WRU: 1, FullItems: 1, WrittenBytes: 6}},
		{"table without indexes", "PutItem", `{"TableName":"other","Item":{"pk":{"S":"a"},"day":{"S":"d"},"sk":{"S":"b"}}}`,
			Units{Writes: 1, WRU: 1, FullItems: 1, WrittenBytes: 10}},
		{"batch put", "BatchWriteItem", `{"RequestItems":{"audit":[{"PutRequest":{"Item":{"pk":{"S":"a"},"sk":{"S":"b"},"day":{"S":"d"}}}}]}}`,
			Units{Writes: 1, WRU: 2, FullItems: 1, WrittenBytes: 10, IndexWrites: 1}},
		{"update not visible", "UpdateItem", `{"TableName":"audit","Key":{"pk":{"S":"a"},"sk":{"S":"b"}},"ExpressionAttributeValues":{":d":{"S":"d"}}}`,
			Units{Writes: 1, WRU: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := []byte(tc.req)
			if name, ok := strings.CutPrefix(tc.req, "@"); ok {
				req = readTestdata(t, name)
			}
			got, err := schema.Units(tc.op, req, []byte("{}"))
			if err != nil {
				t.Fatalf("Units(%s) err = %v, want nil", tc.op, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Units(%s) mismatch (-want +got):\n%s", tc.op, diff)
			}
		})
	}
}
