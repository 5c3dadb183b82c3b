// Package streams runs the template's DynamoDB stream triggers on the
// local stack, the way Lambda's event source mappings do on AWS: it polls
// DynamoDB Local's stream of the table, builds the event Lambda would
// send ([events.DynamoDBEvent] JSON) and invokes the function through the
// Runtime Interface Emulator pool (devstack/lambdapool), with the
// mapping's batching, retry and failure rules.
//
// # What is emulated
//
// [Mappings] reads every function event of Type DynamoDB from the
// resolved template; [Start] runs one. Per mapping:
//
//   - Shards: every shard of the stream is read by its own goroutine,
//     a child only after its parent was read to its end (or is gone from
//     the stream); new shards are looked for every second and read from
//     their start. StartingPosition LATEST takes the open shards' tips
//     when the mapping starts (closed shards are skipped), TRIM_HORIZON
//     their starts. After a batch, reading continues from the read's
//     next iterator; an expired iterator is replaced AFTER_SEQUENCE_NUMBER
//     of the checkpoint.
//   - Batching: up to BatchSize records (at most 1,000, one GetRecords)
//     per invocation, as soon as a read returns any (no batching
//     window). A shard with nothing new is read again after 200 ms, so a
//     change reaches the function within about half a second.
//   - The event: each record's eventID, eventName, eventVersion,
//     eventSource "aws:dynamodb", awsRegion, dynamodb{ApproximateCreationDateTime
//     (whole seconds), Keys, NewImage, OldImage, SequenceNumber, SizeBytes,
//     StreamViewType}, eventSourceARN (the stream), and userIdentity for
//     a TTL deletion.
//   - ReportBatchItemFailures: a response naming failed records
//     checkpoints before the lowest of them and retries from it; an empty
//     or null list (or response) is success; an item without an
//     itemIdentifier, one naming no record of the batch, or a response
//     that is not JSON fails the whole batch. A function error fails the
//     whole batch.
//   - MaximumRetryAttempts: a batch (or its rest after a partial failure)
//     is retried until it has failed MaximumRetryAttempts+1 times, then
//     discarded; -1 retries for ever. Retries wait 100 ms, doubling up to
//     1 s.
//   - BisectBatchOnFunctionError: a function error on a batch of two or
//     more records splits it in two halves, invoked in order; splitting
//     counts no retry (a batch of one is retried). A partial failure
//     response is not bisected: it retries from the failed record.
//   - OnFailure (an SQS queue): a discarded batch's invocation record
//     ([InvocationRecord]: requestContext, responseContext, version,
//     timestamp, DDBStreamBatchInfo) is sent to the queue, then the shard
//     moves past the batch.
//
// Lambda reads the stream and writes to the destination with the
// function's execution role; waguard-dev gives the poller the function's
// access key, so devstack/iamguard enforces and records those calls
// (dynamodb:DescribeStream, GetShardIterator, GetRecords on the stream;
// sqs:SendMessage on the destination) as it does the function's own.
//
// # Differences from AWS
//
//   - The checkpoint lives in memory: a restarted stack starts at its
//     StartingPosition again, and records written but not yet processed
//     when it stopped are not delivered (AWS resumes from its checkpoint).
//   - awsRegion is the stack's region (DynamoDB Local reports
//     "ddblocal"), eventSourceARN DynamoDB Local's stream ARN (account
//     000000000000, region ddblocal), which is also what the template's
//     GetAtt Table.StreamArn resolves to locally. ApproximateCreationDateTime
//     is DynamoDB Local's, rounded down to the minute.
//   - The invocation record's requestId is a fresh UUID, not the last
//     invocation's (the emulator does not tell it); approximateInvokeCount
//     counts the failed invocations of the discarded batch since its last
//     split. The only condition is RetryAttemptsExhausted.
//   - Not emulated, and refused at start rather than ignored: filters,
//     batching and tumbling windows, MaximumRecordAgeInSeconds (records
//     never expire locally: -1 is the only value), ParallelizationFactor
//     above 1, SNS or S3 destinations. BatchSize above 1,000 gives batches
//     of at most 1,000 records. The 6 MB invocation payload limit is not
//     enforced.
//   - An invocation that never reached the function (no emulator could
//     start) is retried every second without counting, as Lambda retries
//     a throttled invocation (until the records expire, which they never
//     do locally); a destination that refuses the record
//     is retried until it accepts it, holding the shard (Lambda's
//     behaviour there is not documented).
package streams
