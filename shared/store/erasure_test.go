package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/identity"
	"github.com/waguard/waguard/shared/store"
)

// pending reads every pending erasure id.
func (f *fixture) pending(t *testing.T) []string {
	t.Helper()
	ids, err := f.s.PendingErasures(ctx(t), 10_000)
	if err != nil {
		t.Fatalf("PendingErasures() err = %v", err)
	}
	return ids
}

// TestErasureLifecycle follows one request from open to completed: it is
// pending and the subject's open request until it completes; its scope
// is fixed once; it completes only once proven and once every endpoint
// told of it settled (the bus is not waited for); completing it drops the
// record of who received the subject's events, takes it out of the
// pending index and closes the subject's open request.
func TestErasureLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		subject := randomID(t)
		for _, d := range []string{"sandbox", store.BusRecipient} {
			if err := f.s.RecordRecipient(ctx(t), subject, d, f.now); err != nil {
				t.Fatalf("RecordRecipient(%s) err = %v", d, err)
			}
		}
		if got, err := f.s.Recipients(ctx(t), subject); err != nil || !slices.Equal(got, []string{store.BusRecipient, "sandbox"}) {
			t.Fatalf("Recipients() = %q, %v; want bus and sandbox", got, err)
		}
		req, err := f.s.OpenErasure(ctx(t), store.ErasureRequest{ID: "er_" + lettersID(t), Subject: subject, Pseudonym: "ps", Reason: "user_request", RequestedAt: f.now}, store.Unit{})
		if err != nil {
			t.Fatalf("OpenErasure() err = %v", err)
		}
		if !slices.Contains(f.pending(t), req.ID) {
			t.Errorf("PendingErasures() misses the open request")
		}
		if open, err := f.s.OpenErasureOf(ctx(t), subject); err != nil || open.ID != req.ID || !open.DueBy.Equal(f.now.Add(store.ErasureDeadline)) {
			t.Errorf("OpenErasureOf() = %+v, %v; want the request, due in 30 days", open, err)
		}

		scope, err := f.s.ScopeErasure(ctx(t), req)
		if err != nil || !slices.Equal(scope.Partitions, []string{subject}) {
			t.Fatalf("ScopeErasure() = %+v, %v; want the subject's partition", scope, err)
		}
		// A second run that read the request before the scope was fixed
		// gets the fixed scope, not a new one.
		if again, err := f.s.ScopeErasure(ctx(t), req); err != nil || !slices.Equal(again.Partitions, scope.Partitions) {
			t.Errorf("ScopeErasure(second run) = %+v, %v; want %+v", again, err, scope)
		}

		if err := f.s.SetErasureStep(ctx(t), req.ID, "data_deleted", f.now); err != nil {
			t.Fatalf("SetErasureStep() err = %v", err)
		}
		if err := f.s.MarkKeyDeleted(ctx(t), req.ID); err != nil {
			t.Fatalf("MarkKeyDeleted() err = %v", err)
		}
		if done, err := f.s.FinishErasure(ctx(t), req.ID, f.now); err != nil || done {
			t.Fatalf("FinishErasure(not proven) = %t, %v; want false, nil", done, err)
		}
		r, err := f.s.ErasureRequest(ctx(t), req.ID)
		if err != nil || r.Status != "in_progress" || r.Step != "data_deleted" || !r.KeyDeleted || r.Scope == nil {
			t.Fatalf("ErasureRequest() = %+v, %v; want in progress, data deleted, key deleted, scoped", r, err)
		}

		proof := "aud_" + lettersID(t)
		u := store.Unit{Events: []store.EventRecord{{AuditID: proof, Type: events.TypeSubjectErased, At: f.now,
			Fields: events.Data{ErasureRequestID: req.ID}}}}
		if err := f.s.ProveErasure(ctx(t), r, []string{store.BusRecipient, "sandbox"}, f.now, u); err != nil {
			t.Fatalf("ProveErasure() err = %v", err)
		}
		if rec, err := f.s.Event(ctx(t), proof); err != nil || rec.Type != events.TypeSubjectErased || rec.Fields.ErasureRequestID != req.ID {
			t.Errorf("Event(proof) = %+v, %v; want the subject.erased record", rec, err)
		}
		if done, err := f.s.FinishErasure(ctx(t), req.ID, f.now); err != nil || done {
			t.Fatalf("FinishErasure(sandbox not settled) = %t, %v; want false, nil", done, err)
		}
		if err := f.s.SetErasureRecipient(ctx(t), req.ID, "never-told", store.RecipientAcknowledged, f.now); err != nil {
			t.Errorf("SetErasureRecipient(not a recipient) err = %v, want nil (no-op)", err)
		}
		if err := f.s.SetErasureRecipient(ctx(t), req.ID, "sandbox", "whenever", f.now); err == nil {
			t.Errorf("SetErasureRecipient(unknown outcome) err = nil, want an error")
		}
		acked := f.now.Add(time.Minute)
		if err := f.s.SetErasureRecipient(ctx(t), req.ID, "sandbox", store.RecipientAcknowledged, acked); err != nil {
			t.Fatalf("SetErasureRecipient() err = %v", err)
		}
		r, err = f.s.ErasureRequest(ctx(t), req.ID)
		want := []store.ErasureRecipient{{Destination: store.BusRecipient, NotifiedAt: f.now}, {Destination: "sandbox", NotifiedAt: f.now, AcknowledgedAt: acked}}
		if err != nil || r.AuditEvent != proof || r.Step != "notified" || !slices.Equal(r.Recipients, want) || !r.NoticesSettled() {
			t.Fatalf("ErasureRequest(proven) = %+v, %v; want proof %s, recipients %+v, settled", r, err, proof, want)
		}

		done := f.now.Add(2 * time.Minute)
		if ok, err := f.s.FinishErasure(ctx(t), req.ID, done); err != nil || !ok {
			t.Fatalf("FinishErasure() = %t, %v; want true, nil", ok, err)
		}
		r, err = f.s.ErasureRequest(ctx(t), req.ID)
		if err != nil || r.Status != "completed" || !r.CompletedAt.Equal(done) || r.AuditEvent != proof {
			t.Errorf("ErasureRequest(completed) = %+v, %v; want completed at %v, proof kept", r, err, done)
		}
		if slices.Contains(f.pending(t), req.ID) {
			t.Errorf("PendingErasures() still lists the completed request")
		}
		if _, err := f.s.OpenErasureOf(ctx(t), subject); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("OpenErasureOf(completed) err = %v, want ErrNotFound", err)
		}
		if got, err := f.s.Recipients(ctx(t), subject); err != nil || len(got) != 0 {
			t.Errorf("Recipients(erased) = %q, %v; want none", got, err)
		}
		if ok, err := f.s.FinishErasure(ctx(t), req.ID, done); err != nil || !ok {
			t.Errorf("FinishErasure(again) = %t, %v; want true, nil", ok, err)
		}
		if err := f.s.SetErasureStep(ctx(t), req.ID, "data_deleted", done); err == nil {
			t.Errorf("SetErasureStep(completed) err = nil, want refused")
		}
		if _, err := f.s.ErasureRequest(ctx(t), "er_"+lettersID(t)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ErasureRequest(unknown) err = %v, want ErrNotFound", err)
		}
	})
}

