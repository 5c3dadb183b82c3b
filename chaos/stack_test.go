package chaos

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/secrets"
)

// stack is one private local stack, started for one scenario with
// -persist under its own -local-dir, so that what the emulators write is
// on disk for the plaintext scan.
type stack struct {
	dir  string            // the scenario's folder; -local-dir is dir/local
	env  map[string]string // the stack's env file
	cmd  *exec.Cmd
	done chan struct{}
	// Direct clients (not through Toxiproxy), for setup and checks.
	cfg  aws.Config
	ddb  *dynamodb.Client
	kms  *kms.Client
	core *coldstart.Core
	st   stacktest.Stack
	key  string // the ops client's API key (all scopes)
	// appSecret is Meta's app secret, to sign webhooks as Meta does.
	appSecret string
	// tap counts what reaches the event bus.
	tap *busTap
}

// startStack starts waguard-dev for scenario name and waits until it has
// written its env file; t's cleanup stops it if the scenario did not. On
// a loaded machine DynamoDB Local's JVM can miss waguard-dev's two-minute
// start limit: one failed start is retried from scratch.
func (r *rig) startStack(t *testing.T, name string) *stack {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, err := r.tryStack(t, name, attempt)
		if err == nil {
			s.connect(t)
			return s
		}
		s.stop(t, r)
		if attempt == 2 {
			t.Fatal(err)
		}
		t.Logf("%v; starting again", err)
	}
}

func (r *rig) tryStack(t *testing.T, name string, attempt int) (*stack, error) {
	s := &stack{dir: filepath.Join(r.work, name, strconv.Itoa(attempt)), done: make(chan struct{})}
	local := filepath.Join(s.dir, "local")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"bin": filepath.Join(r.tools, "bin"), "npm": filepath.Join(r.tools, "npm"), "build": r.build} {
		if err := os.Symlink(target, filepath.Join(local, link)); err != nil {
			t.Fatal(err)
		}
	}
	envFile := filepath.Join(s.dir, "stack.env")
	p := r.ports
	args := append([]string{"-quiet", "-persist", "-local-dir", local, "-env-file", envFile,
		"-gateway-port", strconv.Itoa(p.gateway), "-dynamodb-port", strconv.Itoa(p.dynamodb), "-kms-port", strconv.Itoa(p.kms),
		"-secrets-port", strconv.Itoa(p.secrets), "-sandbox-port", strconv.Itoa(p.sandbox),
		"-moto-port", strconv.Itoa(p.moto)}, r.functionEndpoints()...)
	out, err := os.Create(filepath.Join(s.dir, "waguard-dev.out"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(r.dev, args...)
	s.cmd.Dir, s.cmd.Stdout, s.cmd.Stderr = r.repo, out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start waguard-dev: %v", err)
	}
	go func() { _ = s.cmd.Wait(); out.Close(); close(s.done) }()
	t.Cleanup(func() { s.stop(t, r) })
	start := time.Now()
	for {
		if b, err := os.ReadFile(envFile); err == nil && len(b) > 0 {
			s.env = parseEnv(string(b))
			t.Logf("stack up in %.1f s", time.Since(start).Seconds())
			return s, nil
		}
		select {
		case <-s.done:
			return s, fmt.Errorf("%w before it was up; see %s", errStackExited, out.Name())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(start) > 3*time.Minute {
			return s, fmt.Errorf("the stack did not come up within 3 minutes; see %s", out.Name())
		}
	}
}

// parseEnv reads waguard-dev's env file: lines `export K="V"` (Go-quoted).
func parseEnv(doc string) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(doc))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			env[k] = u
		}
	}
	return env
}

// connect builds the direct clients, reads the ops API key, and builds the
// same core a function builds (keys, envelope, store, audit), which the
// harness uses to set up consent without warming any function.
func (s *stack) connect(t *testing.T) {
	for k, v := range s.env {
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.cfg, s.ddb, s.kms = cfg, dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg)
	sm := secretsmanager.NewFromConfig(cfg)
	f, err := secrets.NewStore(sm, time.Minute).Get(ctx, "waguard/dev/clients/ops", secrets.StageCurrent)
	if err != nil {
		t.Fatalf("read the ops client secret: %v", err)
	}
	s.key = string(apiauth.PresentedKey("ops", f.Get("key")).Reveal())
	meta, err := secrets.NewStore(sm, time.Minute).Get(ctx, s.env["WAGUARD_META_WEBHOOK_SECRET_ID"], secrets.StageCurrent)
	if err != nil {
		t.Fatalf("read the Meta webhook secret: %v", err)
	}
	s.appSecret = string(meta.Get("secret").Reveal())
	getenv := func(k string) string {
		if v, ok := s.env["WAGUARD_"+k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	s.core, err = coldstart.Build(ctx, coldstart.Clients{DynamoDB: s.ddb, KMS: s.kms, SecretsManager: sm}, getenv, "chaos")
	if err != nil {
		t.Fatalf("build the harness core: %v", err)
	}
	s.tap = &busTap{sqs: sqs.NewFromConfig(cfg), url: s.env["WAGUARD_EVENT_BUS_TAP_QUEUE_URL"], byID: map[string]int{}, contact: map[string]string{},
		lag: map[string]time.Duration{}}
	if s.tap.url == "" {
		t.Fatal("the stack has no bus tap queue (WAGUARD_EVENT_BUS_TAP_QUEUE_URL)")
	}
	s.st = stacktest.Stack{GatewayURL: s.env["WAGUARD_GATEWAY_URL"], SandboxURL: s.env["WAGUARD_SANDBOX_URL"],
		DataTable: s.env["WAGUARD_DATA_TABLE"], KeysTable: s.env["WAGUARD_KEYS_TABLE"], AuditTable: s.env["WAGUARD_AUDIT_TABLE"],
		KMSKeyID: s.env["WAGUARD_KMS_KEY_ID"], AuditSigningKeyID: s.env["WAGUARD_AUDIT_SIGNING_KEY_ID"]}
}

// stop interrupts waguard-dev (which stops every process it started) and
// waits for it and for its ports; it is safe to call twice.
func (s *stack) stop(t *testing.T, r *rig) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	if err := r.waitFree(20 * time.Second); err != nil {
		t.Errorf("after stopping the stack: %v", err)
	}
}

// local is the stack's -local-dir.
func (s *stack) local() string { return filepath.Join(s.dir, "local") }
