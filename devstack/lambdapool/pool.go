// Package lambdapool runs each function's bootstrap under the Lambda Runtime
// Interface Emulator (RIE), the way `sam local` does inside its containers,
// and hands each invocation to an idle instance.
//
// # Scaling model
//
// One RIE process serves one invocation at a time, as one Lambda execution
// environment does. A [Pool] keeps up to Size instances per function,
// started lazily, and gives each invocation to an idle one, so concurrent
// requests reach several instances the way Lambda scales out and bugs
// between instances (caches, hash chains, races on DynamoDB) reproduce
// locally. When every instance is busy the caller waits, as a throttled
// Lambda would queue behind reserved concurrency.
//
// # Non-goals
//
// It does not emulate cold-start limits, memory limits or the Lambda
// service API; it is a development tool and never deploys.
package lambdapool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/waguard/waguard/devstack/freeport"
)

// Function describes one function the pool can run.
type Function struct {
	// Name is the key callers invoke it by (the template's logical ID).
	Name string
	// FunctionName is the deployed name, passed as AWS_LAMBDA_FUNCTION_NAME.
	FunctionName string
	// Bootstrap is the path of the host-arch bootstrap binary.
	Bootstrap string
	// Env is the function's environment, resolved from the template.
	Env map[string]string
	// TimeoutSeconds and MemoryMB are passed to the RIE.
	TimeoutSeconds, MemoryMB int
}

// Options configures a Pool.
type Options struct {
	// RIE is the path of the aws-lambda-rie binary.
	RIE string
	// Size is the most instances per function (default 4).
	Size int
	// BaseEnv is added to every instance's environment (credentials,
	// region, AWS_ENDPOINT_URL_* variables).
	BaseEnv map[string]string
	// Logs receives every instance's output; each line is prefixed with
	// the function and instance number, "[SendFunction#3] ", which no
	// other process of the function ever gets (a replaced instance gets
	// the next number).
	Logs io.Writer
}

// FunctionError is returned when the function itself failed (it returned an
// error or panicked); Payload is the runtime's error document.
type FunctionError struct {
	Payload []byte
}

func (e *FunctionError) Error() string { return "function error" }

// Pool is a set of RIE instances per function. It is safe for concurrent use.
type Pool struct {
	opts  Options
	mu    sync.Mutex
	funcs map[string]*slots
}

type slots struct {
	fn   Function
	idle chan *instance
	all  []*instance
	sem  chan struct{}
	// started counts the instances ever started: the next one is
	// started+1 in its log prefix, so no two processes share a prefix.
	started int
}

type instance struct {
	cmd  *exec.Cmd
	addr string
}

// New returns a pool for the given functions; no process starts until the
// first invocation of a function.
func New(opts Options, fns []Function) *Pool {
	if opts.Size <= 0 {
		opts.Size = 4
	}
	if opts.Logs == nil {
		opts.Logs = io.Discard
	}
	p := &Pool{opts: opts, funcs: map[string]*slots{}}
	for _, f := range fns {
		p.funcs[f.Name] = &slots{fn: f, idle: make(chan *instance, opts.Size), sem: make(chan struct{}, opts.Size)}
	}
	return p
}

// Invoke runs the function once with payload and returns its response. It
// returns *FunctionError when the function failed.
func (p *Pool) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	s, ok := p.funcs[name]
	if !ok {
		return nil, fmt.Errorf("invoke: unknown function %q", name)
	}
	inst, err := p.acquire(ctx, s)
	if err != nil {
		return nil, err
	}
	out, err := invoke(ctx, inst.addr, payload, s.fn.TimeoutSeconds)
	if refusedConnection(err) {
		// Nothing reached the instance: its emulator is not listening (it
		// died, or lost its port to another process between the probe and
		// its bind). Start another and send the payload there, once.
		p.discard(s, inst)
		if inst, err = p.acquire(ctx, s); err != nil {
			return nil, err
		}
		out, err = invoke(ctx, inst.addr, payload, s.fn.TimeoutSeconds)
	}
	if err != nil && !IsFunctionError(err) {
		// Cut short or crashed: the RIE may still be running the
		// invocation, and overlapping invocations crash it, so never
		// hand this instance out again.
		p.discard(s, inst)
		return nil, err
	}
	s.idle <- inst
	return out, err
}

