package audit

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDataAccess(t *testing.T) {
	got := DataAccess("ops", "pseudo", "req-1", "GET /v1/messages/{id}", 1, map[string]string{"message": "msg_ABC"})
	want := Event{Type: EventDataAccess, Subject: "pseudo", Actor: Actor{Caller: "ops"}, RequestID: "req-1",
		Details: map[string]string{"route": "GET /v1/messages/{id}", "count": "1", "message": "msg_ABC"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DataAccess() mismatch (-want +got):\n%s", diff)
	}
	if err := got.validate(); err != nil {
		t.Errorf("DataAccess().validate() err = %v, want nil", err)
	}
}
