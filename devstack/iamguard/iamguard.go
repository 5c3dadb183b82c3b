// Package iamguard enforces template.yaml's IAM policies on the local
// stack, which the emulators never do: a reverse proxy in front of
// DynamoDB Local answers a function's call with AccessDeniedException, as
// DynamoDB does, when the function's role (its inline policy statements in
// the template) does not allow that action on that table or index, and the
// Secrets Manager emulator asks [Roles] the same about each secret.
// Without it a missing permission shows up only after a deploy to AWS.
// [KMSProxy] does the same in front of local-kms, and [MotoProxy] in
// front of moto's server for EventBridge (events:PutEvents on a bus) and
// SQS (sqs:SendMessage on a queue, …).
//
// # How a caller is known
//
// waguard-dev gives each function its own access key id (see
// [AccessKey]); the proxy reads it from the SigV4 Authorization header and
// then rewrites it to the stack's shared key before forwarding, since
// DynamoDB Local keeps one database per access key (it never checks
// signatures). Callers with other keys (provisioning, tests, the
// developer's CLI) are not restricted.
//
// # What is checked
//
// Every action a request needs, with IAM's resources: the table's ARN, or
// table/<name>/index/<index> for a Query or Scan of an index; each item of
// a TransactWriteItems (Put, Update, Delete, ConditionCheck become
// dynamodb:PutItem, UpdateItem, DeleteItem, ConditionCheckItem) and of a
// TransactGetItems (GetItem); dynamodb:BatchWriteItem and BatchGetItem per
// table of a batch; a stream's ARN for DynamoDB Streams' DescribeStream,
// GetShardIterator and GetRecords; a secret's ARN; a KMS key's ARN with the request's
// encryption context as the kms:EncryptionContext:<key> condition keys
// ([KMSProxy]). Allow statements only, with StringEquals conditions; a
// Deny statement, another condition operator or a policy form other than
// inline statements makes [Policies] fail rather than be misread.
//
// # What is proven the other way
//
// Enforcement proves a role lacks nothing the tests need; the coverage
// check proves it holds nothing more. [Roles] records every call it allows
// a function ([Use]), whether the function runs under the RIE behind the
// gateway or a test calls as the function (stacktest's AsFunction). After
// the tests, [Check] matches those uses against every [Grant] of the
// template (one action on one resource of one statement) and reports each
// grant no use exercised, unless [Exemptions] gives the reason no local
// emulator can exercise it. waguard-dev serves the record at GET
// /_local/iam/usage; devstack/cmd/iamcheck runs the check as the last step
// of `make test`.
package iamguard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/waguard/waguard/internal/samtemplate"
)

// AccessKey is the access key id waguard-dev gives the function with the
// template's logical id.
func AccessKey(logicalID string) string { return accessKeyPrefix + logicalID }

// FunctionOf returns the logical id of the function whose access key is
// accessKey ([AccessKey]).
func FunctionOf(accessKey string) (string, bool) {
	id, ok := strings.CutPrefix(accessKey, accessKeyPrefix)
	if !ok || id == "" {
		return "", false
	}
	return id, true
}

const accessKeyPrefix = "waguard-role-"

// Statement is one Allow statement of a function's role: the template's
// model of an IAM statement ([samtemplate.Statement]), of which iamguard
// reads the Sid, the actions and resources (wildcards * and ? kept) and
// the StringEquals conditions.
type Statement = samtemplate.Statement

// Policy is a role's Allow statements.
type Policy []Statement

// Allows reports whether some statement allows action on resource.
// Actions compare case-insensitively, resources case-sensitively, as IAM
// does.
func (p Policy) Allows(action, resource string) bool {
	return p.AllowsWith(action, resource, nil)
}

// AllowsWith is Allows for a request with the condition keys ctx (for
// KMS, kms:EncryptionContext:<key>): a statement with conditions applies
// only when the request meets every one of them.
func (p Policy) AllowsWith(action, resource string, ctx map[string]string) bool {
	return slices.ContainsFunc(p, func(s Statement) bool { return s.Allows(action, resource, ctx) })
}

