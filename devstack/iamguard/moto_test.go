package iamguard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

const (
	testAccount = "111122223333"
	testBus     = "arn:aws:events:eu-west-2:111122223333:event-bus/waguard-dev"
	testQueue   = "arn:aws:sqs:eu-west-2:111122223333:failures"
)

func TestMotoNeeds(t *testing.T) {
	scope := credentialScope{Region: "eu-west-2", Service: "events"}
	sqsScope := credentialScope{Region: "eu-west-2", Service: "sqs"}
	queueURL := "http://127.0.0.1:8004/111122223333/failures"
	tests := []struct {
		name string
		req  motoRequest
		want []need
	}{
		{"put events on a named bus", motoRequest{Target: "AWSEvents.PutEvents", Scope: scope,
			Body: []byte(`{"Entries":[{"EventBusName":"waguard-dev","Source":"waguard"},{"EventBusName":"waguard-dev"}]}`)},
			[]need{{"events:PutEvents", testBus}}},
		{"put events by ARN and on the default bus", motoRequest{Target: "AWSEvents.PutEvents", Scope: scope,
			Body: []byte(`{"Entries":[{"EventBusName":"arn:aws:events:eu-west-2:111122223333:event-bus/other"},{}]}`)},
			[]need{{"events:PutEvents", "arn:aws:events:eu-west-2:111122223333:event-bus/other"},
				{"events:PutEvents", "arn:aws:events:eu-west-2:111122223333:event-bus/default"}}},
		{"another events operation", motoRequest{Target: "AWSEvents.PutRule", Scope: scope, Body: []byte(`{"Name":"r"}`)},
			[]need{{"events:PutRule", "*"}}},
		{"send message (JSON)", motoRequest{Target: "AmazonSQS.SendMessage", Scope: sqsScope,
			Body: []byte(`{"QueueUrl":"` + queueURL + `","MessageBody":"x"}`)}, []need{{"sqs:SendMessage", testQueue}}},
		{"send batch (JSON)", motoRequest{Target: "AmazonSQS.SendMessageBatch", Scope: sqsScope,
			Body: []byte(`{"QueueUrl":"` + queueURL + `"}`)}, []need{{"sqs:SendMessage", testQueue}}},
		{"queue URL by name", motoRequest{Target: "AmazonSQS.GetQueueUrl", Scope: sqsScope,
			Body: []byte(`{"QueueName":"failures"}`)}, []need{{"sqs:GetQueueUrl", testQueue}}},
		{"list queues", motoRequest{Target: "AmazonSQS.ListQueues", Scope: sqsScope, Body: []byte(`{}`)},
			[]need{{"sqs:ListQueues", "*"}}},
		{"send message (query)", motoRequest{Scope: sqsScope, Form: true,
			Body: []byte("Action=SendMessage&QueueUrl=" + url.QueryEscape(queueURL) + "&MessageBody=x")},
			[]need{{"sqs:SendMessage", testQueue}}},
		{"delete batch (query in the URL)", motoRequest{Scope: sqsScope,
			Query: "Action=DeleteMessageBatch&QueueUrl=" + url.QueryEscape(queueURL)}, []need{{"sqs:DeleteMessage", testQueue}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.req.needs(testAccount)
			if err != nil {
				t.Fatalf("needs() err = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(need{})); diff != "" {
				t.Errorf("needs() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	for name, bad := range map[string]motoRequest{
		"other service":      {Target: "AmazonSNS.Publish", Scope: credentialScope{Region: "eu-west-2", Service: "sns"}},
		"query of another":   {Scope: credentialScope{Region: "eu-west-2", Service: "sns"}, Form: true, Body: []byte("Action=Publish")},
		"unsigned":           {},
		"bad events body":    {Target: "AWSEvents.PutEvents", Scope: scope, Body: []byte(`{`)},
		"bad sqs body":       {Target: "AmazonSQS.SendMessage", Scope: sqsScope, Body: []byte(`[`)},
		"query without verb": {Scope: sqsScope, Form: true, Body: []byte("QueueUrl=x")},
	} {
		if got, err := bad.needs(testAccount); err == nil {
			t.Errorf("%s: needs() = %v, want an error", name, got)
		}
	}
}

// TestMotoProxy runs the SDK's EventBridge and SQS clients through the
// proxy to a recording target: a role's allowed PutEvents and SendMessage
// reach it, a PutEvents to another bus and a send to another queue are
// refused with AccessDeniedException and never reach it, and other
// callers pass untouched.
func TestMotoProxy(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Amz-Target"))
		mu.Unlock()
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		switch r.Header.Get("X-Amz-Target") {
		case "AWSEvents.PutEvents":
			_, _ = io.WriteString(w, `{"FailedEntryCount":0,"Entries":[{"EventId":"1"}]}`)
		default:
			_, _ = io.WriteString(w, `{"MessageId":"1","MD5OfMessageBody":"9dd4e461268c8034f5c8564e155c67a6"}`)
		}
	}))
	defer target.Close()
	u, _ := url.Parse(target.URL)
	var denied []string
	roles := &Roles{}
	fn := AccessKey("EventsFunction")
	roles.Set(map[string]Policy{fn: {
		{Actions: []string{"events:PutEvents"}, Resources: []string{testBus}},
		{Actions: []string{"sqs:SendMessage"}, Resources: []string{testQueue}},
	}})
	p := &MotoProxy{Target: u, AccountID: testAccount, Roles: roles, Denied: func(principal, action, resource string) {
		denied = append(denied, principal+" "+action+" "+resource)
	}}
	srv := httptest.NewServer(p)
	defer srv.Close()
	creds := func(key string) aws.CredentialsProvider {
		return credentials.NewStaticCredentialsProvider(key, "secret", "")
	}
	eb := func(key string) *eventbridge.Client {
		return eventbridge.New(eventbridge.Options{Region: "eu-west-2", BaseEndpoint: aws.String(srv.URL), Credentials: creds(key), RetryMaxAttempts: 1})
	}
	q := func(key string) *sqs.Client {
		return sqs.New(sqs.Options{Region: "eu-west-2", BaseEndpoint: aws.String(srv.URL), Credentials: creds(key), RetryMaxAttempts: 1})
	}
	ctx := context.Background()
	put := func(key, bus string) error {
		_, err := eb(key).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
			{EventBusName: aws.String(bus), Source: aws.String("waguard"), DetailType: aws.String("t"), Detail: aws.String("{}")}}})
		return err
	}
	send := func(key, queue string) error {
		_, err := q(key).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(srv.URL + "/" + testAccount + "/" + queue),
			MessageBody: aws.String("x"), MessageAttributes: map[string]sqstypes.MessageAttributeValue{}})
		return err
	}
	if err := put(fn, "waguard-dev"); err != nil {
		t.Errorf("allowed PutEvents err = %v", err)
	}
	if err := send(fn, "failures"); err != nil {
		t.Errorf("allowed SendMessage err = %v", err)
	}
	for name, err := range map[string]error{"PutEvents on default": put(fn, "default"), "SendMessage to tap": send(fn, "tap")} {
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
			t.Errorf("refused %s err = %v, want AccessDeniedException", name, err)
		}
	}
	if err := put("someone", "default"); err != nil {
		t.Errorf("unrestricted PutEvents err = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"AWSEvents.PutEvents", "AmazonSQS.SendMessage", "AWSEvents.PutEvents"}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("target saw (-want +got):\n%s", diff)
	}
	wantDenied := []string{fn + " events:PutEvents arn:aws:events:eu-west-2:111122223333:event-bus/default",
		fn + " sqs:SendMessage arn:aws:sqs:eu-west-2:111122223333:tap"}
	slices.Sort(denied)
	if diff := cmp.Diff(wantDenied, denied); diff != "" {
		t.Errorf("denied (-want +got):\n%s", diff)
	}
	wantUses := []Use{{Function: "EventsFunction", Action: "events:PutEvents", Resource: testBus},
		{Function: "EventsFunction", Action: "sqs:SendMessage", Resource: testQueue}}
	if diff := cmp.Diff(wantUses, roles.Uses()); diff != "" {
		t.Errorf("Uses() (-want +got):\n%s", diff)
	}
}

// FuzzMotoNeeds: any request either fails or yields events: or sqs:
// actions on an ARN or "*", never a panic.
func FuzzMotoNeeds(f *testing.F) {
	f.Add("AWSEvents.PutEvents", "events", `{"Entries":[{"EventBusName":"b"}]}`, "")
	f.Add("AmazonSQS.SendMessage", "sqs", `{"QueueUrl":"http://h/1/q"}`, "")
	f.Add("", "sqs", "Action=SendMessage&QueueUrl=http%3A%2F%2Fh%2F1%2Fq", "Action=x")
	f.Fuzz(func(t *testing.T, target, service, body, query string) {
		m := motoRequest{Target: target, Scope: credentialScope{Region: "r", Service: service}, Body: []byte(body), Query: query, Form: true}
		needs, err := m.needs(testAccount)
		if err != nil {
			return
		}
		for _, n := range needs {
			okAction := strings.HasPrefix(n.action, "events:") || strings.HasPrefix(n.action, "sqs:")
			if !okAction || (n.resource != "*" && !strings.HasPrefix(n.resource, "arn:")) {
				t.Fatalf("needs(%+v) gave %v", m, n)
			}
		}
	})
}
