package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waguard/waguard/devstack/stacktest"
)

func TestMain(m *testing.M) {
	stacktest.RestrictToLoopback()
	os.Exit(m.Run())
}

// metaDeadline is how long Meta waits for a webhook's 200 before it
// counts the delivery as failed and redelivers it.
const metaDeadline = 5 * time.Second

// budget bounds the whole run; each scenario starts its own stack.
const budget = 12 * time.Minute

// TestChaos runs every scenario against private local stacks with
// Toxiproxy between the functions and the emulators, and checks, per
// fault: the documented answer, no plaintext on disk, no message sent
// twice, no change without its audit event, and recovery once the fault
// clears. It writes the results table to WAGUARD_CHAOS_REPORT when set.
// It runs only under `make chaos` (WAGUARD_CHAOS=1): it takes minutes.
func TestChaos(t *testing.T) {
	if os.Getenv("WAGUARD_CHAOS") == "" {
		t.Skip("fault injection suite: run `make chaos`")
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	r := newRig(t)
	nums := &numbers{}
	var rows []*row
	for _, sc := range scenarios {
		if ctx.Err() != nil {
			t.Errorf("the %s budget ran out before scenario %s (a loaded machine?)", budget, sc.name)
			break
		}
		t.Run(sc.name, func(t *testing.T) { r.runScenario(ctx, t, sc, nums, &rows) })
	}
	table := markdown(rows, time.Since(start))
	t.Logf("results:\n%s", table)
	if path := os.Getenv("WAGUARD_CHAOS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
			t.Errorf("write report: %v", err)
		}
	}
}

// runScenario runs sc's phases on a fresh stack, then verifies the audit
// chains, stops the stack and scans everything it wrote for plaintext. It
// appends a row per phase to out as it goes, so a scenario that stops
// early still reports what it measured.
func (r *rig) runScenario(ctx context.Context, t *testing.T, sc scenario, nums *numbers, out *[]*row) {
	s := r.startStack(t, sc.name)
	c := newAPI(s)
	var rows []*row
	var runs []*run
	for i, p := range sc.phases {
		if p.cold && i > 0 {
			t.Fatalf("%s: a cold phase must come first", p.name)
		}
		if !p.cold {
			// The warm-up serves each function once (retrying what a
			// loaded machine's slow cold start failed), so that the
			// fault meets warm instances with warm caches.
			w := newRun(t, s, c, nums)
			w.runOps(ctx, allOps)
			if _, warmed := w.recover(ctx, allOps, time.Now()); !warmed {
				t.Fatalf("warm-up before %q failed: %v", p.name, w.trace)
			}
			runs = append(runs, w)
			if p.idle > 0 {
				t.Logf("%s: idle %s so that the functions' caches expire", p.name, p.idle)
				select {
				case <-time.After(p.idle):
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				}
			}
		}
		x := newRun(t, s, c, nums)
		row := &row{name: p.name, documented: true, chains: "not verified", plaintext: "not scanned"}
		rows, *out = append(rows, row), append(*out, row)
		r.runPhase(ctx, t, s, p, x, row)
		runs = append(runs, x)
	}
	chains, err := verifyChains(ctx, s)
	if err != nil {
		t.Errorf("audit chain verification: %v", err)
		chains = "chains **broken**"
	}
	if err := writeCanary(ctx, s); err != nil {
		t.Fatalf("write canary: %v", err)
	}
	if n, err := s.tap.save(ctx, filepath.Join(s.dir, "bus-events.jsonl")); err != nil {
		t.Errorf("keep the bus's events for the scan: %v", err)
	} else {
		t.Logf("%s: the plaintext scan reads the %d events the bus carried", sc.name, n)
	}
	s.stop(t, r)
	plain := r.scanPlaintext(t, s, runs)
	checkLogs(t, s)
	for _, row := range rows {
		row.chains, row.plaintext = chains, plain
	}
}

// runPhase applies one fault to run x and measures the five outcomes
// into row.
func (r *rig) runPhase(ctx context.Context, t *testing.T, s *stack, p phase, x *run, row *row) {
	t.Helper()
	r.underFault(ctx, t, p, x, row)
	if p.events != nil {
		r.eventsUnderFault(ctx, t, p, x, row)
	}
	r.recovery(ctx, t, p, x, row)
	if p.events != nil {
		r.eventsRecovery(ctx, t, p, x, row)
		checkEvents(ctx, t, p, x, row)
	}
	checkEffects(ctx, t, s, p, x, row)
}

// underFault injects the fault, runs the workload and checks each answer
// is a documented one.
func (r *rig) underFault(ctx context.Context, t *testing.T, p phase, x *run, row *row) {
	if err := p.inject(ctx, r, x); err != nil {
		t.Fatalf("%s: inject: %v", p.name, err)
	}
	if p.inFlight != nil {
		x.inFlight(ctx, r, p)
	} else {
		x.runOps(ctx, p.workload())
	}
	if calls, throttled := r.throttle.Counts(); throttled > 0 {
		row.notes = append(row.notes, fmt.Sprintf("%d of %d DynamoDB calls from the functions answered ProvisionedThroughputExceededException", throttled, calls))
	}
	for _, op := range p.workload() {
		a := x.during[op]
		row.answer(op, a)
		if !matches(a, x.doneDuring[op], p.wants(op)) {
			row.documented = false
			t.Errorf("%s: %s answered %s during the fault, want one of %v; body %q", p.name, op, a, p.wants(op), a.Raw)
		}
	}
	if a := x.during[opWebhook]; a.Latency > metaDeadline {
		row.notes = append(row.notes, fmt.Sprintf("the webhook answered after %s, over Meta's %v: Meta redelivers", seconds(a.Latency), metaDeadline))
	}
}

