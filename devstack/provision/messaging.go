package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	cfnsqs "github.com/awslabs/goformation/v7/cloudformation/sqs"

	"github.com/waguard/waguard/internal/samtemplate"
)

// provisionBuses creates every AWS::Events::EventBus. Ref gives its name,
// as CloudFormation's does; GetAtt Arn and Name resolve too.
func provisionBuses(ctx context.Context, c Clients, tpl *samtemplate.Template, r *samtemplate.Resolver) error {
	buses := tpl.CFN.GetAllEventsEventBusResources()
	if len(buses) > 0 && c.EventBridge == nil {
		return errors.New("the template declares event buses but no EventBridge endpoint is configured")
	}
	for id, b := range buses {
		arn, err := ensureBus(ctx, c.EventBridge, b.Name)
		if err != nil {
			return err
		}
		r.Refs[id] = b.Name
		r.Attrs[id+".Name"] = b.Name
		r.Attrs[id+".Arn"] = arn
	}
	return nil
}

func ensureBus(ctx context.Context, eb *eventbridge.Client, name string) (string, error) {
	out, err := eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(name)})
	if err == nil {
		return aws.ToString(out.Arn), nil
	}
	var nf *ebtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		return "", fmt.Errorf("describe event bus %s: %w", name, err)
	}
	created, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("create event bus %s: %w", name, err)
	}
	return aws.ToString(created.EventBusArn), nil
}

// provisionQueues creates every AWS::SQS::Queue with the attributes the
// template sets. Ref gives its URL, as CloudFormation's does; GetAtt Arn,
// QueueName and QueueUrl resolve too.
func provisionQueues(ctx context.Context, c Clients, tpl *samtemplate.Template, r *samtemplate.Resolver) error {
	queues := tpl.CFN.GetAllSQSQueueResources()
	if len(queues) > 0 && c.SQS == nil {
		return errors.New("the template declares queues but no SQS endpoint is configured")
	}
	for id, q := range queues {
		name := aws.ToString(q.QueueName)
		if name == "" {
			name = "waguard-" + id // CloudFormation would generate one
		}
		attrs, err := queueAttributes(q)
		if err != nil {
			return fmt.Errorf("queue %s: %w", id, err)
		}
		url, arn, err := ensureQueue(ctx, c.SQS, name, attrs)
		if err != nil {
			return err
		}
		r.Refs[id] = url
		r.Attrs[id+".QueueUrl"] = url
		r.Attrs[id+".QueueName"] = name
		r.Attrs[id+".Arn"] = arn
	}
	return nil
}

// queueAttributes maps a queue's template properties to CreateQueue's
// attributes (same names; numbers and booleans as strings, policies as
// JSON).
func queueAttributes(q *cfnsqs.Queue) (map[string]string, error) {
	out := map[string]string{}
	ints := map[string]*int{"DelaySeconds": q.DelaySeconds, "MaximumMessageSize": q.MaximumMessageSize,
		"MessageRetentionPeriod": q.MessageRetentionPeriod, "ReceiveMessageWaitTimeSeconds": q.ReceiveMessageWaitTimeSeconds,
		"VisibilityTimeout": q.VisibilityTimeout, "KmsDataKeyReusePeriodSeconds": q.KmsDataKeyReusePeriodSeconds}
	for k, v := range ints {
		if v != nil {
			out[k] = strconv.Itoa(*v)
		}
	}
	bools := map[string]*bool{"SqsManagedSseEnabled": q.SqsManagedSseEnabled, "FifoQueue": q.FifoQueue,
		"ContentBasedDeduplication": q.ContentBasedDeduplication}
	for k, v := range bools {
		if v != nil {
			out[k] = strconv.FormatBool(*v)
		}
	}
	strs := map[string]*string{"KmsMasterKeyId": q.KmsMasterKeyId, "DeduplicationScope": q.DeduplicationScope,
		"FifoThroughputLimit": q.FifoThroughputLimit}
	for k, v := range strs {
		if v != nil {
			out[k] = *v
		}
	}
	for k, v := range map[string]any{"RedrivePolicy": q.RedrivePolicy, "RedriveAllowPolicy": q.RedriveAllowPolicy} {
		if v == nil {
			continue
		}
		if s, ok := v.(string); ok {
			out[k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = string(b)
	}
	return out, nil
}

// ensureQueue creates the queue (CreateQueue returns the existing one
// when its attributes are the same) and returns its URL and ARN.
func ensureQueue(ctx context.Context, q *sqs.Client, name string, attrs map[string]string) (url, arn string, err error) {
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", "", fmt.Errorf("create queue %s: %w", name, err)
	}
	url = aws.ToString(out.QueueUrl)
	got, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", "", fmt.Errorf("queue %s attributes: %w", name, err)
	}
	return url, got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

// Tap is a catch-all rule on an event bus whose target is a queue, so
// that what the functions publish can be read back locally.
type Tap struct {
	// Rule is the rule's name, QueueURL and QueueARN the queue's.
	Rule, QueueURL, QueueARN string
}

// TapPattern is the event pattern of a [Tap]: every event waguard
// publishes (source "waguard").
const TapPattern = `{"source":["waguard"]}`

// CreateTap creates (or finds) the queue name and a rule of that name on
// bus with the event pattern (e.g. [TapPattern]), targeting the queue.
// Local only: on AWS the queue would also need a policy letting
// EventBridge send to it.
func CreateTap(ctx context.Context, c Clients, bus, name, pattern string) (Tap, error) {
	if c.EventBridge == nil || c.SQS == nil {
		return Tap{}, errors.New("tap: EventBridge and SQS endpoints are needed")
	}
	url, arn, err := ensureQueue(ctx, c.SQS, name, nil)
	if err != nil {
		return Tap{}, fmt.Errorf("tap: %w", err)
	}
	if _, err := c.EventBridge.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: aws.String(bus),
		EventPattern: aws.String(pattern), State: ebtypes.RuleStateEnabled}); err != nil {
		return Tap{}, fmt.Errorf("tap rule %s: %w", name, err)
	}
	out, err := c.EventBridge.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(arn)}}})
	if err != nil {
		return Tap{}, fmt.Errorf("tap target %s: %w", name, err)
	}
	if out.FailedEntryCount > 0 {
		return Tap{}, fmt.Errorf("tap target %s: %d failed", name, out.FailedEntryCount)
	}
	return Tap{Rule: name, QueueURL: url, QueueARN: arn}, nil
}

// DeleteTap removes a tap's rule (and its target) and its queue.
func DeleteTap(ctx context.Context, c Clients, bus string, t Tap) error {
	if _, err := c.EventBridge.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(t.Rule),
		EventBusName: aws.String(bus), Ids: []string{"queue"}}); err != nil {
		return fmt.Errorf("remove tap target %s: %w", t.Rule, err)
	}
	if _, err := c.EventBridge.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(t.Rule), EventBusName: aws.String(bus)}); err != nil {
		return fmt.Errorf("delete tap rule %s: %w", t.Rule, err)
	}
	if _, err := c.SQS.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(t.QueueURL)}); err != nil {
		return fmt.Errorf("delete tap queue %s: %w", t.Rule, err)
	}
	return nil
}
