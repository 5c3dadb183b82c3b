// Command waguard-dev runs waguard's whole local stack, the `sam local` of
// a machine without Docker or an AWS account: DynamoDB Local, local-kms,
// the Secrets Manager emulator, moto's server (EventBridge and SQS), the
// WhatsApp sandbox, every function's bootstrap under the Lambda Runtime
// Interface Emulator, a local API gateway serving the routes of
// template.yaml, and the template's DynamoDB stream triggers
// (devstack/streams).
//
// Usage:
//
//	waguard-dev [flags]
//
// It provisions the template's tables, keys, buses, queues and secrets
// (and a catch-all rule on each bus into a queue <bus>-events-tap), writes the
// environment a client or test needs to -env-file, prints the URLs, and
// runs until interrupted; then it stops every process it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	var c config
	flag.StringVar(&c.Template, "template", "template.yaml", "SAM template to serve")
	flag.StringVar(&c.Stage, "stage", "dev", "Stage parameter")
	flag.StringVar(&c.LocalDir, "local-dir", ".local", "folder for tools, builds and data")
	flag.BoolVar(&c.Persist, "persist", false, "keep DynamoDB, KMS and secrets data under -local-dir/data between runs")
	flag.IntVar(&c.GatewayPort, "gateway-port", 3000, "local API gateway port")
	flag.IntVar(&c.DynamoDBPort, "dynamodb-port", 8000, "DynamoDB Local port")
	flag.IntVar(&c.KMSPort, "kms-port", 8001, "local-kms port")
	flag.IntVar(&c.SecretsPort, "secrets-port", 8002, "Secrets Manager emulator port")
	flag.IntVar(&c.SandboxPort, "sandbox-port", 8003, "WhatsApp sandbox port")
	flag.IntVar(&c.MotoPort, "moto-port", 8004, "moto server port (EventBridge and SQS); 0 picks a free one")
	flag.StringVar(&c.MotoServer, "moto-server", "", "path of moto_server (default: -local-dir/bin/moto_server, else PATH)")
	flag.IntVar(&c.PoolSize, "pool", 4, "most RIE instances per function")
	flag.StringVar(&c.EnvFile, "env-file", "", "write the stack's environment (shell exports) here")
	flag.BoolVar(&c.EnforceIAM, "enforce-iam", true, "refuse a function's DynamoDB call that its role in the template does not allow, as AWS would (devstack/iamguard)")
	flag.BoolVar(&c.Quiet, "quiet", false, "send function and emulator logs only to stack.log in the run folder (not also to standard output)")
	c.FunctionEndpoints = endpointOverrides{}
	flag.Func("function-endpoint", "[FUNCTION:]SERVICE=URL: the functions (only; with FUNCTION, a logical ID, that function only) reach SERVICE (DYNAMODB, KMS, SECRETS_MANAGER, EVENTBRIDGE, SQS, DYNAMODB_STREAMS) at URL, e.g. through a fault proxy or a call counter; DYNAMODB_STREAMS and SQS also apply to the function's stream triggers; repeatable",
		c.FunctionEndpoints.set)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "waguard-dev:", err)
		os.Exit(1)
	}
}
