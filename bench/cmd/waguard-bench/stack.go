package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/waguard/waguard/bench/awscount"
	"github.com/waguard/waguard/bench/proccpu"
	"github.com/waguard/waguard/devstack/freeport"
)

// stack is the local stack under test, with the counting proxies the
// functions reach DynamoDB, KMS and Secrets Manager through.
type stack struct {
	env map[string]string
	// dynamoDB, kms and secrets are nil on an attached stack (no counts).
	dynamoDB, kms, secrets *awscount.Proxy
	// events are the events function's own proxies, so that what it does
	// for a message is counted apart from the webhook's calls; nil on an
	// attached stack.
	events *eventProxies
	// hold holds the events function's stream trigger (nil on an
	// attached stack).
	hold *streamHold
	// dynamoDBProxyURL is where the proxy to DynamoDB Local listens.
	dynamoDBProxyURL string
	// logPath is the functions' log (REPORT lines); "" when unknown.
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	servers []*http.Server
	tmpDir  string
}

// ports are the stack's ports and the proxies': the functions' three,
// and the events function's five (DynamoDB, KMS, Secrets Manager,
// EventBridge, and its stream trigger's DynamoDB Streams).
type ports struct {
	gateway, dynamoDB, kms, secrets, sandbox, moto      int
	proxyDynamoDB, proxyKMS, proxySecrets               int
	eventsDynamoDB, eventsKMS, eventsSecrets, eventsBus int
	eventsStreams                                       int
}

// portCount is how many ports a stack and its proxies take.
const portCount = 14

// pickPorts numbers them from base, or takes free ones when base is 0.
func pickPorts(base int) (ports, error) {
	var ps [portCount]int
	for i := range ps {
		if base > 0 {
			ps[i] = base + i
			continue
		}
		p, err := freeport.Get() // below the ephemeral range, none twice (devstack/freeport)
		if err != nil {
			return ports{}, err
		}
		ps[i] = p
	}
	return ports{gateway: ps[0], dynamoDB: ps[1], kms: ps[2], secrets: ps[3], sandbox: ps[4], moto: ps[5],
		proxyDynamoDB: ps[6], proxyKMS: ps[7], proxySecrets: ps[8], eventsDynamoDB: ps[9], eventsKMS: ps[10],
		eventsSecrets: ps[11], eventsBus: ps[12], eventsStreams: ps[13]}, nil
}

// startStack runs waguard-dev on loopback ports with the three counting
// proxies in front of its emulators (for the functions only).
func startStack(ctx context.Context, c config) (*stack, error) {
	p, err := pickPorts(c.basePort)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "waguard-bench-")
	if err != nil {
		return nil, err
	}
	s := &stack{tmpDir: tmp}
	endpoints, err := s.proxies(p)
	if err != nil {
		s.close()
		return nil, err
	}
	args := []string{"-quiet", "-env-file", filepath.Join(tmp, "stack.env"),
		"-gateway-port", strconv.Itoa(p.gateway), "-dynamodb-port", strconv.Itoa(p.dynamoDB),
		"-kms-port", strconv.Itoa(p.kms), "-secrets-port", strconv.Itoa(p.secrets), "-sandbox-port", strconv.Itoa(p.sandbox),
		"-moto-port", strconv.Itoa(p.moto), "-pool", strconv.Itoa(c.pool),
		// The IAM proxy would add a hop per DynamoDB request, which the
		// ceiling (four requests per message) pays more than the webhook
		// (one): measure DynamoDB Local as it is.
		"-enforce-iam=false"}
	for _, e := range endpoints {
		args = append(args, "-function-endpoint", e)
	}
	if c.globalLimit > 0 {
		tpl, err := templateWithGlobalLimit(c.template, tmp, c.globalLimit)
		if err != nil {
			s.close()
			return nil, err
		}
		args = append(args, "-template", tpl)
	}
	if err := s.run(ctx, c.devBin, args); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// proxies starts the counting proxies on their ports and returns the
// waguard-dev -function-endpoint values that put them between the
// functions and the emulators: one set for every function, and the
// events function's own (its stream trigger's reads included).
func (s *stack) proxies(p ports) ([]string, error) {
	type spec struct {
		px            **awscount.Proxy
		listen, to    int
		kind          awscount.Kind
		function, svc string
	}
	ev := &eventProxies{}
	specs := []spec{
		{&s.dynamoDB, p.proxyDynamoDB, p.dynamoDB, awscount.KindDynamoDB, "", "DYNAMODB"},
		{&s.kms, p.proxyKMS, p.kms, awscount.KindCalls, "", "KMS"},
		{&s.secrets, p.proxySecrets, p.secrets, awscount.KindCalls, "", "SECRETS_MANAGER"},
		{&ev.dynamoDB, p.eventsDynamoDB, p.dynamoDB, awscount.KindDynamoDB, eventsFunction, "DYNAMODB"},
		{&ev.kms, p.eventsKMS, p.kms, awscount.KindCalls, eventsFunction, "KMS"},
		{&ev.secrets, p.eventsSecrets, p.secrets, awscount.KindCalls, eventsFunction, "SECRETS_MANAGER"},
		{&ev.bus, p.eventsBus, p.moto, awscount.KindEventBridge, eventsFunction, "EVENTBRIDGE"},
		{&ev.streams, p.eventsStreams, p.dynamoDB, awscount.KindStreams, eventsFunction, "DYNAMODB_STREAMS"},
	}
	var flags []string
	for _, sp := range specs {
		u, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(sp.to))
		*sp.px = awscount.New(u, sp.kind, nil)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(sp.listen))
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		var h http.Handler = *sp.px
		if sp.px == &ev.streams {
			s.hold = &streamHold{next: h}
			h = s.hold
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		s.servers = append(s.servers, srv)
		go func() { _ = srv.Serve(l) }()
		target := sp.svc
		if sp.function != "" {
			target = sp.function + ":" + sp.svc
		}
		flags = append(flags, target+"=http://"+l.Addr().String())
	}
	s.dynamoDBProxyURL = "http://127.0.0.1:" + strconv.Itoa(p.proxyDynamoDB)
	s.events = ev
	return flags, nil
}