// TestNoticesSettled: every endpoint must have acknowledged or run out of
// retries; the bus never holds an erasure up.
func TestNoticesSettled(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	bus := store.ErasureRecipient{Destination: store.BusRecipient, NotifiedAt: at}
	tests := []struct {
		name string
		rs   []store.ErasureRecipient
		want bool
	}{
		{"no recipients", nil, true},
		{"bus only, unacknowledged", []store.ErasureRecipient{bus}, true},
		{"endpoint notified only", []store.ErasureRecipient{bus, {Destination: "a", NotifiedAt: at}}, false},
		{"endpoint acknowledged", []store.ErasureRecipient{bus, {Destination: "a", NotifiedAt: at, AcknowledgedAt: at}}, true},
		{"endpoint out of retries", []store.ErasureRecipient{{Destination: "a", NotifiedAt: at, FailedAt: at}}, true},
		{"one of two settled", []store.ErasureRecipient{{Destination: "a", AcknowledgedAt: at}, {Destination: "b", NotifiedAt: at}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (store.ErasureRequest{Recipients: tc.rs}).NoticesSettled(); got != tc.want {
				t.Errorf("NoticesSettled(%+v) = %t, want %t", tc.rs, got, tc.want)
			}
		})
	}
}

// TestEraseRecordsCountsWhatItRemoved: records outside the partition are
// deleted and counted once, however often the step runs.
func TestEraseRecordsCountsWhatItRemoved(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		req, err := f.s.OpenErasure(ctx(t), store.ErasureRequest{ID: "er_" + lettersID(t), Subject: randomID(t), Reason: "user_request", RequestedAt: f.now}, store.Unit{})
		if err != nil {
			t.Fatal(err)
		}
		var keys [][2]string
		for i := range 3 {
			k := [2]string{"rl#" + randomID(t), "window"}
			keys = append(keys, k)
			if i == 2 {
				continue // never written
			}
			if _, err := f.db.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: &f.data, Item: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: k[0]}, "sk": &types.AttributeValueMemberS{Value: k[1]}}}); err != nil {
				t.Fatal(err)
			}
		}
		for run, want := range []int{2, 0} {
			if n, err := f.s.EraseRecords(ctx(t), req.ID, keys); err != nil || n != want {
				t.Errorf("EraseRecords(run %d) = %d, %v; want %d, nil", run, n, err, want)
			}
		}
		if r, err := f.s.ErasureRequest(ctx(t), req.ID); err != nil || r.Counts.RateRecords != 2 {
			t.Errorf("ErasureRequest().Counts.RateRecords = %d (err %v), want 2", r.Counts.RateRecords, err)
		}
	})
}

// TestDropAliases: an identifier whose alias is dropped no longer leads to
// the subject.
func TestDropAliases(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		p := newPerson(t)
		d := f.resolve(t, p.phone, p.user)
		known, err := f.s.Identify(ctx(t), []identity.ID{p.user.ID})
		if err != nil || known[p.user.Key].Subject != d.Subject {
			t.Fatalf("Identify(user) = %+v, %v; want subject %s", known, err, d.Subject)
		}
		if err := f.s.DropAliases(ctx(t), []string{p.user.Key}); err != nil {
			t.Fatalf("DropAliases() err = %v", err)
		}
		known, err = f.s.Identify(ctx(t), []identity.ID{p.user.ID})
		if _, ok := known[p.user.Key]; err != nil || ok {
			t.Errorf("Identify(user, alias dropped) = %+v, %v; want unknown", known, err)
		}
	})
}
