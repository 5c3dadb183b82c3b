package iamguard

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// MotoProxy enforces the functions' EventBridge and SQS permissions in
// front of moto's server, which serves every service it emulates on one
// endpoint: a request is told apart by its X-Amz-Target header
// (AWSEvents.<Operation>, AmazonSQS.<Operation>) or, for SQS's query
// protocol, by its Action parameter and the service of its SigV4
// credential scope. A restricted caller's request for any other service
// is refused: the local stack uses moto only for EventBridge and SQS.
//
// What is checked: events:PutEvents on the ARN of each entry's bus (the
// account's "default" bus when an entry names none), sqs:<Operation> on
// the queue's ARN (from its QueueUrl, or GetQueueUrl's QueueName), with a
// batch operation needing its single-message action (SendMessageBatch
// needs sqs:SendMessage), as IAM does. Any other EventBridge operation is
// checked against "*", which only a grant on every resource allows.
type MotoProxy struct {
	// Target is moto's URL.
	Target *url.URL
	// AccountID is moto's account, for the ARNs of buses and queues
	// named by name.
	AccountID string
	// Roles are the policies to enforce (nil: none).
	Roles *Roles
	// Denied, when set, is told of each refusal.
	Denied func(principal, action, resource string)

	once sync.Once
	rp   *httputil.ReverseProxy
}

// Content types of the AWS JSON protocols: EventBridge speaks 1.1, SQS 1.0.
const (
	eventsContentType = "application/x-amz-json-1.1"
	sqsContentType    = "application/x-amz-json-1.0"
)

