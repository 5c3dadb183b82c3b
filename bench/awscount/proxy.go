// Package awscount counts the AWS API calls that go through a reverse
// proxy, by operation, and estimates the DynamoDB request units each one
// is billed, so a load test can state what a message costs in AWS calls.
//
// Put a [Proxy] in front of each emulator (DynamoDB Local, local-kms, the
// Secrets Manager emulator, moto's EventBridge, DynamoDB Local's streams)
// and point the code under test at it, e.g. with waguard-dev's
// -function-endpoint flag. The proxy reads the operation from the
// X-Amz-Target header of the JSON protocol
// (DynamoDB_20120810.TransactWriteItems, TrentService.Decrypt,
// secretsmanager.GetSecretValue, AWSEvents.PutEvents,
// DynamoDBStreams_20120810.GetRecords) and, by its [Kind], reads the
// bodies: for DynamoDB it sizes the items (see [DynamoDBUnits]), for
// EventBridge it counts the billed events ([PutEventsBilled]), for
// streams the records returned ([GetRecordsCount]).
//
// # Non-goals
//
// It is a measuring tool for loopback emulators: it forwards requests
// unchanged, keeps no request data beyond the counts, and is not meant to
// sit in front of AWS itself.
package awscount

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBody bounds what the proxy reads of a request or response to size
// it (DynamoDB's own request limit is 16 MB); larger bodies still pass
// through, uncounted in units.
const maxBody = 16 << 20

// Op is the tally of one operation.
type Op struct {
	// Calls counts requests; Failed those answered with a non-2xx status
	// or not answered at all.
	Calls, Failed int
	// Units sums the DynamoDB units (zero for other services).
	Units Units
	// Unparsed counts requests whose bodies could not be read by the
	// proxy's kind (sized, for DynamoDB).
	Unparsed int
	// Events counts the events EventBridge bills for successful
	// PutEvents calls (KindEventBridge).
	Events int
	// Records counts the stream records successful GetRecords calls
	// returned (KindStreams).
	Records int
}

// Counts maps operation names (GetItem, Decrypt, GetSecretValue, …) to
// their tallies.
type Counts map[string]Op

// Calls is the number of calls across all operations.
func (c Counts) Calls() int {
	n := 0
	for _, op := range c {
		n += op.Calls
	}
	return n
}

// Add returns the sum of c and d, operation by operation.
func (c Counts) Add(d Counts) Counts {
	out := maps.Clone(c)
	if out == nil {
		out = Counts{}
	}
	for name, op := range d {
		o := out[name]
		o.Calls += op.Calls
		o.Failed += op.Failed
		o.Unparsed += op.Unparsed
		o.Events += op.Events
		o.Records += op.Records
		o.Units = o.Units.Add(op.Units)
		out[name] = o
	}
	return out
}

// Units sums the DynamoDB units across all operations.
func (c Counts) Units() Units {
	var u Units
	for _, op := range c {
		u = u.Add(op.Units)
	}
	return u
}

// Kind says what a [Proxy] reads of the bodies besides counting calls.
type Kind int

// The kinds of proxy. The zero value is invalid: [New] treats it as
// [KindCalls].
const (
	KindUnknown Kind = iota
	// KindCalls counts calls by operation only (KMS, Secrets Manager).
	KindCalls
	// KindDynamoDB also sizes requests into units ([Schema.Units]).
	KindDynamoDB
	// KindEventBridge also counts billed events ([PutEventsBilled]).
	KindEventBridge
	// KindStreams also counts the records of GetRecords
	// ([GetRecordsCount]).
	KindStreams
)

// reads tells whether a proxy of kind k reads the body of a request
// (req) or of its response (resp) for operation op.
func (k Kind) reads(op string) (req, resp bool) {
	switch {
	case k == KindDynamoDB:
		return true, true
	case k == KindEventBridge && op == "PutEvents":
		return true, false
	case k == KindStreams && op == "GetRecords":
		return false, true
	}
	return false, false
}

// Proxy is a counting reverse proxy to one AWS service endpoint. It is
// safe for concurrent use.
type Proxy struct {
	kind   Kind
	schema atomic.Pointer[Schema]
	rp     *httputil.ReverseProxy
	mu     sync.Mutex
	counts Counts
}