// Policies returns each function's policy, by access key ([AccessKey]),
// from the resolved template.
func Policies(t *samtemplate.Template) (map[string]Policy, error) {
	byFunction, err := functionPolicies(t)
	if err != nil {
		return nil, err
	}
	out := map[string]Policy{}
	for id, p := range byFunction {
		out[AccessKey(id)] = p
	}
	return out, nil
}

// functionPolicies reads each function's statements, by logical id. Only
// what iamguard enforces faithfully is accepted: inline Allow statements
// with Action and Resource lists and StringEquals conditions; a managed
// policy, a SAM policy template, a Deny, a NotAction or NotResource, or
// another condition operator fails rather than be misread.
func functionPolicies(t *samtemplate.Template) (map[string]Policy, error) {
	out := map[string]Policy{}
	for _, f := range t.Functions() {
		out[f.LogicalID] = Policy{}
	}
	for _, n := range t.NamedPolicies() {
		if _, ok := out[n.Holder]; ok {
			return nil, fmt.Errorf("%s: only inline policy statements are understood, got %s", n.Holder, n.Name)
		}
	}
	for _, s := range t.Statements() {
		if _, ok := out[s.Holder]; !ok {
			continue
		}
		if err := enforceable(s); err != nil {
			return nil, fmt.Errorf("%s: statement %s: %w", s.Holder, s.Sid, err)
		}
		out[s.Holder] = append(out[s.Holder], s)
	}
	return out, nil
}

// enforceable refuses a statement iamguard would misread.
func enforceable(s Statement) error {
	switch {
	case s.Effect != "Allow":
		return errors.New("only Allow statements are understood")
	case s.NotActions != nil || s.NotResources != nil:
		return errors.New("NotAction and NotResource are not understood")
	case s.Condition != nil && (len(s.Condition) != 1 || s.StringEquals == nil):
		return fmt.Errorf("only StringEquals conditions are understood, got %v", s.Condition)
	}
	for k, v := range s.StringEquals {
		if len(v) == 0 {
			return fmt.Errorf("condition %s has no string value", k)
		}
	}
	return nil
}

// Roles holds the functions' policies by access key, for every service
// the local stack checks (DynamoDB through [Proxy]; the Secrets Manager
// emulator through its Authorize hook), and records every call it allows
// a function's role ([Roles.Uses]), so that the coverage check ([Check])
// can tell which grants the tests exercised. The zero value allows
// everything; it is safe for concurrent use.
type Roles struct {
	mu       sync.RWMutex
	policies map[string]Policy
	used     map[string]Use
}

// Set installs the policies, by access key.
func (r *Roles) Set(m map[string]Policy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.policies = m
}

// Allows reports whether the caller with accessKey may take action on
// resource: always for a key without a policy.
func (r *Roles) Allows(accessKey, action, resource string) bool {
	return r.AllowsWith(accessKey, action, resource, nil)
}

// AllowsWith is Allows for a request with the condition keys ctx. A
// function's call it allows is recorded as a [Use].
func (r *Roles) AllowsWith(accessKey, action, resource string, ctx map[string]string) bool {
	r.mu.RLock()
	p, restricted := r.policies[accessKey]
	r.mu.RUnlock()
	if !restricted {
		return true
	}
	if !p.AllowsWith(action, resource, ctx) {
		return false
	}
	if fn, ok := FunctionOf(accessKey); ok {
		r.record(Use{Function: fn, Action: action, Resource: resource, Context: ctx})
	}
	return true
}

