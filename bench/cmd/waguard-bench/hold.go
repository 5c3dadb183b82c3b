package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
)

// streamHold sits in front of the events function's stream proxy. While
// held, it answers each GetRecords itself with no records and the same
// iterator, as DynamoDB Streams answers a shard with nothing new: the
// stream trigger keeps polling but never invokes the events function, so
// the webhook can be timed with the events function idle, in the same
// run and on the same stack as with it running. Once released, the
// trigger reads on from where it stopped and the held records reach the
// function late but whole. Every other request passes through.
type streamHold struct {
	held atomic.Bool
	next http.Handler
}

var _ http.Handler = (*streamHold)(nil)

// maxGetRecordsRequest bounds what the hold reads of a GetRecords
// request (an iterator and a limit: well under a kilobyte).
const maxGetRecordsRequest = 64 << 10

// ServeHTTP answers GetRecords while held and forwards everything else.
func (h *streamHold) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.held.Load() || r.Header.Get("X-Amz-Target") != "DynamoDBStreams_20120810.GetRecords" {
		h.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxGetRecordsRequest+1))
	if err != nil || len(body) > maxGetRecordsRequest {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	out, err := emptyGetRecords(body)
	if err != nil {
		http.Error(w, "bad GetRecords request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_, _ = w.Write(out)
}

// emptyGetRecords is the answer to a GetRecords request (the JSON
// protocol's body) on a shard with nothing new: no records, and the
// request's own iterator as the next one.
func emptyGetRecords(req []byte) ([]byte, error) {
	var in struct {
		ShardIterator string
	}
	if err := json.Unmarshal(req, &in); err != nil {
		return nil, errors.New("get records request: malformed")
	}
	if in.ShardIterator == "" {
		return nil, errors.New("get records request: no shard iterator")
	}
	return json.Marshal(struct {
		Records           []struct{}
		NextShardIterator string
	}{Records: []struct{}{}, NextShardIterator: in.ShardIterator})
}
