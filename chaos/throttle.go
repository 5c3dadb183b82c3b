package chaos

import (
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"math"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// ThrottleBody is the error document DynamoDB answers, with HTTP 400, when
// a request exceeds the table's provisioned throughput. The AWS SDKs treat
// it as a throttle: they retry it with backoff (and a throttling retry
// costs less of the SDK's retry quota than other errors).
const ThrottleBody = `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",` +
	`"message":"The level of configured provisioned throughput for the table was exceeded. ` +
	`Consider increasing your provisioning level with the UpdateTable API."}`

// Throttler is an HTTP fault injector in front of a DynamoDB endpoint: it
// forwards requests, except that a chosen share of data-plane calls
// (GetItem, PutItem, Query, TransactWriteItems, …) is answered with
// DynamoDB's own ProvisionedThroughputExceededException, byte for byte as
// DynamoDB sends it (status, content type, CRC32 header and body). A TCP
// proxy cannot do this: throttling is an answer, not a broken connection.
//
// The choice is deterministic: with share s, call n (from 1) is refused
// when ⌈n·s⌉ > ⌈(n−1)·s⌉, so s = 0.25 refuses calls 1, 5, 9, … and a run
// is reproducible. Control-plane calls (CreateTable, DescribeTable, …)
// always pass. A Throttler is safe for concurrent use.
type Throttler struct {
	proxy *httputil.ReverseProxy

	mu        sync.Mutex
	share     float64
	calls     int // data-plane calls since the share was set
	throttled int
}

// NewThrottler returns a throttler forwarding to upstream, a DynamoDB
// endpoint such as http://127.0.0.1:8000. It throttles nothing until
// [Throttler.SetShare].
func NewThrottler(upstream string) (*Throttler, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("throttler: bad upstream URL %q", upstream)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	// A caller that gave up (DynamoDB stopped, a deadline passed) is not
	// worth a log line: answer 502 quietly, as a dead upstream would.
	p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	return &Throttler{proxy: p}, nil
}

// SetShare sets the share of data-plane calls to refuse, from 0 (none) to
// 1 (all), and restarts the counts.
func (t *Throttler) SetShare(s float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.share, t.calls, t.throttled = max(0, min(1, s)), 0, 0
}

// Counts returns the data-plane calls seen and refused since the share
// was last set.
func (t *Throttler) Counts() (calls, throttled int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls, t.throttled
}

// ServeHTTP refuses or forwards one call.
func (t *Throttler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if dataPlane(r.Header.Get("X-Amz-Target")) && t.refuse() {
		writeThrottle(w)
		return
	}
	t.proxy.ServeHTTP(w, r)
}

func (t *Throttler) refuse() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls++
	n := float64(t.calls)
	if math.Ceil(n*t.share) > math.Ceil((n-1)*t.share) {
		t.throttled++
		return true
	}
	return false
}

// dataPlane reports whether an X-Amz-Target (e.g.
// "DynamoDB_20120810.GetItem") names an item operation, the ones that
// consume capacity and can be throttled.
func dataPlane(target string) bool {
	_, op, ok := strings.Cut(target, ".")
	if !ok || !strings.HasPrefix(target, "DynamoDB_") {
		return false
	}
	switch op {
	case "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
		"BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems", "ExecuteStatement":
		return true
	}
	return false
}

// writeThrottle writes DynamoDB's throttling answer.
func writeThrottle(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", requestID())
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(ThrottleBody))), 10))
	h.Set("Content-Length", strconv.Itoa(len(ThrottleBody)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(ThrottleBody))
}

// requestID imitates DynamoDB's 52-character request ids.
func requestID() string {
	return strings.ToUpper(rand.Text() + rand.Text())[:52]
}
