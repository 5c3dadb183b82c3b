package main

import (
	"context"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/store"
)

// TestRetryRunEarlyInTheMinute runs the retry schedule after a delivery
// failed but before its retry is due, in the same minute (the schedule
// fires once a minute at any second of it): the delivery must still be
// retried by a later run once it is due, not left pending for ever because
// the early run passed its minute.
func TestRetryRunEarlyInTheMinute(t *testing.T) {
	rc := &receiver{statuses: []int{503}}
	e := newEnv(t)
	e.h.Endpoints = fixedEndpoints{newEndpoint(t, "crm", rc, false)}
	e.now = time.Now().UTC().Truncate(time.Minute).Add(10 * time.Second) // the retry is due 4–6 s later, in this minute
	e.skipTo(t, e.now)
	rec := e.inbound(t, "events-"+randHex(8), "hi")
	e.stream(t, rec)
	id := rec.Change.NewImage["id"].String()
	d, err := e.h.Store.GetDelivery(context.Background(), id, "crm")
	if err != nil || d.State != store.DeliveryPending {
		t.Fatalf("delivery after the first attempt = %+v, %v; want pending", d, err)
	}
	e.now = e.now.Add(time.Second) // a run before the retry is due
	if res := e.retry(t); res.Attempted != 0 {
		t.Fatalf("early retry run = %+v, want nothing attempted (not due yet)", res)
	}
	e.now = d.NextAt.Add(time.Second) // the next run, once it is due
	e.retry(t)
	d, err = e.h.Store.GetDelivery(context.Background(), id, "crm")
	if err != nil || d.State != store.DeliveryDelivered || d.Attempts != 2 {
		t.Errorf("delivery after the run once due = %+v, %v; want delivered on its second attempt", d, err)
	}
	if n := len(rc.all()); n != 2 {
		t.Errorf("the endpoint got %d attempts, want 2", n)
	}
}
