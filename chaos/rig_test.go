package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// ports are the loopback ports of one run, from WAGUARD_CHAOS_PORT
// (default 13300) upwards: the stack's five, then Toxiproxy's API, its
// three listeners and the throttler, then moto (EventBridge and SQS) and
// Toxiproxy's listener in front of it.
type ports struct {
	gateway, dynamodb, kms, secrets, sandbox   int
	toxiproxy, viaDynamoDB, viaKMS, viaSecrets int
	throttler                                  int
	moto, viaEventBridge                       int
}

func newPorts(base int) ports {
	return ports{base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7, base + 8, base + 9, base + 10, base + 11}
}

func (p ports) all() []int {
	return []int{p.gateway, p.dynamodb, p.kms, p.secrets, p.sandbox, p.toxiproxy, p.viaDynamoDB, p.viaKMS, p.viaSecrets, p.throttler,
		p.moto, p.viaEventBridge}
}

// stack are the ports of the stack itself, free again once it stopped.
func (p ports) stack() []int {
	return []int{p.gateway, p.dynamodb, p.kms, p.secrets, p.sandbox, p.moto}
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
func loop(port int) string { return "http://" + addr(port) }

// Toxiproxy proxy names: the functions reach each AWS emulator through one.
const (
	proxyDynamoDB    = "dynamodb"
	proxyKMS         = "kms"
	proxySecrets     = "secretsmanager"
	proxyEventBridge = "eventbridge"
)

// rig is what every scenario shares: the binaries built for this run,
// Toxiproxy with its four proxies, and the DynamoDB throttler. The chain
// is function → Toxiproxy → (throttler →) emulator; provisioning, the
// stream triggers and the checks reach the emulators directly.
type rig struct {
	repo, tools, work, build, dev string
	ports                         ports
	toxi                          *Toxiproxy
	throttle                      *Throttler
	toxiLog                       string
}

// newRig builds the functions and waguard-dev into a fresh folder, starts
// Toxiproxy and the throttler, and stops them when t ends.
func newRig(t *testing.T) *rig {
	repo, _ := filepath.Abs("..")
	r := &rig{repo: repo, tools: envOr("WAGUARD_CHAOS_TOOLS", filepath.Join(repo, ".local"))}
	base, err := strconv.Atoi(envOr("WAGUARD_CHAOS_PORT", "13300"))
	if err != nil {
		t.Fatalf("WAGUARD_CHAOS_PORT: %v", err)
	}
	r.ports = newPorts(base)
	toxiBin := envOr("WAGUARD_TOXIPROXY", filepath.Join(r.tools, "bin", "toxiproxy-server-"+ToxiproxyVersion))
	for _, p := range []string{toxiBin, filepath.Join(r.tools, "bin", "local-kms"), filepath.Join(r.tools, "bin", "aws-lambda-rie"), filepath.Join(r.tools, "npm")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s missing: run `make chaos` (it installs the pinned tools)", p)
		}
	}
	for _, p := range r.ports.all() {
		if inUse(p) {
			t.Fatalf("port %d is in use: stop what runs there or set WAGUARD_CHAOS_PORT", p)
		}
	}
	if r.work, err = os.MkdirTemp(os.Getenv("WAGUARD_CHAOS_DIR"), "waguard-chaos-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("WAGUARD_CHAOS_KEEP") != "" {
			t.Logf("kept data and logs in %s", r.work)
			return
		}
		_ = os.RemoveAll(r.work)
	})
	r.buildBinaries(t)
	r.startToxiproxy(t, toxiBin)
	r.startThrottler(t)
	return r
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func inUse(port int) bool {
	c, err := net.DialTimeout("tcp", addr(port), 100*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// buildBinaries builds every function's bootstrap (each folder of
// functions/ with a main.go: waguard-dev needs one per function of the
// template) exactly as `make build-local` does, and waguard-dev, into this
// run's folder, so another engineer's rebuild of .local cannot change them
// under the run.
func (r *rig) buildBinaries(t *testing.T) {
	start := time.Now()
	r.build, r.dev = filepath.Join(r.work, "build"), filepath.Join(r.work, "waguard-dev")
	fns, err := filepath.Glob(filepath.Join(r.repo, "functions", "*", "main.go"))
	if err != nil || len(fns) == 0 {
		t.Fatalf("no functions under %s: %v", filepath.Join(r.repo, "functions"), err)
	}
	for _, main := range fns {
		fn := filepath.Base(filepath.Dir(main))
		goBuild(t, r.repo, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH},
			"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(r.build, fn, "bootstrap"), "./functions/"+fn)
	}
	goBuild(t, r.repo, nil, "-o", r.dev, "./devstack/cmd/waguard-dev")
	t.Logf("built the functions and waguard-dev in %.1f s", time.Since(start).Seconds())
}

func goBuild(t *testing.T, dir string, env []string, args ...string) {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
}

func (r *rig) startToxiproxy(t *testing.T, bin string) {
	r.toxiLog = filepath.Join(r.work, "toxiproxy.log")
	f, err := os.Create(r.toxiLog)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", strconv.Itoa(r.ports.toxiproxy))
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start toxiproxy: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
	})
	r.toxi = &Toxiproxy{URL: loop(r.ports.toxiproxy)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	proxies := []Proxy{
		{Name: proxyDynamoDB, Listen: addr(r.ports.viaDynamoDB), Upstream: addr(r.ports.throttler), Enabled: true},
		{Name: proxyKMS, Listen: addr(r.ports.viaKMS), Upstream: addr(r.ports.kms), Enabled: true},
		{Name: proxySecrets, Listen: addr(r.ports.viaSecrets), Upstream: addr(r.ports.secrets), Enabled: true},
		{Name: proxyEventBridge, Listen: addr(r.ports.viaEventBridge), Upstream: addr(r.ports.moto), Enabled: true},
	}
	for _, p := range proxies {
		for {
			err := r.toxi.CreateProxy(ctx, p)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("toxiproxy did not come up: %v (see %s)", err, r.toxiLog)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func (r *rig) startThrottler(t *testing.T) {
	th, err := NewThrottler(loop(r.ports.dynamodb))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr(r.ports.throttler))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: th, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	r.throttle = th
}

// heal clears every fault: proxies enabled, no toxics, no throttling.
func (r *rig) heal(ctx context.Context) error {
	r.throttle.SetShare(0)
	return r.toxi.Reset(ctx)
}

// functionEndpoints are waguard-dev's -function-endpoint flags: the
// functions (only) reach the emulators through Toxiproxy.
func (r *rig) functionEndpoints() []string {
	return []string{
		"-function-endpoint", "DYNAMODB=" + loop(r.ports.viaDynamoDB),
		"-function-endpoint", "KMS=" + loop(r.ports.viaKMS),
		"-function-endpoint", "SECRETS_MANAGER=" + loop(r.ports.viaSecrets),
		"-function-endpoint", "EVENTBRIDGE=" + loop(r.ports.viaEventBridge),
	}
}

// waitFree waits until the stack's ports are free again after a stop.
func (r *rig) waitFree(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, p := range r.ports.stack() {
		for inUse(p) {
			if time.Now().After(deadline) {
				return fmt.Errorf("port %d still in use", p)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

var errStackExited = errors.New("waguard-dev exited")
