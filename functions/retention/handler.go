package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/summary"
)

// Handler runs the scheduled jobs. It is built once per cold start and
// holds no request data.
type Handler struct {
	Store    sweepStore
	Policy   retention.Policy
	Audit    auditor
	Digester digester
	Metrics  *metrics.Recorder
	Log      *slog.Logger
	// Cursor names the sweep's progress record; Lookback is how far back a
	// first sweep starts (older expiries are left to DynamoDB's TTL).
	Cursor   string
	Lookback time.Duration
	// Now is the clock (default time.Now). A run ends its work when Now
	// is within the reserve of the invocation's deadline.
	Now func() time.Time
	// MetricsOut receives the EMF lines (default os.Stdout).
	MetricsOut io.Writer
}

// expiryIndex is the data table's expiry index as the sweep reads, deletes
// and re-expires it, one page at a time.
type expiryIndex interface {
	SweepBucket(ctx context.Context, bucket string, now time.Time, page store.PageKey) (map[retention.Class]int, store.PageKey, error)
	ReexpireBucket(ctx context.Context, bucket string, class retention.Class, days int, now time.Time, page store.PageKey) (store.Reexpired, store.PageKey, error)
	OldestInBucket(ctx context.Context, bucket string) (map[retention.Class]time.Time, error)
}

// sweepCursor keeps the first expiry day the sweep has not emptied.
type sweepCursor interface {
	SweepCursor(ctx context.Context, name string) (string, error)
	SetSweepCursor(ctx context.Context, name, day string) error
}

// policyRecord keeps the policy the sweep last applied in full.
type policyRecord interface {
	SweepPolicy(ctx context.Context, name string) (map[retention.Class]int, error)
	SetSweepPolicy(ctx context.Context, name string, p retention.Policy) error
}

// policyProgress keeps how far applying a shortened policy has got.
type policyProgress interface {
	PolicyProgress(ctx context.Context, name string) (store.PolicyProgress, error)
	SetPolicyProgress(ctx context.Context, name string, p store.PolicyProgress) error
}

// sweepStore is what the handler needs of the data table.
type sweepStore interface {
	expiryIndex
	sweepCursor
	policyRecord
	policyProgress
}

// auditor appends to the audit trail.
type auditor interface {
	Append(ctx context.Context, ev audit.Event) (audit.Event, error)
}

// digester signs a day's audit digest and any missed before it.
type digester interface {
	Create(ctx context.Context, day string) ([]*audit.Digest, error)
}

var (
	_ sweepStore = (*store.Store)(nil)
	_ auditor    = (*audit.Writer)(nil)
	_ digester   = (*audit.Digester)(nil)
)

// errUnknownAction is returned for an event whose action is no job.
var errUnknownAction = errors.New("unknown action")

// reserve is the time kept before the invocation's deadline to record a
// run's outcome: its progress, metrics and audit event.
const reserve = 5 * time.Second

// Handle runs the event's job: [ActionSweep] or [ActionAuditDigest]. Any
// other action is an error (the summary names it "unknown", as it is not
// a value this function wrote).
func (h *Handler) Handle(ctx context.Context, ev Event) (any, error) {
	var out any
	var err error
	attrs := []any{"action", string(ev.Action)}
	switch ev.Action {
	case ActionSweep:
		out, err = h.sweep(ctx)
	case ActionAuditDigest:
		var res DigestResult
		res, err = h.digest(ctx)
		out, attrs = res, append(attrs, "digest_status", res.Status, "digested", len(res.Digested), "late_days", strings.Join(res.Late, ","))
	default:
		attrs, err = []any{"action", "unknown"}, errUnknownAction
	}
	h.done(ctx, err, attrs...)
	return out, err
}

func (h *Handler) done(ctx context.Context, err error, attrs ...any) {
	summary.Done(ctx, h.Log, h.Metrics, h.MetricsOut, err, attrs...)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// timeLeft reports whether a run may start another page: the invocation's
// deadline, by the handler's clock, is more than the reserve away.
func (h *Handler) timeLeft(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return (!ok || dl.Sub(h.now()) > reserve) && ctx.Err() == nil
}
