package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// streamReader is what the poller calls of DynamoDB Streams.
type streamReader interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// queueSender is what the poller calls of SQS, for the on-failure
// destination.
type queueSender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// invoker runs a function by its logical ID; a failure of the function
// itself is a *lambdapool.FunctionError (*lambdapool.Pool is one).
type invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// Options are what a [Poller] reads from, invokes and writes to.
type Options struct {
	// Streams reads the stream; Lambda reads it with the function's role,
	// so waguard-dev gives this client the function's access key.
	Streams streamReader
	// Queue sends invocation records to the on-failure destination (with
	// the function's role too), at the URL QueueURLs gives for its ARN.
	Queue     queueSender
	QueueURLs map[string]string
	// Invoker runs the function.
	Invoker invoker
	// Region fills the records' awsRegion.
	Region string
	// Log receives a line per failed invocation and discarded batch
	// (never a record's content); nil discards them.
	Log *slog.Logger
	// PollInterval is the wait after a read that found nothing (default
	// 200 ms), DiscoverInterval between looks for new shards (default
	// 1 s).
	PollInterval, DiscoverInterval time.Duration
	// RetryDelay is the wait before retry attempt n (1, 2, …) of a
	// batch (default 100 ms doubling up to 1 s).
	RetryDelay func(n int) time.Duration
	// Now is the clock of the invocation records (default time.Now).
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.DiscoverInterval <= 0 {
		o.DiscoverInterval = time.Second
	}
	if o.RetryDelay == nil {
		o.RetryDelay = func(n int) time.Duration {
			return min(100*time.Millisecond<<min(n-1, 10), time.Second)
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Poller runs one [Mapping]: a goroutine per shard being read, parents
// before children, and one that looks for new shards.
type Poller struct {
	m   Mapping
	o   Options
	log *slog.Logger

	mu     sync.Mutex
	shards map[string]*shard
	ended  chan string
	wg     sync.WaitGroup
	done   chan struct{}
}

// shardState is where a shard is in the mapping's reading.
type shardState int

const (
	shardUnknown shardState = iota
	// shardWaiting: not read yet (its parent is still being read).
	shardWaiting
	// shardReading: a goroutine reads it.
	shardReading
	// shardEnded: read to its end (or skipped, for a closed shard at a
	// LATEST start).
	shardEnded
)

type shard struct {
	id, parent string
	state      shardState
}

// Start begins running m. It returns once the mapping holds its starting
// position in every shard it can read now, so every change made after
// Start returns reaches the function. The poller runs until ctx ends;
// [Poller.Done] tells when it has stopped.
func Start(ctx context.Context, m Mapping, o Options) (*Poller, error) {
	o.defaults()
	if m.OnFailure != "" && o.QueueURLs[m.OnFailure] == "" {
		return nil, fmt.Errorf("%s: no queue URL for the on-failure destination %s", m.Function, m.OnFailure)
	}
	p := &Poller{m: m, o: o, shards: map[string]*shard{}, ended: make(chan string, 16), done: make(chan struct{}),
		log: o.Log.With("component", "streams", "function", m.Function, "event", m.Event)}
	found, err := p.describe(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range found {
		st := shardWaiting
		if m.StartingPosition == "LATEST" && s.closed {
			st = shardEnded // LATEST starts past everything a closed shard holds
		}
		p.shards[s.id] = &shard{id: s.id, parent: s.parent, state: st}
	}
	if err := p.startReady(ctx, m.StartingPosition); err != nil {
		p.wg.Wait()
		return nil, err
	}
	go p.run(ctx)
	return p, nil
}

// Mapping is the mapping the poller runs.
func (p *Poller) Mapping() Mapping { return p.m }

// Done is closed when the poller has stopped.
func (p *Poller) Done() <-chan struct{} { return p.done }

func (p *Poller) run(ctx context.Context) {
	defer close(p.done)
	defer p.wg.Wait()
	t := time.NewTicker(p.o.DiscoverInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-p.ended:
			p.setState(id, shardEnded)
		case <-t.C:
			found, err := p.describe(ctx)
			if err != nil {
				if ctx.Err() == nil {
					p.log.Warn("describe stream failed", "err", err)
				}
				continue
			}
			p.mu.Lock()
			for _, s := range found {
				if p.shards[s.id] == nil {
					p.shards[s.id] = &shard{id: s.id, parent: s.parent, state: shardWaiting}
				}
			}
			p.mu.Unlock()
		}
		// Shards that appear after the start are read from their start,
		// as Lambda reads a split's children.
		if err := p.startReady(ctx, string(types.ShardIteratorTypeTrimHorizon)); err != nil && ctx.Err() == nil {
			p.log.Warn("start shard failed", "err", err)
		}
	}
}

func (p *Poller) setState(id string, st shardState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.shards[id]; s != nil {
		s.state = st
	}
}

// startReady starts reading every waiting shard whose parent is read to
// its end or unknown (trimmed from the stream), taking its first
// iterator of type from before returning.
func (p *Poller) startReady(ctx context.Context, from string) error {
	p.mu.Lock()
	ready := readyShards(p.shards)
	p.mu.Unlock()
	for _, s := range ready {
		iter, err := p.iterator(ctx, s.id, from, "")
		if err != nil {
			return err
		}
		p.setState(s.id, shardReading)
		p.wg.Add(1)
		go p.read(ctx, s.id, from, iter)
	}
	return nil
}

// readyShards lists, sorted by ID, the waiting shards that may be read
// now: those whose parent was read to its end, or is not in the stream
// any more (trimmed after 24 hours), so a child's records never reach the
// function before its parent's.
func readyShards(shards map[string]*shard) []*shard {
	var out []*shard
	for _, s := range shards {
		if s.state != shardWaiting {
			continue
		}
		if parent := shards[s.parent]; parent == nil || parent.state == shardEnded {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *shard) int { return strings.Compare(a.id, b.id) })
	return out
}

// foundShard is a shard as DescribeStream lists it.
type foundShard struct {
	id, parent string
	closed     bool
}

// describe lists every shard of the stream, following pagination.
func (p *Poller) describe(ctx context.Context) ([]foundShard, error) {
	var out []foundShard
	var start *string
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		d, err := p.o.Streams.DescribeStream(cctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.m.StreamARN), ExclusiveStartShardId: start})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("describe stream: %w", err)
		}
		for _, s := range d.StreamDescription.Shards {
			closed := s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil
			out = append(out, foundShard{id: aws.ToString(s.ShardId), parent: aws.ToString(s.ParentShardId), closed: closed})
		}
		if start = d.StreamDescription.LastEvaluatedShardId; start == nil {
			return out, nil
		}
	}
}

