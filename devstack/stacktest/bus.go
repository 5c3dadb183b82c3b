package stacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/waguard/waguard/devstack/provision"
)

// BusEvent is an event as EventBridge delivers it to a rule's target.
// (moto's leaves out account.)
type BusEvent struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// BusTap reads back what reaches the stack's event bus: a rule of its own
// on the bus (by default the event pattern {"source":["waguard"]}, as the
// stack's shared <bus>-events-tap queue has) into a queue of its own, so parallel tests
// each see every event published after their tap was created, and take
// none from each other. It is safe for concurrent use.
type BusTap struct {
	sqs *sqs.Client
	url string

	mu     sync.Mutex
	events []BusEvent
}

// BusTap creates a tap on the stack's bus for events of the sources
// (default "waguard", what the functions publish); the test's cleanup
// removes it.
func (s Stack) BusTap(t testing.TB, sources ...string) *BusTap {
	t.Helper()
	if s.EventBusName == "" {
		t.Fatal("no event bus in the stack environment (WAGUARD_EVENT_BUS_NAME): restart the stack with the current waguard-dev")
	}
	cfg := s.AWS(t)
	c := provision.Clients{EventBridge: eventbridge.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg)}
	var b [4]byte
	_, _ = rand.Read(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pattern := provision.TapPattern
	if len(sources) > 0 {
		p, _ := json.Marshal(map[string][]string{"source": sources})
		pattern = string(p)
	}
	tap, err := provision.CreateTap(ctx, c, s.EventBusName, s.EventBusName+"-test-tap-"+hex.EncodeToString(b[:]), pattern)
	if err != nil {
		t.Fatalf("CreateTap() err = %v, want nil", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := provision.DeleteTap(ctx, c, s.EventBusName, tap); err != nil {
			t.Errorf("DeleteTap() err = %v", err)
		}
	})
	return &BusTap{sqs: c.SQS, url: tap.QueueURL}
}

// Events returns every event the tap received since it was created,
// after collecting for wait.
func (b *BusTap) Events(t testing.TB, wait time.Duration) []BusEvent {
	t.Helper()
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		b.receive(t, min(time.Until(deadline), time.Second))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]BusEvent(nil), b.events...)
}

// Wait returns the first event (since the tap was created) that match
// accepts, waiting up to timeout for it to arrive; the test fails without
// one.
func (b *BusTap) Wait(t testing.TB, timeout time.Duration, match func(BusEvent) bool) BusEvent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for seen := 0; ; {
		b.mu.Lock()
		evs := append([]BusEvent(nil), b.events[seen:]...)
		seen = len(b.events)
		b.mu.Unlock()
		for _, e := range evs {
			if match(e) {
				return e
			}
		}
		if !time.Now().Before(deadline) {
			t.Fatalf("no matching event on the bus within %s (%d received)", timeout, seen)
		}
		b.receive(t, min(time.Until(deadline), time.Second))
	}
}

// receive takes what the tap's queue holds, waiting up to wait for it.
func (b *BusTap) receive(t testing.TB, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait+10*time.Second)
	defer cancel()
	secs := int32(max(wait, 0) / time.Second) // whole seconds only
	out, err := b.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.url), MaxNumberOfMessages: 10,
		WaitTimeSeconds: secs})
	if err != nil {
		t.Fatalf("ReceiveMessage(tap) err = %v, want nil", err)
	}
	if len(out.Messages) == 0 {
		if secs == 0 {
			time.Sleep(min(max(wait, 0), 200*time.Millisecond))
		}
		return
	}
	var del []sqstypes.DeleteMessageBatchRequestEntry
	b.mu.Lock()
	for i, m := range out.Messages {
		var e BusEvent
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
			b.mu.Unlock()
			t.Fatalf("tap message is not an EventBridge event: %v", err)
		}
		b.events = append(b.events, e)
		del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(string(rune('a' + i))), ReceiptHandle: m.ReceiptHandle})
	}
	b.mu.Unlock()
	if _, err := b.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(b.url), Entries: del}); err != nil {
		t.Fatalf("DeleteMessageBatch(tap) err = %v, want nil", err)
	}
}
