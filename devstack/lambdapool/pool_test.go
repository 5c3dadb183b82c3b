package lambdapool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/waguard/waguard/devstack/stacktest"
)

// fakeRIE is the path of testdata/fakerie, built once by TestMain.
var fakeRIE string

func TestMain(m *testing.M) {
	stacktest.RestrictToLoopback()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "lambdapool-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, "MkdirTemp:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	fakeRIE = filepath.Join(dir, "fakerie")
	out, err := exec.Command("go", "build", "-o", fakeRIE, "./testdata/fakerie").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build ./testdata/fakerie: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// syncBuffer is a bytes.Buffer safe for the pool's log goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const testFn = "EchoFunction"

func newTestPool(t *testing.T, opts Options) *Pool {
	t.Helper()
	if opts.RIE == "" {
		opts.RIE = fakeRIE
	}
	p := New(opts, []Function{{
		Name: testFn, FunctionName: "waguard-test-echo", Bootstrap: "/nonexistent/bootstrap",
		Env: map[string]string{"FN_VAR": "from-function"}, TimeoutSeconds: 3, MemoryMB: 128,
	}})
	t.Cleanup(p.Close)
	return p
}

type echo struct {
	PID int    `json:"pid"`
	Env string `json:"env"`
}

// tryEcho invokes the fake RIE and decodes its answer; safe off the test
// goroutine.
func tryEcho(p *Pool, payload string) (echo, error) {
	var e echo
	out, err := p.Invoke(context.Background(), testFn, []byte(payload))
	if err != nil {
		return e, fmt.Errorf("Invoke(%s): %w", payload, err)
	}
	if err := json.Unmarshal(out, &e); err != nil {
		return e, fmt.Errorf("json.Unmarshal(%s): %w", out, err)
	}
	return e, nil
}

func invokeEcho(t *testing.T, p *Pool, payload string) echo {
	t.Helper()
	e, err := tryEcho(p, payload)
	if err != nil {
		t.Fatalf("%v, want nil error", err)
	}
	return e
}

func TestInvokeReusesIdleInstance(t *testing.T) {
	p := newTestPool(t, Options{Size: 4})
	if n := p.Instances(testFn); n != 0 {
		t.Fatalf("Instances before first invoke = %d, want 0", n)
	}
	first := invokeEcho(t, p, `{}`)
	for range 3 {
		if e := invokeEcho(t, p, `{}`); e.PID != first.PID {
			t.Errorf("sequential Invoke ran in pid %d, want reused pid %d", e.PID, first.PID)
		}
	}
	if n := p.Instances(testFn); n != 1 {
		t.Errorf("Instances after sequential invokes = %d, want 1", n)
	}
}

func TestConcurrentInvocationsCapAtSize(t *testing.T) {
	const size, calls = 2, 6
	p := newTestPool(t, Options{Size: size})
	var wg sync.WaitGroup
	pids := make(chan int, calls)
	errs := make(chan error, calls)
	for range calls {
		wg.Go(func() {
			e, err := tryEcho(p, `{"sleep_ms":150}`)
			if err != nil {
				errs <- err
				return
			}
			pids <- e.PID
		})
	}
	wg.Wait()
	close(pids)
	close(errs)
	for err := range errs {
		t.Errorf("concurrent %v, want nil error", err)
	}
	distinct := map[int]bool{}
	for pid := range pids {
		distinct[pid] = true
	}
	if len(distinct) != size {
		t.Errorf("%d concurrent invokes ran in %d processes, want %d", calls, len(distinct), size)
	}
	if n := p.Instances(testFn); n != size {
		t.Errorf("Instances = %d, want %d", n, size)
	}
}

func TestCloseStopsInstances(t *testing.T) {
	p := newTestPool(t, Options{Size: 2})
	var wg sync.WaitGroup
	var mu sync.Mutex
	pids := map[int]bool{}
	for range 2 {
		wg.Go(func() {
			e, err := tryEcho(p, `{"sleep_ms":100}`)
			if err != nil {
				t.Errorf("%v, want nil error", err)
				return
			}
			mu.Lock()
			pids[e.PID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	p.Close()
	if n := p.Instances(testFn); n != 0 {
		t.Errorf("Instances after Close = %d, want 0", n)
	}
	for pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("after Close, kill(%d, 0) err = %v, want ESRCH", pid, err)
		}
	}
}

func TestInstanceEnvironment(t *testing.T) {
	p := newTestPool(t, Options{BaseEnv: map[string]string{"BASE_VAR": "from-base"}})
	for _, tt := range []struct{ name, want string }{
		{"BASE_VAR", "from-base"},
		{"FN_VAR", "from-function"},
		{"AWS_LAMBDA_FUNCTION_NAME", "waguard-test-echo"},
		{"AWS_LAMBDA_FUNCTION_TIMEOUT", "3"},
		{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := invokeEcho(t, p, `{"env":"`+tt.name+`"}`).Env; got != tt.want {
				t.Errorf("instance env %s = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestInstanceLogsArePrefixed(t *testing.T) {
	logs := &syncBuffer{}
	p := newTestPool(t, Options{Logs: logs})
	pid := invokeEcho(t, p, `{}`).PID
	want := fmt.Sprintf("[%s#1] fakerie listening pid=%d\n[%s#1] partial line joined\n", testFn, pid, testFn)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), want) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := logs.String(); !strings.Contains(got, want) {
		t.Errorf("logs = %q, want to contain %q", got, want)
	}
}

// TestInstanceNamesAreUnique starts instances concurrently and checks that
// no two processes share a log prefix: readers of the log follow an
// invocation by its instance's prefix.
func TestInstanceNamesAreUnique(t *testing.T) {
	const size = 4
	logs := &syncBuffer{}
	p := newTestPool(t, Options{Size: size, Logs: logs})
	var wg sync.WaitGroup
	for range size {
		wg.Go(func() {
			if _, err := tryEcho(p, `{"sleep_ms":300}`); err != nil {
				t.Errorf("concurrent %v, want nil error", err)
			}
		})
	}
	wg.Wait()
	listening := regexp.MustCompile(`(?m)^(\[[^\]]+\]) fakerie listening pid=(\d+)$`)
	deadline := time.Now().Add(5 * time.Second)
	for len(listening.FindAllString(logs.String(), -1)) < size && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	pids := map[string]string{}
	for _, m := range listening.FindAllStringSubmatch(logs.String(), -1) {
		if pid, ok := pids[m[1]]; ok && pid != m[2] {
			t.Errorf("prefix %s names pids %s and %s, want one process per prefix", m[1], pid, m[2])
		}
		pids[m[1]] = m[2]
	}
	if len(pids) != size {
		t.Errorf("%d distinct prefixes, want %d:\n%s", len(pids), size, logs.String())
	}
}

func TestInvokeFunctionErrors(t *testing.T) {
	p := newTestPool(t, Options{})
	for _, tt := range []struct{ name, payload, wantPayload string }{
		{"error document", `{"fail":true}`, `{"errorMessage":"boom","errorType":"FakeError"}`},
		{"non-200 status", `{"status":502}`, `{"errorMessage":"status","errorType":"Rie"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := p.Invoke(context.Background(), testFn, []byte(tt.payload))
			var fe *FunctionError
			if !errors.As(err, &fe) || out != nil {
				t.Fatalf("Invoke(%s) = %q, %v; want nil, *FunctionError", tt.payload, out, err)
			}
			if string(fe.Payload) != tt.wantPayload {
				t.Errorf("FunctionError.Payload = %s, want %s", fe.Payload, tt.wantPayload)
			}
		})
	}
}

func TestInvokeUnknownFunction(t *testing.T) {
	p := newTestPool(t, Options{})
	_, err := p.Invoke(context.Background(), "NoSuchFunction", []byte(`{}`))
	if err == nil || IsFunctionError(err) || !strings.Contains(err.Error(), `"NoSuchFunction"`) {
		t.Errorf("Invoke(NoSuchFunction) err = %v, want a non-function error naming it", err)
	}
	if n := p.Instances("NoSuchFunction"); n != 0 {
		t.Errorf("Instances(NoSuchFunction) = %d, want 0", n)
	}
}

// TestStartFailureReleasesSlot checks that a failed start frees its slot:
// with Size 1, a second invoke must fail too rather than wait forever.
func TestStartFailureReleasesSlot(t *testing.T) {
	p := newTestPool(t, Options{Size: 1, RIE: filepath.Join(t.TempDir(), "missing-rie")})
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := p.Invoke(ctx, testFn, []byte(`{}`))
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) || IsFunctionError(err) {
			t.Errorf("Invoke #%d with a missing RIE err = %v, want a start error", i+1, err)
		}
	}
}

func TestInvokeWaitsForIdleInstance(t *testing.T) {
	p := newTestPool(t, Options{Size: 1})
	invokeEcho(t, p, `{}`) // start the only instance
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := tryEcho(p, `{"sleep_ms":300}`); err != nil {
			t.Errorf("%v, want nil error", err)
		}
	}()
	time.Sleep(50 * time.Millisecond) // let the slow invoke take the instance
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Invoke(ctx, testFn, []byte(`{}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Invoke while the only instance is busy err = %v, want context.DeadlineExceeded", err)
	}
	<-done
	if n := p.Instances(testFn); n != 1 {
		t.Errorf("Instances = %d, want 1", n)
	}
}

// TestCutShortInstanceIsNotReused checks that an instance whose invocation
// was abandoned (still busy) or that crashed is never handed out again:
// the real RIE crashes on an overlapping invocation.
func TestCutShortInstanceIsNotReused(t *testing.T) {
	for _, tt := range []struct{ name, payload string }{
		{"caller gave up", `{"sleep_ms":500}`},
		{"instance crashed", `{"exit":true}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPool(t, Options{Size: 1})
			first := invokeEcho(t, p, `{}`)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			_, err := p.Invoke(ctx, testFn, []byte(tt.payload))
			cancel()
			if err == nil || IsFunctionError(err) {
				t.Fatalf("Invoke(%s) err = %v, want a transport error", tt.payload, err)
			}
			next := invokeEcho(t, p, `{}`)
			if next.PID == first.PID {
				t.Errorf("Invoke after %s ran in the same pid %d, want a fresh instance", tt.name, next.PID)
			}
			if n := p.Instances(testFn); n != 1 {
				t.Errorf("Instances = %d, want 1", n)
			}
			if err := syscall.Kill(first.PID, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("kill(%d, 0) err = %v, want ESRCH for the discarded instance", first.PID, err)
			}
		})
	}
}

// TestInvokeReplacesARefusingInstance kills an idle instance's emulator,
// as a lost port or a crash would: the next invoke is refused before
// anything reached a function, so the pool starts another instance and
// the invoke succeeds there (make test once failed with "connection
// refused" from a fourth instance whose port another process had taken).
func TestInvokeReplacesARefusingInstance(t *testing.T) {
	p := newTestPool(t, Options{Size: 1})
	first := invokeEcho(t, p, `{}`)
	s := p.funcs[testFn]
	p.mu.Lock()
	inst := s.all[0]
	p.mu.Unlock()
	_ = inst.cmd.Process.Kill()
	_ = inst.cmd.Wait()
	second, err := tryEcho(p, `{}`)
	if err != nil {
		t.Fatalf("invoke after the instance died: %v, want a new instance to answer", err)
	}
	if second.PID == first.PID {
		t.Errorf("the same pid %d answered, want a new instance", second.PID)
	}
}