// record adds u to the set of uses.
func (r *Roles) record(u Use) {
	k := u.key()
	r.mu.RLock()
	_, seen := r.used[k]
	r.mu.RUnlock()
	if seen {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.used == nil {
		r.used = map[string]Use{}
	}
	r.used[k] = Use{Function: u.Function, Action: u.Action, Resource: u.Resource, Context: maps.Clone(u.Context)}
}

// Uses returns every distinct call allowed to a function's role so far,
// sorted.
func (r *Roles) Uses() []Use {
	r.mu.RLock()
	defer r.mu.RUnlock()
	keys := slices.Sorted(maps.Keys(r.used))
	out := make([]Use, 0, len(keys))
	for _, k := range keys {
		out = append(out, r.used[k])
	}
	return out
}

// restricted reports whether accessKey has a policy.
func (r *Roles) restricted(accessKey string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.policies[accessKey]
	return ok
}

// AccessKeyOf returns the access key id of a SigV4-signed request, or "".
func AccessKeyOf(r *http.Request) string {
	if m := credential.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	return ""
}

// Proxy is the enforcing reverse proxy. Its [Roles] are set once the
// template is resolved; until then, and for access keys without a policy,
// it forwards everything. It also gives every DynamoDB answer the
// X-Amz-Crc32 header that DynamoDB sends and DynamoDB Local leaves off
// its errors, so that the SDK verifies each body instead of warning.
type Proxy struct {
	// Target is DynamoDB Local's URL.
	Target *url.URL
	// TablePrefix is the ARN of a table without its name, as the resolved
	// template's GetAtt Table.Arn gives it (default: DynamoDB Local's own,
	// DefaultTablePrefix).
	TablePrefix string
	// SharedKey is the access key id the target sees for every caller.
	SharedKey string
	// Roles are the policies to enforce (nil: none).
	Roles *Roles
	// Denied, when set, is told of each refusal (for the stack's log).
	Denied func(principal, action, resource string)

	once sync.Once
	rp   *httputil.ReverseProxy
}

var credential = regexp.MustCompile(`Credential=([^/,\s]+)/`)

// maxBody bounds what the proxy reads of a request (DynamoDB's own limit
// for a TransactWriteItems is 4 MB of items).
const maxBody = 16 << 20

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.once.Do(func() {
		p.rp = httputil.NewSingleHostReverseProxy(p.Target)
		// Keep a connection per concurrent caller: the default two idle
		// connections per host churn under the functions' parallel calls.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 256, 256
		p.rp.Transport = t
		p.rp.ErrorHandler = proxyError
		p.rp.ModifyResponse = addCRC32
	})
	auth := r.Header.Get("Authorization")
	m := credential.FindStringSubmatch(auth)
	if m == nil {
		p.rp.ServeHTTP(w, r)
		return
	}
	if p.Roles != nil && p.Roles.restricted(m[1]) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			http.Error(w, "read request", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		needs, err := p.needs(r.Header.Get("X-Amz-Target"), body)
		if err != nil {
			Deny(w, "application/x-amz-json-1.0", m[1], err.Error(), "*")
			return
		}
		for _, n := range needs {
			if !p.Roles.Allows(m[1], n.action, n.resource) {
				if p.Denied != nil {
					p.Denied(m[1], n.action, n.resource)
				}
				Deny(w, "application/x-amz-json-1.0", m[1], n.action, n.resource)
				return
			}
		}
	}
	r.Header.Set("Authorization", strings.Replace(auth, m[0], "Credential="+p.SharedKey+"/", 1))
	p.rp.ServeHTTP(w, r)
}

// Deny answers as an AWS JSON service does when IAM refuses a call, with
// the service's contentType, and with the body's X-Amz-Crc32, which
// DynamoDB's clients verify (see [Proxy]) and the other services' ignore.
func Deny(w http.ResponseWriter, contentType, principal, action, resource string) {
	msg := fmt.Sprintf("User: arn:aws:sts::local:assumed-role/%s is not authorized to perform: %s on resource: %s "+
		"because no identity-based policy allows the %s action (template.yaml, enforced by devstack/iamguard)",
		principal, action, resource, action)
	body, _ := json.Marshal(map[string]string{"__type": "com.amazon.coral.service#AccessDeniedException", "message": msg})
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("x-amzn-RequestId", "iamguard")
	w.Header().Set(crc32Header, crc32Of(body))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(body)
}

// crc32Header is the header in which DynamoDB sends the CRC32 (IEEE) of a
// response body, as a decimal number.
const crc32Header = "X-Amz-Crc32"

func crc32Of(body []byte) string { return strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10) }