var _ http.Handler = (*Proxy)(nil)

// New returns a proxy of kind to target (e.g. http://127.0.0.1:8000).
// transport carries the forwarded requests (nil: a transport that keeps
// enough idle connections for tens of concurrent clients).
func New(target *url.URL, kind Kind, transport http.RoundTripper) *Proxy {
	if transport == nil {
		transport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second}
	}
	if kind == KindUnknown {
		kind = KindCalls
	}
	p := &Proxy{kind: kind, counts: Counts{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = r.In.Host },
		Transport:      transport,
		ModifyResponse: p.observe,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, _ error) {
			if c, ok := r.Context().Value(callKey{}).(*call); ok {
				p.record(c, http.StatusBadGateway, nil)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return p
}

type callKey struct{}

var readOps = map[string]bool{"GetItem": true, "Query": true, "Scan": true, "BatchGetItem": true, "TransactGetItems": true}

// call is one request in flight.
type call struct {
	op  string
	req []byte
}

// ServeHTTP forwards r and counts it when the answer comes back.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndexByte(target, '.')+1:]
	if op == "" {
		op = "(none)"
	}
	c := &call{op: op}
	if readReq, _ := p.kind.reads(op); readReq && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		r.Body.Close()
		if err != nil {
			http.Error(w, "read request", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if len(body) <= maxBody {
			c.req = body
		}
	}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callKey{}, c)))
}

// observe counts the call of a response; where the proxy's kind reads
// the response, it reads the body, then hands an identical body on.
func (p *Proxy) observe(resp *http.Response) error {
	c, ok := resp.Request.Context().Value(callKey{}).(*call)
	if !ok {
		return nil
	}
	var body []byte
	if _, readResp := p.kind.reads(c.op); readResp && resp.Body != nil {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		body = plain(b, resp.Header.Get("Content-Encoding"))
	}
	p.record(c, resp.StatusCode, body)
	return nil
}

// plain returns the decoded body for sizing (the client gets it as sent).
func plain(b []byte, encoding string) []byte {
	if !strings.EqualFold(encoding, "gzip") {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxBody))
	if err != nil {
		return nil
	}
	return out
}

func (p *Proxy) record(c *call, status int, resp []byte) {
	ok := status >= 200 && status <= 299
	m, unparsed := p.meter(c, ok, resp)
	p.mu.Lock()
	defer p.mu.Unlock()
	op := p.counts[c.op]
	op.Calls++
	if !ok {
		op.Failed++
	}
	op.Units = op.Units.Add(m.Units)
	op.Events += m.Events
	op.Records += m.Records
	if unparsed {
		op.Unparsed++
	}
	p.counts[c.op] = op
}

// meter reads what the proxy's kind reads of one call: DynamoDB units
// (a refused read is not billed; a write is, even when its condition
// fails: DynamoDB answers 400 ConditionalCheckFailedException), the
// events of a successful PutEvents, the records of a successful
// GetRecords. unparsed reports a body it could not read.
func (p *Proxy) meter(c *call, ok bool, resp []byte) (m Op, unparsed bool) {
	var err error
	switch {
	case p.kind == KindDynamoDB && (ok || !readOps[c.op]):
		var schema Schema
		if sp := p.schema.Load(); sp != nil {
			schema = *sp
		}
		m.Units, err = schema.Units(c.op, c.req, resp)
	case p.kind == KindEventBridge && c.op == "PutEvents" && ok:
		m.Events, err = PutEventsBilled(c.req)
	case p.kind == KindStreams && c.op == "GetRecords" && ok:
		m.Records, err = GetRecordsCount(resp)
	}
	return m, err != nil
}

// SetSchema makes the proxy charge index writes by s from now on.
func (p *Proxy) SetSchema(s Schema) { p.schema.Store(&s) }

// Take returns the counts since the last Take (or since New) and starts
// afresh.
func (p *Proxy) Take() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.counts
	p.counts = Counts{}
	return out
}

// Peek returns a copy of the counts since the last Take.
func (p *Proxy) Peek() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}
