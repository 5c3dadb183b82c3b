package audit

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
)

func TestExportRoundTrip(t *testing.T) {
	f := newFixture(t)
	its := f.db.snapshot()
	var buf bytes.Buffer
	if err := WriteExport(&buf, its); err != nil {
		t.Fatalf("WriteExport() err = %v, want nil", err)
	}
	got, err := ParseExport(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("ParseExport() err = %v, want nil", err)
	}
	if diff := cmp.Diff(its, got, cmp.Exporter(func(reflect.Type) bool { return true })); diff != "" {
		t.Fatalf("ParseExport(WriteExport(items)) mismatch (-want +got):\n%s", diff)
	}
	if rep, _ := Verify(got, &f.signer.key.PublicKey, sealed); !rep.OK() {
		t.Errorf("Verify(exported) breaks = %v, want none", rep.Breaks)
	}
}

func TestParseExport(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{name: "scan output", in: `{"Items":[{"pk":{"S":"a"},"sk":{"S":"b"}}],"Count":1,"ScannedCount":1}`, want: 1},
		{name: "empty scan", in: `{"Items":[],"Count":0}`, want: 0},
		{name: "s3 export lines", in: "{\"Item\":{\"pk\":{\"S\":\"a\"}}}\n{\"Item\":{\"pk\":{\"S\":\"b\"}}}\n", want: 2},
		{name: "all types", in: `{"Item":{"a":{"S":"x"},"b":{"N":"1"},"c":{"B":"AQI="},"d":{"BOOL":true},"e":{"NULL":true},"f":{"M":{"g":{"L":[{"S":"y"}]}}},"h":{"SS":["p"]},"i":{"NS":["2"]},"j":{"BS":["AA=="]}}}`, want: 1},
		{name: "empty input", in: "", want: 0},
		{name: "both", in: `{"Items":[],"Item":{}}`, wantErr: true},
		{name: "neither", in: `{"Count":0}`, wantErr: true},
		{name: "two types", in: `{"Item":{"a":{"S":"x","N":"1"}}}`, wantErr: true},
		{name: "unknown type", in: `{"Item":{"a":{"X":"x"}}}`, wantErr: true},
		{name: "bad base64", in: `{"Item":{"a":{"B":"!!"}}}`, wantErr: true},
		{name: "null false", in: `{"Item":{"a":{"NULL":false}}}`, wantErr: true},
		{name: "deep", in: `{"Item":{"a":` + strings.Repeat(`{"L":[`, 40) + `{"S":"x"}` + strings.Repeat(`]}`, 40) + `}}`, wantErr: true},
		{name: "not json", in: `Items`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExport(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr || len(got) != tt.want {
				t.Fatalf("ParseExport() = %d items, err %v, want %d items, error %v", len(got), err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseExportValues(t *testing.T) {
	got, err := ParseExport(strings.NewReader(`{"Item":{"c":{"B":"AQI="},"n":{"N":"12"}}}`))
	if err != nil {
		t.Fatalf("ParseExport() err = %v, want nil", err)
	}
	b, _ := got[0]["c"].(*types.AttributeValueMemberB)
	n, _ := got[0]["n"].(*types.AttributeValueMemberN)
	if b == nil || !bytes.Equal(b.Value, []byte{1, 2}) || n == nil || n.Value != "12" {
		t.Errorf("ParseExport() = %#v, want B [1 2] and N 12", got[0])
	}
}
