package streams

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/waguard/waguard/devstack/lambdapool"
)

// process delivers the records of one read to the function by the
// mapping's rules ([decide]) until each is finished or discarded, or ctx
// ends.
func (p *Poller) process(ctx context.Context, shardID string, recs []record) {
	queue := []batch{{records: recs}}
	for len(queue) > 0 && ctx.Err() == nil {
		b := queue[0]
		out := p.invoke(ctx, b)
		if ctx.Err() != nil {
			return
		}
		d := decide(p.m, b, out)
		if d.discard != nil {
			p.discard(ctx, shardID, *d.discard, out)
		}
		queue = append(d.next, queue[1:]...)
		switch {
		case out.kind == outcomeNotInvoked:
			sleep(ctx, time.Second)
		case d.retry:
			sleep(ctx, p.o.RetryDelay(d.next[0].attempts))
		}
	}
}

// invoke runs the function with a batch and classifies the result.
func (p *Poller) invoke(ctx context.Context, b batch) outcome {
	resp, err := p.o.Invoker.Invoke(ctx, p.m.Function, payload(b.records))
	switch {
	case err == nil:
		return outcome{kind: outcomeOK, response: resp}
	case lambdapool.IsFunctionError(err):
		p.log.Info("function error on a stream batch", "records", len(b.records), "first_sequence", b.records[0].seq,
			"attempts", b.attempts+1)
		return outcome{kind: outcomeFunctionError}
	case ctx.Err() == nil:
		p.log.Warn("stream batch not invoked", "records", len(b.records), "err", err)
	}
	return outcome{kind: outcomeNotInvoked}
}

// discard gives up on a batch: its invocation record goes to the
// on-failure destination (retried until it is accepted or ctx ends, so
// no batch is skipped without its record), then the shard moves on.
func (p *Poller) discard(ctx context.Context, shardID string, b batch, out outcome) {
	rec := invocationRecord(p.m, shardID, b, out, p.o.Now())
	p.log.Warn("stream batch discarded after its retries", "records", len(b.records),
		"first_sequence", rec.BatchInfo.StartSequenceNumber, "last_sequence", rec.BatchInfo.EndSequenceNumber,
		"attempts", b.attempts, "destination", p.m.OnFailure)
	if p.m.OnFailure == "" {
		return
	}
	body, err := rec.body()
	if err != nil {
		p.log.Error("invocation record not sent", "err", err)
		return
	}
	url := p.o.QueueURLs[p.m.OnFailure]
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := p.o.Queue.SendMessage(cctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
		cancel()
		if err == nil {
			return
		}
		p.pause(ctx, "on-failure destination refused the invocation record", err)
	}
}
