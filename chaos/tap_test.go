package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/waguard/waguard/devstack/stacktest"
)

// busTap reads the stack's shared tap queue (every event on the bus, by
// waguard-dev's catch-all rule; nothing else reads it on a chaos stack)
// directly from moto, and counts the events by id, with how long after
// its change each was first seen (to within a drain's interval). It keeps
// every message as read, for the plaintext scan: moto keeps the bus in
// memory, so the scan of the stack's files cannot see it ([busTap.save]).
type busTap struct {
	sqs     *sqs.Client
	url     string
	byID    map[string]int
	contact map[string]string
	lag     map[string]time.Duration
	raw     []byte
}

// drain takes every message the queue holds now.
func (b *busTap) drain(ctx context.Context) error {
	for {
		out, err := b.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.url), MaxNumberOfMessages: 10})
		if err != nil {
			return fmt.Errorf("read the bus tap: %w", err)
		}
		if len(out.Messages) == 0 {
			return nil
		}
		var del []sqstypes.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			var ev stacktest.BusEvent
			var detail struct {
				ID   string    `json:"id"`
				Time time.Time `json:"time"`
				Data struct {
					ContactID string `json:"contact_id"`
				} `json:"data"`
			}
			if json.Unmarshal([]byte(aws.ToString(m.Body)), &ev) != nil || json.Unmarshal(ev.Detail, &detail) != nil {
				return fmt.Errorf("a bus tap message is not an EventBridge event of waguard's")
			}
			if b.byID[detail.ID]++; b.byID[detail.ID] == 1 {
				b.lag[detail.ID] = time.Since(detail.Time)
			}
			b.contact[detail.ID] = detail.Data.ContactID
			b.raw = append(append(b.raw, aws.ToString(m.Body)...), '\n')
			del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if _, err := b.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(b.url), Entries: del}); err != nil {
			return fmt.Errorf("delete from the bus tap: %w", err)
		}
	}
}

// save drains the queue and writes every event the bus carried during
// the scenario to path (under the scenario's folder, which the plaintext
// scan reads).
// It returns how many events that is.
func (b *busTap) save(ctx context.Context, path string) (int, error) {
	if err := b.drain(ctx); err != nil {
		return 0, err
	}
	n := 0
	for _, c := range b.byID {
		n += c
	}
	return n, os.WriteFile(path, b.raw, 0o600)
}

func (b *busTap) counts() map[string]int      { return maps.Clone(b.byID) }
func (b *busTap) contacts() map[string]string { return maps.Clone(b.contact) }
func (b *busTap) lags() map[string]time.Duration {
	return maps.Clone(b.lag)
}
