package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/waguard/waguard/devstack/iamguard"
	"github.com/waguard/waguard/devstack/provision"
	"github.com/waguard/waguard/devstack/streams"
)

// startStreams runs the template's DynamoDB stream triggers
// (devstack/streams) against DynamoDB Local's streams, invoking the
// functions through the pool. Each mapping reads the stream and writes to
// its on-failure queue with its function's access key, as Lambda uses the
// execution role, so iamguard checks and records those calls. It returns
// once every mapping holds its starting position: a change made after the
// env file is written reaches its function. A function's
// -function-endpoint for DYNAMODB_STREAMS and SQS applies to its mappings
// too.
func (s *stack) startStreams(ctx context.Context, res *provision.Result) error {
	r := res.Resolver
	mappings, err := streams.Mappings(s.tpl, func(id string) string { return r.Attrs[id+".Arn"] })
	if err != nil {
		return err
	}
	queueURLs := map[string]string{}
	for _, id := range s.tpl.ResourceIDs("AWS::SQS::Queue") {
		queueURLs[r.Attrs[id+".Arn"]] = r.Attrs[id+".QueueUrl"]
	}
	sctx, cancel := context.WithCancel(ctx)
	s.stopStreams = cancel
	log := slog.New(slog.NewTextHandler(s.logs, nil))
	for _, m := range mappings {
		if !m.Enabled {
			log.Info("stream trigger disabled in the template", "component", "streams", "function", m.Function, "event", m.Event)
			continue
		}
		key := localAccessKey
		if s.roles != nil {
			key = iamguard.AccessKey(m.Function)
		}
		lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
		cfg, err := awsconfig.LoadDefaultConfig(lctx, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(key, "local", "")))
		lcancel()
		if err != nil {
			return fmt.Errorf("stream trigger %s: %w", m.Event, err)
		}
		// The mapping acts with the function's role, so it reaches the
		// stream and the queue where the function would (-function-endpoint).
		eps := s.c.FunctionEndpoints.forFunction(m.Function)
		rd := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { override(&o.BaseEndpoint, eps["DYNAMODB_STREAMS"]) })
		q := sqs.NewFromConfig(cfg, func(o *sqs.Options) { override(&o.BaseEndpoint, eps["SQS"]) })
		p, err := streams.Start(sctx, m, streams.Options{Streams: rd, Queue: q,
			QueueURLs: queueURLs, Invoker: s.pool, Region: region, Log: log})
		if err != nil {
			return fmt.Errorf("stream trigger %s of %s: %w", m.Event, m.Function, err)
		}
		s.streams = append(s.streams, p)
	}
	return nil
}

// override sets a client's endpoint to u, unless u is "" (the client
// keeps the one the environment gives it).
func override(endpoint **string, u string) {
	if u != "" {
		*endpoint = &u
	}
}
