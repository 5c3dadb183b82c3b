package main

import (
	"context"
	"sync"
	"time"
)

// maxRepairs bounds the confirmations an instance keeps; the oldest is
// dropped first (its key then replays "outcome unknown").
const maxRepairs = 64

// repairBudget bounds the time an invocation spends on repairs before
// serving its own request.
const repairBudget = time.Second

// repairs holds the confirmations of messages that went out while
// DynamoDB failed: each is retried at the start of this instance's later
// invocations until it commits. They hold ciphertext, keyed hashes and
// pseudonyms only. The zero value is ready; it is safe for concurrent use.
type repairs struct {
	mu      sync.Mutex
	pending []func(context.Context) error
}

// add queues commit.
func (q *repairs) add(commit func(context.Context) error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == maxRepairs {
		q.pending = q.pending[1:]
	}
	q.pending = append(q.pending, commit)
}

// run retries the queued commits in order within [repairBudget], stopping
// at the first failure (DynamoDB is still failing). It reports how many
// committed and how many are left.
func (q *repairs) run(ctx context.Context) (done, left int) {
	q.mu.Lock()
	queued := q.pending
	q.pending = nil
	q.mu.Unlock()
	if len(queued) == 0 {
		return 0, 0
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), repairBudget)
	defer cancel()
	for _, commit := range queued {
		if commit(ctx) != nil {
			break
		}
		done++
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(queued[done:], q.pending...)
	if len(q.pending) > maxRepairs {
		q.pending = q.pending[len(q.pending)-maxRepairs:]
	}
	return done, len(q.pending)
}
