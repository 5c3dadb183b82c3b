package iamguard_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/waguard/waguard/devstack/stacktest"
)

// probeSource is the source of this test's events: not "waguard", so no
// other test's tap (nor the stack's shared one) receives them.
const probeSource = "waguard.iamguard-test"

// TestMotoProxyOnStack proves the enforcement on the running stack's moto,
// as the events function (stacktest.AsFunction): its PutEvents on the
// template's bus reaches the bus and a rule's queue, while PutEvents on
// another bus and a message to a queue its role does not name are refused
// with AccessDeniedException, and the test's own (unrestricted) calls
// pass. The allowed call is recorded for devstack/cmd/iamcheck as the
// events function's use of its Bus grant.
func TestMotoProxyOnStack(t *testing.T) {
	st := stacktest.Require(t)
	if st.EventBusName == "" {
		t.Fatal("WAGUARD_EVENT_BUS_NAME is not set: restart the stack with the current waguard-dev")
	}
	tap := st.BusTap(t, probeSource)
	st.AsFunction(t, "EventsFunction")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	put := func(bus string) (*eventbridge.PutEventsOutput, error) {
		return eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{EventBusName: aws.String(bus),
			Source: aws.String(probeSource), DetailType: aws.String("iamguard.probe"), Detail: aws.String(`{"probe":"moto proxy"}`)}}})
	}
	out, err := put(st.EventBusName)
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents(bus) as EventsFunction = %+v, %v; want accepted", out, err)
	}
	e := tap.Wait(t, 10*time.Second, func(e stacktest.BusEvent) bool { return e.DetailType == "iamguard.probe" })
	var detail map[string]string
	if err := json.Unmarshal(e.Detail, &detail); err != nil || detail["probe"] != "moto proxy" || e.Source != probeSource {
		t.Errorf("event on the bus = %+v, want the probe", e)
	}

	denied := func(name string, err error) {
		t.Helper()
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
			t.Errorf("%s as EventsFunction err = %v, want AccessDeniedException", name, err)
		}
	}
	_, err = put("default")
	denied("PutEvents(default bus)", err)
	_, err = q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(st.EventBusTapQueueURL), MessageBody: aws.String("x")})
	denied("SendMessage(tap queue)", err)
	_, err = q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(st.EventsStreamFailuresQueueURL)})
	denied("ReceiveMessage(failure queue)", err)

	local := st.AWS(t)
	if _, err := sqs.NewFromConfig(local).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(st.EventBusTapQueueURL)}); err != nil {
		t.Errorf("GetQueueAttributes(tap) with the stack's key err = %v, want nil", err)
	}
}