// iterator gets a shard iterator: after the checkpoint when there is one,
// else of type from (LATEST or TRIM_HORIZON).
func (p *Poller) iterator(ctx context.Context, shardID, from, checkpoint string) (string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(p.m.StreamARN), ShardId: aws.String(shardID),
		ShardIteratorType: types.ShardIteratorType(from)}
	if checkpoint != "" {
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(checkpoint)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := p.o.Streams.GetShardIterator(cctx, in)
	if err != nil {
		return "", fmt.Errorf("shard iterator %s: %w", shardID, err)
	}
	return aws.ToString(out.ShardIterator), nil
}

// read reads one shard to its end, invoking the function with each batch
// and checkpointing after it, until ctx ends.
func (p *Poller) read(ctx context.Context, shardID, from, iter string) {
	defer p.wg.Done()
	checkpoint := ""
	for ctx.Err() == nil {
		if iter == "" {
			var err error
			if iter, err = p.iterator(ctx, shardID, from, checkpoint); err != nil {
				p.pause(ctx, "shard iterator failed", err)
				continue
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := p.o.Streams.GetRecords(cctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String(iter),
			Limit: aws.Int32(int32(min(p.m.BatchSize, maxGetRecords)))})
		cancel()
		var expired *types.ExpiredIteratorException
		var trimmed *types.TrimmedDataAccessException
		var gone *types.ResourceNotFoundException
		switch {
		case errors.As(err, &expired):
			iter = ""
			continue
		case errors.As(err, &trimmed):
			iter, checkpoint, from = "", "", string(types.ShardIteratorTypeTrimHorizon)
			continue
		case errors.As(err, &gone):
			p.end(ctx, shardID)
			return
		case err != nil:
			p.pause(ctx, "get records failed", err)
			continue
		}
		if recs := p.records(out.Records); len(recs) > 0 {
			p.process(ctx, shardID, recs)
			checkpoint = recs[len(recs)-1].seq
		} else if out.NextShardIterator != nil {
			sleep(ctx, p.o.PollInterval)
		}
		if out.NextShardIterator == nil {
			p.end(ctx, shardID)
			return
		}
		iter = aws.ToString(out.NextShardIterator)
	}
}

// maxGetRecords is the most records one GetRecords returns.
const maxGetRecords = 1000

// end tells the coordinator that a shard is read to its end.
func (p *Poller) end(ctx context.Context, shardID string) {
	select {
	case p.ended <- shardID:
	case <-ctx.Done():
	}
}

// records converts a read's records, skipping (and logging) any without
// a sequence number, which no checkpoint could pass.
func (p *Poller) records(in []types.Record) []record {
	out := make([]record, 0, len(in))
	for _, r := range in {
		rec, err := toRecord(r, p.m.StreamARN, p.o.Region)
		if err != nil {
			p.log.Error("stream record skipped", "err", err)
			continue
		}
		out = append(out, rec)
	}
	return out
}

// pause logs a failed read and waits before the next attempt.
func (p *Poller) pause(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil {
		return
	}
	p.log.Warn(msg, "err", err)
	sleep(ctx, time.Second)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
