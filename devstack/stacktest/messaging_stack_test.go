package stacktest_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/waguard/waguard/devstack/provision"
	"github.com/waguard/waguard/devstack/stacktest"
)

// TestBusesAndQueuesProvisioned checks that every event bus and queue the
// template declares exists on moto as declared, that the stack's
// environment names them, and that each bus has the shared catch-all rule
// into its <bus>-events-tap queue.
func TestBusesAndQueuesProvisioned(t *testing.T) {
	st := stacktest.Require(t)
	cfg, ctx := st.AWS(t), ctxT(t)
	tpl := template(t, st)
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	buses := tpl.CFN.GetAllEventsEventBusResources()
	if len(buses) == 0 {
		t.Fatal("the template declares no event bus")
	}
	for id, b := range buses {
		out, err := eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(b.Name)})
		if err != nil {
			t.Errorf("DescribeEventBus(%s) err = %v, want nil", id, err)
			continue
		}
		if id == "EventBus" && (st.EventBusName != b.Name || st.EventBusARN != aws.ToString(out.Arn)) {
			t.Errorf("stack env bus = %q %q, want %q %q", st.EventBusName, st.EventBusARN, b.Name, aws.ToString(out.Arn))
		}
		rule, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(b.Name + "-events-tap"), EventBusName: aws.String(b.Name)})
		if err != nil || aws.ToString(rule.EventPattern) != provision.TapPattern {
			t.Errorf("tap rule of %s = %+v (err %v), want pattern %s", id, rule, err, provision.TapPattern)
		}
	}
	if !strings.HasSuffix(st.EventBusTapQueueURL, "/"+st.EventBusName+"-events-tap") {
		t.Errorf("EventBusTapQueueURL = %q, want the bus's tap queue", st.EventBusTapQueueURL)
	}
	for id, qu := range tpl.CFN.GetAllSQSQueueResources() {
		url, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: qu.QueueName})
		if err != nil {
			t.Errorf("GetQueueUrl(%s) err = %v, want nil", id, err)
			continue
		}
		attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Errorf("GetQueueAttributes(%s) err = %v", id, err)
			continue
		}
		if p := qu.MessageRetentionPeriod; p != nil && attrs.Attributes["MessageRetentionPeriod"] != strconv.Itoa(*p) {
			t.Errorf("%s MessageRetentionPeriod = %q, want %d", id, attrs.Attributes["MessageRetentionPeriod"], *p)
		}
		if id == "EventsStreamFailures" && st.EventsStreamFailuresQueueURL != aws.ToString(url.QueueUrl) {
			t.Errorf("EventsStreamFailuresQueueURL = %q, want %q", st.EventsStreamFailuresQueueURL, aws.ToString(url.QueueUrl))
		}
	}
}
