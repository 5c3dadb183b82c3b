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
	// dynamoDBProxyURL is where the proxy to DynamoDB Local listens.
	dynamoDBProxyURL string
	// logPath is the functions' log (REPORT lines); "" when unknown.
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	servers []*http.Server
	tmpDir  string
}

// ports are the stack's ports and the proxies'.
type ports struct{ gateway, dynamoDB, kms, secrets, sandbox, proxyDynamoDB, proxyKMS, proxySecrets int }

// pickPorts numbers them from base, or takes free ones when base is 0.
func pickPorts(base int) (ports, error) {
	if base > 0 {
		return ports{base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7}, nil
	}
	var ps [8]int
	for i := range ps { // below the ephemeral range, none twice (devstack/freeport)
		p, err := freeport.Get()
		if err != nil {
			return ports{}, err
		}
		ps[i] = p
	}
	return ports{ps[0], ps[1], ps[2], ps[3], ps[4], ps[5], ps[6], ps[7]}, nil
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
	proxy := func(listen, target int, dynamoDB bool) (*awscount.Proxy, string, error) {
		u, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(target))
		kind := awscount.KindCalls
		if dynamoDB {
			kind = awscount.KindDynamoDB
		}
		px := awscount.New(u, kind, nil)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(listen))
		if err != nil {
			return nil, "", fmt.Errorf("proxy: %w", err)
		}
		srv := &http.Server{Handler: px, ReadHeaderTimeout: 10 * time.Second}
		s.servers = append(s.servers, srv)
		go func() { _ = srv.Serve(l) }()
		return px, "http://" + l.Addr().String(), nil
	}
	var kmsURL, smURL string
	if s.dynamoDB, s.dynamoDBProxyURL, err = proxy(p.proxyDynamoDB, p.dynamoDB, true); err == nil {
		if s.kms, kmsURL, err = proxy(p.proxyKMS, p.kms, false); err == nil {
			s.secrets, smURL, err = proxy(p.proxySecrets, p.secrets, false)
		}
	}
	if err != nil {
		s.close()
		return nil, err
	}
	args := []string{"-quiet", "-env-file", filepath.Join(tmp, "stack.env"),
		"-gateway-port", strconv.Itoa(p.gateway), "-dynamodb-port", strconv.Itoa(p.dynamoDB),
		"-kms-port", strconv.Itoa(p.kms), "-secrets-port", strconv.Itoa(p.secrets), "-sandbox-port", strconv.Itoa(p.sandbox),
		"-moto-port", "0", // moto (EventBridge, SQS) on any free port
		"-function-endpoint", "DYNAMODB=" + s.dynamoDBProxyURL, "-function-endpoint", "KMS=" + kmsURL,
		"-function-endpoint", "SECRETS_MANAGER=" + smURL, "-pool", strconv.Itoa(c.pool),
		// The IAM proxy would add a hop per DynamoDB request, which the
		// ceiling (four requests per message) pays more than the webhook
		// (one): measure DynamoDB Local as it is.
		"-enforce-iam=false"}
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
	tree, err := proccpu.Tree(root, func(st proccpu.Stat, _ string) string {
		switch {
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