func (p *MotoProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.once.Do(func() {
		p.rp = httputil.NewSingleHostReverseProxy(p.Target)
		p.rp.ErrorHandler = proxyError
	})
	key := AccessKeyOf(r)
	if p.Roles == nil || !p.Roles.restricted(key) {
		p.rp.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	req := motoRequest{Target: r.Header.Get("X-Amz-Target"), Scope: scopeOf(r), Body: body, Query: r.URL.RawQuery,
		Form: strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")}
	needs, err := req.needs(p.AccountID)
	if err != nil {
		p.deny(w, req, key, err.Error(), "*")
		return
	}
	for _, n := range needs {
		if !p.Roles.Allows(key, n.action, n.resource) {
			p.deny(w, req, key, n.action, n.resource)
			return
		}
	}
	p.rp.ServeHTTP(w, r)
}

func (p *MotoProxy) deny(w http.ResponseWriter, req motoRequest, key, action, resource string) {
	if p.Denied != nil {
		p.Denied(key, action, resource)
	}
	switch {
	case strings.HasPrefix(req.Target, "AWSEvents."):
		Deny(w, eventsContentType, key, action, resource)
	case req.Target == "" && req.Scope.Service == "sqs":
		denyQuery(w, key, action, resource)
	default:
		Deny(w, sqsContentType, key, action, resource)
	}
}

// denyQuery answers as SQS's query protocol does when IAM refuses a call.
func denyQuery(w http.ResponseWriter, principal, action, resource string) {
	type errorBody struct {
		Type, Code, Message string
	}
	doc := struct {
		XMLName   xml.Name  `xml:"ErrorResponse"`
		Error     errorBody `xml:"Error"`
		RequestID string    `xml:"RequestId"`
	}{Error: errorBody{Type: "Sender", Code: "AccessDenied", Message: fmt.Sprintf(
		"User: arn:aws:sts::local:assumed-role/%s is not authorized to perform: %s on resource: %s (template.yaml, enforced by devstack/iamguard)",
		principal, action, resource)}, RequestID: "iamguard"}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusForbidden)
	_ = xml.NewEncoder(w).Encode(doc)
}

// credentialScope is the region and service a SigV4 request was signed for.
type credentialScope struct{ Region, Service string }

var scopePattern = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request`)

func scopeOf(r *http.Request) credentialScope {
	if m := scopePattern.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return credentialScope{Region: m[1], Service: m[2]}
	}
	return credentialScope{}
}

// motoRequest is what MotoProxy reads of a request to decide what it needs.
type motoRequest struct {
	Target string
	Scope  credentialScope
	Body   []byte
	// Query is the URL's raw query; Form says the body is form-encoded
	// (SQS's query protocol).
	Query string
	Form  bool
}

// needs lists the actions on resources the request requires, or an
// error naming what it could not read (which is refused).
func (m motoRequest) needs(account string) ([]need, error) {
	if op, ok := strings.CutPrefix(m.Target, "AWSEvents."); ok && op != "" {
		return m.eventsNeeds(op, account)
	}
	if op, ok := strings.CutPrefix(m.Target, "AmazonSQS."); ok && op != "" {
		var in struct{ QueueUrl, QueueName, QueueOwnerAWSAccountId string }
		if err := json.Unmarshal(m.Body, &in); err != nil {
			return nil, fmt.Errorf("sqs:%s: unreadable body", op)
		}
		return m.sqsNeeds(op, in.QueueUrl, in.QueueName, in.QueueOwnerAWSAccountId, account), nil
	}
	if m.Target == "" && m.Scope.Service == "sqs" {
		vals, err := url.ParseQuery(m.Query)
		if err != nil {
			return nil, fmt.Errorf("sqs: unreadable query")
		}
		if m.Form {
			form, err := url.ParseQuery(string(m.Body))
			if err != nil {
				return nil, fmt.Errorf("sqs: unreadable form")
			}
			for k, v := range form {
				vals[k] = v
			}
		}
		if op := vals.Get("Action"); op != "" {
			return m.sqsNeeds(op, vals.Get("QueueUrl"), vals.Get("QueueName"), vals.Get("QueueOwnerAWSAccountId"), account), nil
		}
	}
	svc := m.Scope.Service
	if svc == "" {
		svc = "unknown"
	}
	return nil, fmt.Errorf("%s:%s (the local stack enforces only EventBridge and SQS on moto)", svc, m.Target)
}

func (m motoRequest) eventsNeeds(op, account string) ([]need, error) {
	if op != "PutEvents" {
		return []need{{"events:" + op, "*"}}, nil
	}
	var in struct {
		Entries []struct{ EventBusName string }
	}
	if err := json.Unmarshal(m.Body, &in); err != nil {
		return nil, fmt.Errorf("events:PutEvents: unreadable body")
	}
	var out []need
	for _, e := range in.Entries {
		n := need{"events:PutEvents", busARN(m.Scope.Region, account, e.EventBusName)}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = []need{{"events:PutEvents", busARN(m.Scope.Region, account, "")}}
	}
	return out, nil
}

// busARN is the ARN of the bus an entry names (by name or ARN).
func busARN(region, account, bus string) string {
	if strings.HasPrefix(bus, "arn:") {
		return bus
	}
	if bus == "" {
		bus = "default"
	}
	return fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", region, account, bus)
}

// sqsBatchActions maps SQS's batch operations to the action IAM checks.
var sqsBatchActions = map[string]string{"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
	"ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}

func (m motoRequest) sqsNeeds(op, queueURL, queueName, owner, account string) []need {
	action := op
	if a, ok := sqsBatchActions[op]; ok {
		action = a
	}
	res := "*"
	switch {
	case queueURL != "":
		res = queueARN(m.Scope.Region, queueURL)
	case queueName != "":
		if owner == "" {
			owner = account
		}
		res = fmt.Sprintf("arn:aws:sqs:%s:%s:%s", m.Scope.Region, owner, queueName)
	}
	return []need{{"sqs:" + action, res}}
}

// queueARN derives a queue's ARN from its URL, whose path is
// /<account>/<name>; "*" when the URL has another form.
func queueARN(region, queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return "*"
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "*"
	}
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, parts[0], parts[1])
}
