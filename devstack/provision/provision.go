// Package provision creates, on the local emulators, the resources that
// template.yaml declares: DynamoDB tables (keys, GSIs, streams, TTL), KMS
// keys and aliases, EventBridge buses and SQS queues, Secrets Manager
// secrets with freshly generated values, and their rotation
// configuration. Everything is read from the template, so local and
// deployed never drift. [CreateTap] adds the local-only catch-all rule
// that lets tests and developers read back what reaches a bus.
//
// Provisioning is idempotent: resources that already exist (a persistent
// `make dev` data folder) are reused, never overwritten.
//
// # Local differences
//
// DynamoDB Local does not support point-in-time recovery, so PITR is left
// to the template (and asserted by the template test). Secret fields whose
// generated template value is the placeholder "set-me" (values an operator
// sets after deploy, such as Meta's verify token) get random local values,
// as an operator's put-secret-value would. The buses and queues live in
// moto's server, which keeps nothing between runs: they are created anew
// at each start, empty, even with a persistent data folder.
package provision

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/waguard/waguard/internal/samtemplate"
)

// Clients are the SDK clients provisioning uses, pointed at the emulators.
// EventBridge and SQS may be nil for a template without buses and queues.
type Clients struct {
	DynamoDB       *dynamodb.Client
	KMS            *kms.Client
	SecretsManager *secretsmanager.Client
	EventBridge    *eventbridge.Client
	SQS            *sqs.Client
}

// Options says where the template is and what the pseudo parameters are.
type Options struct {
	TemplatePath      string
	Params            map[string]string
	AccountID, Region string
}

// Result is what provisioning created, as a resolver for the template:
// Refs and Attrs hold the physical IDs of every resource.
type Result struct {
	Resolver samtemplate.Resolver
}

// Run provisions every resource and returns the resolver that maps the
// template's logical IDs to what was created.
func Run(ctx context.Context, c Clients, opts Options) (*Result, error) {
	r := samtemplate.Resolver{
		Params: opts.Params, Refs: map[string]string{}, Attrs: map[string]string{},
		AccountID: opts.AccountID, Region: opts.Region, Partition: "aws",
	}
	steps := []struct {
		name string
		run  func(context.Context, Clients, *samtemplate.Template, *samtemplate.Resolver) error
	}{
		{"functions", functionARNs},
		{"kms", provisionKeys},
		{"tables", provisionTables},
		{"buses", provisionBuses},
		{"queues", provisionQueues},
		{"secrets", provisionSecrets},
	}
	for _, s := range steps {
		tpl, err := samtemplate.Load(opts.TemplatePath, r)
		if err != nil {
			return nil, fmt.Errorf("provision %s: %w", s.name, err)
		}
		if err := s.run(ctx, c, tpl, &r); err != nil {
			return nil, fmt.Errorf("provision %s: %w", s.name, err)
		}
	}
	return &Result{Resolver: r}, nil
}

// ConfigureRotation applies the template's rotation schedules. Call it
// once the functions run: like AWS, enabling rotation without rotating
// immediately still invokes the rotation function's testSecret step.
func ConfigureRotation(ctx context.Context, c Clients, opts Options, r samtemplate.Resolver) error {
	tpl, err := samtemplate.Load(opts.TemplatePath, r)
	if err != nil {
		return fmt.Errorf("provision rotation: %w", err)
	}
	if err := provisionRotation(ctx, c, tpl, &r); err != nil {
		return fmt.Errorf("provision rotation: %w", err)
	}
	return nil
}

// functionARNs records the ARN every function will have, so Fn::GetAtt
// Function.Arn (rotation schedules, permissions) resolves.
func functionARNs(_ context.Context, _ Clients, tpl *samtemplate.Template, r *samtemplate.Resolver) error {
	for _, f := range tpl.Functions() {
		arn := FunctionARN(r.Region, r.AccountID, f.Name)
		r.Refs[f.LogicalID] = f.Name
		r.Attrs[f.LogicalID+".Arn"] = arn
	}
	api := tpl.ResourceIDs("AWS::Serverless::HttpApi")
	for _, id := range api {
		r.Refs[id] = "local"
	}
	return nil
}

// FunctionARN is the ARN a function of that name has in the local stack.
func FunctionARN(region, account, name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, name)
}
