package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/metrics"
)

// DigestResult is what one audit digest run did.
type DigestResult struct {
	// Day is the day the run digests: yesterday, UTC ([audit.DigestDay]).
	Day string `json:"day"`
	// Status is "created", or "exists" if Day already had a digest.
	Status string `json:"status"`
	// Digested lists the days digested, oldest first: any missed since
	// the previous digest, then Day.
	Digested []string `json:"digested"`
	// Late lists the digests made after their day's grace period (missed
	// days): the verifier reports them and the audit digest alarm fires.
	Late []string `json:"late"`
}

// digest signs yesterday's audit digest, and first any day missed since
// the previous one, which the digester marks late. Every run reports
// AuditDigestsLate and AuditDigestFailures, so the alarm also sees a run
// that did not happen.
func (h *Handler) digest(ctx context.Context) (DigestResult, error) {
	res := DigestResult{Day: audit.DigestDay(h.now()), Status: "created",
		Digested: []string{}, Late: []string{}} // [] in the JSON, never null
	made, err := h.createDigests(ctx, res.Day)
	for _, d := range made {
		res.Digested = append(res.Digested, d.Day)
		if d.Late {
			res.Late = append(res.Late, d.Day)
		}
	}
	if errors.Is(err, audit.ErrDigestExists) {
		res.Status, err = "exists", nil
	}
	h.Metrics.Add(metrics.AuditDigestsLate, len(res.Late))
	if err != nil {
		h.Metrics.Add(metrics.AuditDigestFailures, 1)
		return res, fmt.Errorf("audit digest: %w", err)
	}
	h.Metrics.Add(metrics.AuditDigestFailures, 0)
	return res, nil
}

// createDigests runs the digester with the reserve before the
// invocation's deadline, so that a run that fails still reports
// AuditDigestFailures.
func (h *Handler) createDigests(ctx context.Context, day string) ([]*audit.Digest, error) {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-reserve))
		defer cancel()
	}
	return h.Digester.Create(ctx, day)
}
