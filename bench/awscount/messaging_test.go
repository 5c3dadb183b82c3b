package awscount

import (
	"fmt"
	"strings"
	"testing"
)

func TestPutEventsBilled(t *testing.T) {
	detail := func(n int) string { return strings.Repeat("x", n) }
	entry := func(d string) string {
		return fmt.Sprintf(`{"Source":"waguard","DetailType":"message.received","Detail":%q}`, d)
	}
	head := len("waguard") + len("message.received")
	tests := []struct {
		name    string
		req     string
		want    int
		wantErr bool
	}{
		{name: "one small entry", req: `{"Entries":[` + entry("{}") + `]}`, want: 1},
		{name: "two entries", req: `{"Entries":[` + entry("{}") + `,` + entry("{}") + `]}`, want: 2},
		{name: "exactly 64 KB", req: `{"Entries":[` + entry(detail(64<<10-head)) + `]}`, want: 1},
		{name: "one byte over 64 KB", req: `{"Entries":[` + entry(detail(64<<10-head+1)) + `]}`, want: 2},
		{name: "Time counts 14 bytes", req: `{"Entries":[{"Time":1.7e9,"Source":"waguard","DetailType":"message.received","Detail":"` +
			detail(64<<10-head-13) + `"}]}`, want: 2},
		{name: "null Time counts nothing", req: `{"Entries":[{"Time":null,"Source":"waguard","DetailType":"message.received","Detail":"` +
			detail(64<<10-head) + `"}]}`, want: 1},
		{name: "resources count", req: `{"Entries":[{"Source":"s","DetailType":"d","Resources":["` + detail(64<<10-2) + `","r"]}]}`, want: 2},
		{name: "UTF-8 bytes, not characters", req: `{"Entries":[{"Source":"s","DetailType":"d","Detail":"` +
			strings.Repeat("é", 32<<10) + `"}]}`, want: 2},
		{name: "empty entry", req: `{"Entries":[{}]}`, want: 1},
		{name: "no entries", req: `{}`, want: 0},
		{name: "not JSON", req: `nope`, wantErr: true},
		{name: "entries not a list", req: `{"Entries":{}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PutEventsBilled([]byte(tt.req))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("PutEventsBilled() = %d, %v, want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestGetRecordsCount(t *testing.T) {
	tests := []struct {
		name, resp string
		want       int
		wantErr    bool
	}{
		{name: "two records", resp: `{"Records":[{"eventID":"1"},{"eventID":"2"}],"NextShardIterator":"i"}`, want: 2},
		{name: "none", resp: `{"Records":[],"NextShardIterator":"i"}`, want: 0},
		{name: "closed shard", resp: `{"Records":[]}`, want: 0},
		{name: "not JSON", resp: `<html>`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := GetRecordsCount([]byte(tt.resp))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("GetRecordsCount() = %d, %v, want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
