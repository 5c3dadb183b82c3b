package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/store"
)

// allPages reads every page of a paged listing.
func allPages(t *testing.T, read func(store.PageKey) ([]store.Delivery, store.PageKey, error)) []store.Delivery {
	t.Helper()
	var out []store.Delivery
	for page := store.PageKey(""); ; {
		ds, next, err := read(page)
		if err != nil {
			t.Fatalf("read page err = %v", err)
		}
		out = append(out, ds...)
		if next == "" {
			return out
		}
		page = next
	}
}

func hasDelivery(ds []store.Delivery, auditID string) bool {
	return slices.ContainsFunc(ds, func(d store.Delivery) bool { return d.AuditID == auditID })
}

// TestDeliveryStates: a pending delivery is filed under the minute it is
// due, a dead one among the dead letters, a delivered one nowhere; each
// state replaces the one before.
func TestDeliveryStates(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		id, dest := "aud_"+lettersID(t), "sandbox"
		if _, err := f.s.GetDelivery(ctx(t), id, dest); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetDelivery(none) err = %v, want ErrNotFound", err)
		}
		next := f.now.Add(3 * time.Minute)
		due := func() []store.Delivery {
			return allPages(t, func(p store.PageKey) ([]store.Delivery, store.PageKey, error) {
				return f.s.DueDeliveries(ctx(t), next, p)
			})
		}
		dead := func() []store.Delivery {
			return allPages(t, func(p store.PageKey) ([]store.Delivery, store.PageKey, error) { return f.s.DeadLetters(ctx(t), p) })
		}
		pending := store.Delivery{AuditID: id, Destination: dest, State: store.DeliveryPending, Attempts: 1, NextAt: next, LastError: "status 503"}
		if err := f.s.SaveDelivery(ctx(t), pending); err != nil {
			t.Fatalf("SaveDelivery(pending) err = %v", err)
		}
		pending.UpdatedAt = f.now
		if got, err := f.s.GetDelivery(ctx(t), id, dest); err != nil || got != pending {
			t.Errorf("GetDelivery() = %+v, %v; want %+v", got, err, pending)
		}
		if !hasDelivery(due(), id) || hasDelivery(dead(), id) {
			t.Errorf("pending delivery: due %t, dead %t; want due only", hasDelivery(due(), id), hasDelivery(dead(), id))
		}
		if err := f.s.SaveDelivery(ctx(t), store.Delivery{AuditID: id, Destination: dest, State: store.DeliveryDead, Attempts: 8, LastError: "timeout"}); err != nil {
			t.Fatalf("SaveDelivery(dead) err = %v", err)
		}
		if hasDelivery(due(), id) || !hasDelivery(dead(), id) {
			t.Errorf("dead delivery: due %t, dead %t; want dead only", hasDelivery(due(), id), hasDelivery(dead(), id))
		}
		if err := f.s.SaveDelivery(ctx(t), store.Delivery{AuditID: id, Destination: dest, State: store.DeliveryDelivered, Attempts: 9}); err != nil {
			t.Fatalf("SaveDelivery(delivered) err = %v", err)
		}
		if hasDelivery(due(), id) || hasDelivery(dead(), id) {
			t.Errorf("delivered delivery still filed as due or dead")
		}
		if got, err := f.s.GetDelivery(ctx(t), id, dest); err != nil || got.State != store.DeliveryDelivered || got.Attempts != 9 || !got.NextAt.IsZero() {
			t.Errorf("GetDelivery(delivered) = %+v, %v", got, err)
		}
	})
}

// TestCursors: the retry and sweep cursors read their default until set,
// then what was set; setting a policy ends the progress towards it.
func TestCursors(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		name := "test-" + lettersID(t)
		def := f.now.Truncate(time.Minute)
		if got, err := f.s.RetryCursor(ctx(t), name, def); err != nil || !got.Equal(def) {
			t.Errorf("RetryCursor(unset) = %v, %v; want %v", got, err, def)
		}
		minute := def.Add(-time.Hour)
		if err := f.s.SetRetryCursor(ctx(t), name, minute); err != nil {
			t.Fatal(err)
		}
		if got, err := f.s.RetryCursor(ctx(t), name, def); err != nil || !got.Equal(minute) {
			t.Errorf("RetryCursor() = %v, %v; want %v", got, err, minute)
		}

		if got, err := f.s.SweepCursor(ctx(t), name); err != nil || got != "" {
			t.Errorf("SweepCursor(unset) = %q, %v; want empty", got, err)
		}
		if err := f.s.SetSweepCursor(ctx(t), name, "2026-01-02"); err != nil {
			t.Fatal(err)
		}
		if got, err := f.s.SweepCursor(ctx(t), name); err != nil || got != "2026-01-02" {
			t.Errorf("SweepCursor() = %q, %v; want 2026-01-02", got, err)
		}
	})
}

// TestReplayKeys: a remembered key is seen until it expires.
func TestReplayKeys(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		live, expired := randomID(t), randomID(t)
		for _, k := range []string{live, expired} {
			if seen, err := f.s.Seen(ctx(t), "test", k); err != nil || seen {
				t.Fatalf("Seen(new key) = %t, %v; want false", seen, err)
			}
		}
		if err := f.s.Remember(ctx(t), "test", live, f.now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := f.s.Remember(ctx(t), "test", expired, f.now.Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if seen, err := f.s.Seen(ctx(t), "test", live); err != nil || !seen {
			t.Errorf("Seen(remembered) = %t, %v; want true", seen, err)
		}
		if seen, err := f.s.Seen(ctx(t), "other-scope", live); err != nil || seen {
			t.Errorf("Seen(other scope) = %t, %v; want false", seen, err)
		}
		if seen, err := f.s.Seen(ctx(t), "test", expired); err != nil || seen {
			t.Errorf("Seen(expired) = %t, %v; want false", seen, err)
		}
	})
}
