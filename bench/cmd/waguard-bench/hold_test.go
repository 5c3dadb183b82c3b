package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

func TestEmptyGetRecords(t *testing.T) {
	tests := []struct {
		name, req string
		want      string // "" for an error
	}{
		{"iterator and limit", `{"ShardIterator":"arn:x|1|AAA","Limit":100}`, `{"Records":[],"NextShardIterator":"arn:x|1|AAA"}`},
		{"iterator only", `{"ShardIterator":"it"}`, `{"Records":[],"NextShardIterator":"it"}`},
		{"no iterator", `{"Limit":100}`, ""},
		{"empty iterator", `{"ShardIterator":""}`, ""},
		{"not JSON", `ShardIterator=it`, ""},
		{"empty body", ``, ""},
		{"iterator not a string", `{"ShardIterator":7}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := emptyGetRecords([]byte(tt.req))
			if tt.want == "" {
				if err == nil {
					t.Errorf("emptyGetRecords(%s) = %s, want an error", tt.req, got)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("emptyGetRecords(%s) = %s, %v, want %s, nil", tt.req, got, err, tt.want)
			}
		})
	}
}

// TestStreamHold reads through the hold with the SDK's own client (as the
// stream trigger does): released, GetRecords reaches the stream; held, the
// SDK gets no records and its own iterator back, and other operations
// still pass.
func TestStreamHold(t *testing.T) {
	var forwarded atomic.Int32
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		switch r.Header.Get("X-Amz-Target") {
		case "DynamoDBStreams_20120810.GetRecords":
			_, _ = w.Write([]byte(`{"Records":[{"eventID":"e1","eventName":"INSERT","dynamodb":{"SequenceNumber":"1"}}],"NextShardIterator":"next"}`))
		default:
			_, _ = w.Write([]byte(`{"Streams":[]}`))
		}
	})
	h := &streamHold{next: upstream}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := dynamodbstreams.New(dynamodbstreams.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), HTTPClient: srv.Client()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	get := func() *dynamodbstreams.GetRecordsOutput {
		t.Helper()
		out, err := client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String("it-1"), Limit: aws.Int32(100)})
		if err != nil {
			t.Fatalf("GetRecords err = %v, want nil", err)
		}
		return out
	}

	if out := get(); len(out.Records) != 1 || aws.ToString(out.NextShardIterator) != "next" {
		t.Errorf("released: GetRecords = %d records, next %q; want 1, %q", len(out.Records), aws.ToString(out.NextShardIterator), "next")
	}
	h.held.Store(true)
	before := forwarded.Load()
	if out := get(); len(out.Records) != 0 || aws.ToString(out.NextShardIterator) != "it-1" {
		t.Errorf("held: GetRecords = %d records, next %q; want 0, %q", len(out.Records), aws.ToString(out.NextShardIterator), "it-1")
	}
	if n := forwarded.Load() - before; n != 0 {
		t.Errorf("held: %d GetRecords forwarded, want 0", n)
	}
	if _, err := client.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{}); err != nil {
		t.Errorf("held: ListStreams err = %v, want nil", err)
	}
	if n := forwarded.Load() - before; n != 1 {
		t.Errorf("held: %d requests forwarded, want 1 (ListStreams)", n)
	}

	resp, err := srv.Client().Post(srv.URL, "application/x-amz-json-1.0", strings.NewReader(`{"Limit":1}`))
	if err != nil {
		t.Fatalf("POST err = %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Without the target header it is not a GetRecords: forwarded.
		t.Errorf("held: untargeted POST status = %d, want 200 (forwarded)", resp.StatusCode)
	}
}

func FuzzEmptyGetRecords(f *testing.F) {
	f.Add([]byte(`{"ShardIterator":"arn:x|1|AAA","Limit":100}`))
	f.Add([]byte(`{"ShardIterator":""}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, req []byte) {
		out, err := emptyGetRecords(req)
		if err != nil {
			return
		}
		var in, got struct {
			ShardIterator     string
			NextShardIterator string
			Records           []json.RawMessage
		}
		if json.Unmarshal(req, &in) != nil || json.Unmarshal(out, &got) != nil {
			t.Fatalf("emptyGetRecords accepted %q or answered unparsable %q", req, out)
		}
		if got.NextShardIterator != in.ShardIterator || got.Records == nil || len(got.Records) != 0 {
			t.Fatalf("emptyGetRecords(%q) = %q, want no records and the same iterator", req, out)
		}
	})
}
