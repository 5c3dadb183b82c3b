package awscount

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// backend answers like DynamoDB Local: GetItem returns one small item,
// GetRecords two stream records, and anything with "Fail" in its target
// answers 400. It keeps the last
// request body in *last so tests can check it arrived unchanged.
func backend(t *testing.T, gzipped bool, last *[]byte) *url.URL {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if last != nil {
			*last = body
		}
		if strings.Contains(r.Header.Get("X-Amz-Target"), "Fail") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		out := []byte(`{}`)
		switch target := r.Header.Get("X-Amz-Target"); {
		case strings.HasSuffix(target, ".GetItem"):
			out = []byte(`{"Item":{"pk":{"S":"a"}}}`)
		case strings.HasSuffix(target, ".GetRecords"):
			out = []byte(`{"Records":[{"eventID":"1"},{"eventID":"2"}],"NextShardIterator":"i"}`)
		}
		if gzipped {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(out)
			zw.Close()
			out = b.Bytes()
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func post(t *testing.T, h http.Handler, target, body string) (*http.Response, []byte) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST through proxy err = %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestProxyCountsDynamoDB(t *testing.T) {
	for _, gzipped := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "gzip"}[gzipped], func(t *testing.T) {
			var last []byte
			p := New(backend(t, gzipped, &last), KindDynamoDB, nil)
			twi := string(readTestdata(t, "transact_write_webhook.json"))
			post(t, p, "DynamoDB_20120810.TransactWriteItems", twi)
			if string(last) != twi {
				t.Errorf("backend received a different body")
			}
			post(t, p, "DynamoDB_20120810.GetItem", `{"ConsistentRead":true}`)
			post(t, p, "DynamoDB_20120810.GetItem", `{}`)
			post(t, p, "DynamoDB_20120810.PutItemFail", `{"Item":{"pk":{"S":"a"}}}`)
			want := Counts{
				"TransactWriteItems": {Calls: 1, Units: Units{Writes: 4, WRU: 8, FullItems: 2, WrittenBytes: 519}},
				"GetItem":            {Calls: 2, Units: Units{Reads: 2, RRU: 1.5}},
				"PutItemFail":        {Calls: 1, Failed: 1},
			}
			if diff := cmp.Diff(want, p.Peek()); diff != "" {
				t.Errorf("Peek() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, p.Take()); diff != "" {
				t.Errorf("Take() mismatch (-want +got):\n%s", diff)
			}
			if got := p.Take(); len(got) != 0 {
				t.Errorf("Take() after Take() = %v, want empty", got)
			}
		})
	}
}

func TestProxyCountsOtherServices(t *testing.T) {
	p := New(backend(t, false, nil), KindCalls, nil)
	_, body := post(t, p, "TrentService.Decrypt", `{"CiphertextBlob":"AA=="}`)
	if string(body) != "{}" {
		t.Errorf("client got %q, want the backend's body", body)
	}
	post(t, p, "secretsmanager.GetSecretValue", `{}`)
	post(t, p, "secretsmanager.GetSecretValue", `{}`)
	post(t, p, "", `{}`)
	got := p.Take()
	want := Counts{"Decrypt": {Calls: 1}, "GetSecretValue": {Calls: 2}, "(none)": {Calls: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Take() mismatch (-want +got):\n%s", diff)
	}
	if got.Calls() != 4 {
		t.Errorf("Calls() = %d, want 4", got.Calls())
	}
}

func TestProxyCountsEventBridgeAndStreams(t *testing.T) {
	var last []byte
	eb := New(backend(t, true, &last), KindEventBridge, nil)
	put := `{"Entries":[{"Source":"waguard","DetailType":"message.received","Detail":"{}"},{"Source":"a","DetailType":"b"}]}`
	post(t, eb, "AWSEvents.PutEvents", put)
	if string(last) != put {
		t.Errorf("backend received a different body")
	}
	post(t, eb, "AWSEvents.PutEventsFail", put)
	post(t, eb, "AWSEvents.PutEvents", `not json`)
	want := Counts{"PutEvents": {Calls: 2, Events: 2, Unparsed: 1}, "PutEventsFail": {Calls: 1, Failed: 1}}
	if diff := cmp.Diff(want, eb.Take()); diff != "" {
		t.Errorf("EventBridge Take() mismatch (-want +got):\n%s", diff)
	}
	st := New(backend(t, true, nil), KindStreams, nil)
	_, body := post(t, st, "DynamoDBStreams_20120810.GetRecords", `{"ShardIterator":"i"}`)
	if !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		t.Errorf("client got %q, want the backend's gzipped body unchanged", body)
	}
	post(t, st, "DynamoDBStreams_20120810.DescribeStream", `{}`)
	want = Counts{"GetRecords": {Calls: 1, Records: 2}, "DescribeStream": {Calls: 1}}
	if diff := cmp.Diff(want, st.Take()); diff != "" {
		t.Errorf("streams Take() mismatch (-want +got):\n%s", diff)
	}
}

func TestProxyBackendDown(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	p := New(u, KindDynamoDB, nil)
	resp, _ := post(t, p, "DynamoDB_20120810.GetItem", `{}`)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status = %d, want 502", resp.StatusCode)
	}
	if got := p.Take()["GetItem"]; got.Calls != 1 || got.Failed != 1 || got.Units != (Units{}) {
		t.Errorf("GetItem = %+v, want one failed call and no units", got)
	}
}

func TestCountsAdd(t *testing.T) {
	a := Counts{"GetItem": {Calls: 1, Units: Units{Reads: 1, RRU: 1}}}
	b := Counts{"GetItem": {Calls: 2, Failed: 1, Units: Units{RRU: 0.5}}, "PutItem": {Calls: 1, Unparsed: 1},
		"PutEvents": {Calls: 1, Events: 2}, "GetRecords": {Calls: 1, Records: 3}}
	want := Counts{"GetItem": {Calls: 3, Failed: 1, Units: Units{Reads: 1, RRU: 1.5}}, "PutItem": {Calls: 1, Unparsed: 1},
		"PutEvents": {Calls: 1, Events: 2}, "GetRecords": {Calls: 1, Records: 3}}
	if diff := cmp.Diff(want, a.Add(b)); diff != "" {
		t.Errorf("Add() mismatch (-want +got):\n%s", diff)
	}
	if got := Counts(nil).Add(nil); got == nil || len(got) != 0 {
		t.Errorf("nil.Add(nil) = %v, want an empty map", got)
	}
	if a["GetItem"].Calls != 1 {
		t.Errorf("Add() changed its receiver")
	}
}