// addCRC32 gives a DynamoDB answer without an X-Amz-Crc32 header the one
// DynamoDB would send. DynamoDB Local omits it on its error answers (a
// missing table, a failed condition), and the SDK's DynamoDB client then
// checks the body against 0 and logs "failed to close HTTP response body
// … response did not match expected checksum" for each
// (aws/aws-sdk-go-v2#3545). A body over maxBody passes unchanged.
func addCRC32(resp *http.Response) error {
	if resp.Header.Get(crc32Header) != "" || !strings.HasPrefix(resp.Request.Header.Get("X-Amz-Target"), "DynamoDB_20120810.") {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if len(body) > maxBody {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return nil
	}
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.Header.Del("Transfer-Encoding")
	resp.Header.Set(crc32Header, crc32Of(body))
	return nil
}

// need is one action on one resource that a request requires.
type need struct{ action, resource string }

// needs lists what a DynamoDB request with the X-Amz-Target target and
// body requires.
func (p *Proxy) needs(target string, body []byte) ([]need, error) {
	if op, ok := strings.CutPrefix(target, "DynamoDBStreams_20120810."); ok && op != "" {
		return streamNeeds(op, body)
	}
	op, ok := strings.CutPrefix(target, "DynamoDB_20120810.")
	if !ok || op == "" {
		return nil, fmt.Errorf("unknown target %q", target)
	}
	var req struct {
		TableName     string
		IndexName     string
		TransactItems []map[string]struct{ TableName string }
		RequestItems  map[string]json.RawMessage
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%s: unreadable body", op)
	}
	switch op {
	case "TransactWriteItems", "TransactGetItems":
		var out []need
		for _, item := range req.TransactItems {
			for kind, x := range item {
				action := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
					"ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}[kind]
				if action == "" {
					return nil, fmt.Errorf("%s: unknown item kind %q", op, kind)
				}
				out = append(out, need{"dynamodb:" + action, p.tableARN(x.TableName)})
			}
		}
		return out, nil
	case "BatchWriteItem", "BatchGetItem":
		var out []need
		for table := range req.RequestItems {
			out = append(out, need{"dynamodb:" + op, p.tableARN(table)})
		}
		return out, nil
	}
	if req.TableName == "" {
		return []need{{"dynamodb:" + op, "*"}}, nil
	}
	res := p.tableARN(req.TableName)
	if req.IndexName != "" {
		res = path.Join(res, "index", req.IndexName)
	}
	return []need{{"dynamodb:" + op, res}}, nil
}

// DefaultTablePrefix is how DynamoDB Local names its tables' ARNs.
const DefaultTablePrefix = "arn:aws:dynamodb:ddblocal:000000000000:table/"

func (p *Proxy) tableARN(name string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	if p.TablePrefix == "" {
		return DefaultTablePrefix + name
	}
	return p.TablePrefix + name
}

// streamNeeds lists what a DynamoDB Streams request requires: the
// stream's ARN for DescribeStream and GetShardIterator, and for
// GetRecords the ARN its shard iterator was issued for. DynamoDB Local's
// iterators start with that ARN and a "|"; an iterator of another form
// (opaque on AWS) is checked against "*", which only a grant on every
// resource allows. ListStreams names no stream, so it too needs "*".
func streamNeeds(op string, body []byte) ([]need, error) {
	var req struct{ StreamArn, ShardIterator string }
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%s: unreadable body", op)
	}
	res := req.StreamArn
	if op == "GetRecords" {
		if arn, _, ok := strings.Cut(req.ShardIterator, "|"); ok && strings.HasPrefix(arn, "arn:") {
			res = arn
		}
	}
	if !strings.HasPrefix(res, "arn:") {
		res = "*"
	}
	return []need{{"dynamodb:" + op, res}}, nil
}

// proxyError answers 502 when the target cannot be reached, as
// httputil.ReverseProxy does, without logging a request its caller gave
// up on (a stopped poller, a test's cancelled context).
func proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() == nil {
		log.Printf("iamguard: proxy error: %v", err)
	}
	w.WriteHeader(http.StatusBadGateway)
}
