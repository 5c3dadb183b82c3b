package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/store"
)

// TestScheduled checks the resume schedule: every pending request is run,
// one that fails does not hold up the others but fails the run, and the
// age of the oldest still open is reported.
func TestScheduled(t *testing.T) {
	fx := newFixture(t)
	fx.quiet()
	ctx := context.Background()
	a, b := keyOf(num1), keyOf(num2)
	for i, s := range []string{a, b} {
		fx.store.message(s, i, store.Message{}, false)
		_, _ = fx.store.OpenErasure(ctx, store.ErasureRequest{ID: fmt.Sprintf("er_%024d", i), Subject: s, RequestedAt: t0.Add(-30 * time.Hour)}, store.Unit{})
	}
	fx.store.recipients[b] = []string{"crm"} // b waits for its endpoint
	fx.store.pending = append(fx.store.pending, "er_GONE")

	_, err := fx.h.Handle(ctx, Event{Action: actionResume})
	if err == nil || err.Error() != "1 erasure requests failed this run" {
		t.Errorf("resume with a broken request err = %v, want 1 failed", err)
	}
	if fx.store.requests["er_000000000000000000000000"].Status != "completed" || fx.store.requests["er_000000000000000000000001"].Step != stepNotified {
		t.Errorf("the other requests were not run to their end")
	}
	if got := metric(t, fx.metrics.String(), metrics.ErasurePendingOldestHours); got != 30 {
		t.Errorf("%s = %v, want 30", metrics.ErasurePendingOldestHours, got)
	}

	fx.store.pending = slices.DeleteFunc(fx.store.pending, func(id string) bool { return id == "er_GONE" })
	if res, err := fx.h.Handle(ctx, Event{Action: actionResume}); err != nil || !cmp.Equal(res, map[string]int{"pending": 1, "completed": 0}) {
		t.Errorf("resume = %v, %v; want 1 pending, none completed", res, err)
	}
	if res, err := fx.h.Handle(ctx, Event{Action: "sweep"}); err != nil || !cmp.Equal(res, map[string]string{"error": "unknown action"}) {
		t.Errorf("unknown action = %v, %v; want the unknown action answer", res, err)
	}
	fx.store.fail = failOnce("PendingErasures", 1, errDown)
	if _, err := fx.h.Handle(ctx, Event{Action: actionResume}); err == nil {
		t.Errorf("resume with the store down err = nil, want the error (the schedule's metric and retry)")
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if res, err := fx.h.Handle(short, Event{Action: actionResume}); err != nil || !cmp.Equal(res, map[string]int{"pending": 1, "completed": 0}) {
		t.Errorf("resume with no time left = %v, %v; want nothing run", res, err)
	}
}

// metric returns the last value of name in the EMF lines out.
func metric(t testing.TB, out, name string) float64 {
	t.Helper()
	v, found := 0.0, false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if f, ok := line[name].(float64); ok {
			v, found = f, true
		}
	}
	if !found {
		t.Fatalf("no %s in the metrics", name)
	}
	return v
}