// refusedConnection reports whether err is a connection that failed
// while it was being opened (refused, or reset during the handshake: a
// loaded machine's full accept queue answers a SYN with a reset) or while
// the request was being written (reset, or a broken pipe: the queue
// dropped a connection the client already thought open). Either way the
// emulator never received the whole request, and it reads the whole body
// before it invokes the function, so sending it again cannot run the
// function twice. A failure while reading the answer proves nothing.
func refusedConnection(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) {
		return false
	}
	switch op.Op {
	case "dial":
		return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
	case "write":
		return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	}
	return false
}

// discard stops inst and frees its slot.
func (p *Pool) discard(s *slots, inst *instance) {
	p.mu.Lock()
	n := len(s.all)
	s.all = slices.DeleteFunc(s.all, func(i *instance) bool { return i == inst })
	owned := len(s.all) < n // not already stopped by Close
	p.mu.Unlock()
	if owned {
		_ = inst.cmd.Process.Kill()
		_ = inst.cmd.Wait()
	}
	<-s.sem
}

func (p *Pool) acquire(ctx context.Context, s *slots) (*instance, error) {
	select {
	case inst := <-s.idle:
		return inst, nil
	default:
	}
	select {
	case inst := <-s.idle:
		return inst, nil
	case s.sem <- struct{}{}:
		inst, err := p.start(s)
		if err != nil {
			<-s.sem
			return nil, err
		}
		return inst, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for an idle instance: %w", ctx.Err())
	}
}

func (p *Pool) start(s *slots) (*instance, error) {
	// Each instance needs two ports: the invoke endpoint and the Runtime
	// API its bootstrap polls (RIE defaults the latter to 9001 for all).
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.fn.Name, err)
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.fn.Name, err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(p.opts.RIE, "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort), s.fn.Bootstrap)
	cmd.Env = p.environment(s.fn)
	p.mu.Lock()
	s.started++
	n := s.started
	p.mu.Unlock()
	w := &prefixWriter{prefix: fmt.Sprintf("[%s#%d] ", s.fn.Name, n), w: p.opts.Logs}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.fn.Name, err)
	}
	inst := &instance{cmd: cmd, addr: addr}
	p.mu.Lock()
	s.all = append(s.all, inst)
	p.mu.Unlock()
	if err := waitListening(addr, 10*time.Second); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.fn.Name, err)
	}
	return inst, nil
}

func (p *Pool) environment(f Function) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	add := func(k, v string) { env = append(env, k+"="+v) }
	for k, v := range p.opts.BaseEnv {
		add(k, v)
	}
	for k, v := range f.Env {
		add(k, v)
	}
	add("AWS_LAMBDA_FUNCTION_NAME", f.FunctionName)
	add("AWS_LAMBDA_FUNCTION_TIMEOUT", strconv.Itoa(f.TimeoutSeconds))
	add("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", strconv.Itoa(f.MemoryMB))
	return env
}

// Instances reports how many instances of a function are running.
func (p *Pool) Instances(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.funcs[name]; ok {
		return len(s.all)
	}
	return 0
}

// Close stops every instance.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.funcs {
		for _, inst := range s.all {
			_ = inst.cmd.Process.Kill()
			_ = inst.cmd.Wait()
		}
		s.all = nil
	}
}

// invokeClient opens a connection per invocation: a kept-alive connection
// to an emulator that died meanwhile fails with an EOF that cannot tell
// whether the request arrived, where a new one is refused before anything
// is sent (refusedConnection). Loopback connects cost microseconds.
var invokeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func invoke(ctx context.Context, addr string, payload []byte, timeoutSeconds int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(timeoutSeconds+5)*time.Second)
	defer cancel()
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	resp, err := invokeClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &FunctionError{Payload: body}
	}
	if isErrorDocument(body) || timedOut.Match(bytes.TrimSpace(body)) {
		return nil, &FunctionError{Payload: body}
	}
	return body, nil
}

// timedOut is the plain-text body the Runtime Interface Emulator answers,
// with status 200, for an invocation that ran past its timeout; Lambda
// reports it as a function error (API Gateway answers 500).
var timedOut = regexp.MustCompile(`^Task timed out after [0-9.]+ seconds$`)

// isErrorDocument reports whether a 200 response is the runtime's error
// document ({"errorMessage":…,"errorType":…}) rather than a result.
func isErrorDocument(body []byte) bool {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return false
	}
	_, msg := doc["errorMessage"]
	_, typ := doc["errorType"]
	return msg && typ && len(doc) <= 3
}

// IsFunctionError reports whether err is a function (not transport) error.
func IsFunctionError(err error) bool {
	var fe *FunctionError
	return errors.As(err, &fe)
}

func freePort() (int, error) { return freeport.Get() }

func waitListening(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("rie at %s did not listen within %s", addr, limit)
}