// recovery clears every fault and retries what failed until it succeeds.
func (r *rig) recovery(ctx context.Context, t *testing.T, p phase, x *run, row *row) {
	ops := p.workload()
	x.cleared = time.Now()
	if err := r.heal(ctx); err != nil {
		t.Fatalf("heal: %v", err)
	}
	for _, faults := range []string{"/_sandbox/faults", "/_sandbox/endpoint/faults"} {
		if err := x.c.sandboxDo(ctx, "DELETE", faults, nil, nil); err != nil {
			t.Fatalf("clear sandbox faults: %v", err)
		}
	}
	took, recovered := x.recover(ctx, ops, x.cleared)
	switch {
	case !recovered:
		row.recovery = "**not within " + seconds(recoveryLimit) + "**"
		t.Errorf("%s: not recovered %s after the fault cleared", p.name, seconds(took))
	case !slices.ContainsFunc(ops, func(op opKind) bool { return !x.doneDuring[op] }):
		row.recovery = "nothing failed"
	default:
		row.recovery = seconds(took)
	}
	for _, op := range ops {
		if tr := x.trace[op]; len(tr) > 0 {
			row.notes = append(row.notes, fmt.Sprintf("%s while recovering: %s", op, strings.Join(tr, ", ")))
		}
	}
	if x.keys > 1 {
		row.notes = append(row.notes, fmt.Sprintf("the send needed %d Idempotency-Keys (a 502 is replayed for its key)", x.keys))
	}
	if slices.Contains(ops, opErasure) {
		// What the API left open, the 15-minute schedule finishes.
		if err := x.c.resumeErasures(ctx); err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
	}
}

// checkEffects counts duplicate sends and stored duplicates, and changes
// without their audit event.
func checkEffects(ctx context.Context, t *testing.T, s *stack, p phase, x *run, row *row) {
	ops := p.workload()
	dups, broken := x.duplicates(ctx, ops)
	for _, b := range broken {
		t.Errorf("%s: %s", p.name, b)
		row.notes = append(row.notes, b)
	}
	missing, storedDups, why, err := auditGaps(ctx, s, x, ops)
	if err != nil {
		t.Fatalf("%s: audit check: %v", p.name, err)
	}
	row.dups, row.missing = dups+storedDups, missing
	row.notes = append(row.notes, why...)
	if row.dups > 0 {
		t.Errorf("%s: %d duplicate sends or stored messages", p.name, row.dups)
	}
	if missing > 0 {
		t.Errorf("%s: %d changes without an audit event: %s", p.name, missing, strings.Join(why, "; "))
	}
}

// matches reports whether a is one of the documented answers want.
func matches(a answer, good bool, want []string) bool {
	for _, w := range want {
		if (w == ok && good) || (w != ok && a.String() == w) {
			return true
		}
	}
	return false
}

// inFlight runs the send in the background and injects the phase's
// in-flight fault while it is at the provider.
func (x *run) inFlight(ctx context.Context, r *rig, p phase) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		x.runOps(ctx, []opKind{opSend})
	}()
	if err := p.inFlight(ctx, r, x); err != nil {
		x.during[opSend] = answer{Err: err}
	}
	<-done
}

// scanPlaintext scans what the stopped stack left on disk (DynamoDB
// Local's files, local-kms and Secrets Manager state, every log, every
// event the bus carried: bus-events.jsonl) and
// Toxiproxy's log for the runs' numbers, texts and wamids. The canary
// must be found, or the scan is blind.
func (r *rig) scanPlaintext(t *testing.T, s *stack, runs []*run) string {
	needles := []Needle{NewNeedle("canary", canaryNumber, strings.TrimPrefix(canaryNumber, "+"))}
	for _, x := range runs {
		needles = append(needles, x.needles()...)
	}
	hits, err := Scan(needles, s.dir, r.toxiLog)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	found, bad := false, 0
	for _, h := range hits {
		if h.Label == "canary" {
			found = found || strings.Contains(h.Path, string(os.PathSeparator)+"dynamodb"+string(os.PathSeparator))
			continue
		}
		bad++
		t.Errorf("plaintext %s in %s", h.Label, h.Path)
	}
	if !found {
		t.Errorf("the canary written in clear was not found under %s: the scan cannot see DynamoDB Local's files", s.dir)
		return "**scan blind**"
	}
	if bad > 0 {
		return fmt.Sprintf("**%d hits**", bad)
	}
	return "none"
}

// checkLogs reads the functions' lines in the stopped stack's log: under
// every fault, a line written inside an invocation (a warning halfway
// through, the summary line) must carry that invocation's requestId, and
// no id may be cut by the redactor ([stacktest.LogProblems]).
func checkLogs(t *testing.T, s *stack) {
	path := s.env["WAGUARD_STACK_LOG"]
	f, err := os.Open(path)
	if err != nil {
		t.Errorf("the stack log (WAGUARD_STACK_LOG %q): %v", path, err)
		return
	}
	defer f.Close()
	lines, err := stacktest.FunctionLines(f)
	if err != nil {
		t.Errorf("read %s: %v", path, err)
	}
	for _, p := range stacktest.LogProblems(lines) {
		t.Errorf("log: %s", p)
	}
	if len(lines) == 0 {
		t.Errorf("no function lines in %s: the log check is blind", path)
	}
}