// run starts waguard-dev and waits for its environment file.
func (s *stack) run(ctx context.Context, bin string, args []string) error {
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	// If this process dies, the stack stops (and stops its children).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w (build it with `make .local/bin/waguard-dev` or pass -dev-bin)", bin, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	logDir := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, dir, ok := strings.Cut(sc.Text(), "logs in "); ok && len(logDir) == 0 {
				logDir <- strings.TrimSpace(dir)
			}
		}
		_ = cmd.Wait()
		close(s.exited)
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(3 * time.Minute):
		return errors.New("local stack not up after 3 minutes")
	case <-s.exited:
		return fmt.Errorf("waguard-dev exited: %s", lastLine(stderr.String()))
	case dir := <-logDir:
		// waguard-dev prints its banner after writing the env file.
		s.logPath = filepath.Join(dir, "stack.log")
		env, err := readEnvFile(filepath.Join(s.tmpDir, "stack.env"))
		s.env = env
		return err
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// attachStack uses a running stack described by its environment file;
// its functions do not go through proxies, so nothing is counted.
func attachStack(envFile string) (*stack, error) {
	env, err := readEnvFile(envFile)
	if err != nil {
		return nil, err
	}
	return &stack{env: env}, nil
}

// readEnvFile reads the `export KEY="value"` lines waguard-dev writes.
func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseEnv(string(b))
}

func parseEnv(text string) (map[string]string, error) {
	env := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		kv, ok := strings.CutPrefix(strings.TrimSpace(line), "export ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("env file: malformed line")
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		env[k] = v
	}
	if env["WAGUARD_GATEWAY_URL"] == "" || env["AWS_ENDPOINT_URL_DYNAMODB"] == "" {
		return nil, errors.New("env file: no WAGUARD_GATEWAY_URL or AWS_ENDPOINT_URL_DYNAMODB")
	}
	return env, nil
}

var globalLimitDefault = regexp.MustCompile(`(?m)^(  RateLimitGlobalPerSecond:\n    Type: Number\n    Default: )\d+$`)

// templateWithGlobalLimit copies the SAM template into dir with the
// RateLimitGlobalPerSecond parameter's default set to limit (as a deploy
// would with --parameter-overrides).
func templateWithGlobalLimit(path, dir string, limit int) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if !globalLimitDefault.Match(b) {
		return "", errors.New("template: RateLimitGlobalPerSecond parameter not found")
	}
	out := globalLimitDefault.ReplaceAll(b, []byte("${1}"+strconv.Itoa(limit)))
	dst := filepath.Join(dir, "template.yaml")
	return dst, os.WriteFile(dst, out, 0o600)
}

// logOffset is the functions' log size now, to read only what follows.
func (s *stack) logOffset() int64 {
	if s.logPath == "" {
		return 0
	}
	fi, err := os.Stat(s.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince opens the functions' log from offset.
func (s *stack) logSince(off int64) (io.ReadCloser, error) {
	if s.logPath == "" {
		return nil, errors.New("no function log")
	}
	f, err := os.Open(s.logPath)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// CPU groups: the parts of the local stack whose CPU time is measured.
const (
	cpuHarness   = "harness: load, proxies"
	cpuDevStack  = "waguard-dev: gateway, Secrets Manager, sandbox"
	cpuDynamoDB  = "DynamoDB Local"
	cpuKMS       = "local-kms"
	cpuRIE       = "Lambda runtime emulator"
	cpuFunctions = "function code (bootstrap)"
	cpuEvents    = "events function (bootstrap + emulator)"
)

// cpu samples the CPU time of this process and of the stack's process
// tree by part; it is empty where /proc is unavailable.
func (s *stack) cpu() proccpu.Sample {
	out, err := proccpu.Self(cpuHarness)
	if err != nil {
		return proccpu.Sample{}
	}
	if s.cmd == nil || s.cmd.Process == nil {
		return out
	}
	root := s.cmd.Process.Pid
	tree, err := proccpu.Tree(root, func(st proccpu.Stat, cmdline string) string {
		switch {
		case (st.Comm == "bootstrap" || st.Comm == "aws-lambda-rie") && strings.Contains(cmdline, "/events/bootstrap"):
			return cpuEvents
		case st.PID == root:
			return cpuDevStack
		case st.Comm == "java":
			return cpuDynamoDB
		case st.Comm == "local-kms":
			return cpuKMS
		case st.Comm == "aws-lambda-rie":
			return cpuRIE
		case st.Comm == "bootstrap":
			return cpuFunctions
		}
		return ""
	})
	if err == nil {
		maps.Copy(out, tree)
	}
	return out
}

// counting reports whether the proxies count this stack's calls.
func (s *stack) counting() bool { return s.dynamoDB != nil }

// close stops waguard-dev (it stops its emulators) and the proxies.
func (s *stack) close() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
		}
	}
	for _, srv := range s.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
	}
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir)
	}
}
