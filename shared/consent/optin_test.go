package consent

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	pendingID = "cev_AAAAAAAAAAAAAAAAAAAAAAAA"
	otherID   = "cev_BBBBBBBBBBBBBBBBBBBBBBBB"
)

func TestConfirmable(t *testing.T) {
	now := time.Date(2026, 5, 28, 12, 0, 0, 0, time.UTC)
	p := Entry{ID: pendingID, Purpose: "marketing", Action: ActionPending, ConfirmBy: now.Add(time.Hour), NoticeSHA256: "n"}
	tests := []struct {
		name    string
		entries []Entry
		id      string
		at      time.Time
		want    bool
	}{
		{"live", []Entry{p}, pendingID, now, true},
		{"after a revoke: the tap is a fresh act", []Entry{p, {Action: ActionRevoke, Purpose: "marketing"}}, pendingID, now, true},
		{"at the deadline", []Entry{p}, pendingID, p.ConfirmBy, false},
		{"after the deadline", []Entry{p}, pendingID, p.ConfirmBy.Add(time.Second), false},
		{"already confirmed", []Entry{p, {Action: ActionGrant, Confirms: pendingID}}, pendingID, now, false},
		{"unknown id (another subject's)", []Entry{p}, otherID, now, false},
		{"not a pending entry", []Entry{{ID: pendingID, Action: ActionGrant}}, pendingID, now, false},
		{"empty id", []Entry{p, {Action: ActionGrant}}, "", now, false},
		{"empty ledger", nil, pendingID, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Confirmable(tt.entries, tt.id, tt.at)
			if ok != tt.want || (ok && got.ID != tt.id) {
				t.Errorf("Confirmable(%v, %q, at) = %v, %v; want ok %v", tt.entries, tt.id, got, ok, tt.want)
			}
		})
	}
}

func TestConfirmableAll(t *testing.T) {
	now := time.Date(2026, 5, 28, 12, 0, 0, 0, time.UTC)
	pend := func(id, purpose string, by time.Duration) Entry {
		return Entry{ID: id, Purpose: purpose, Action: ActionPending, ConfirmBy: now.Add(by)}
	}
	m1, m2, tr := pend("m1", "marketing", time.Hour), pend("m2", "marketing", time.Hour), pend("t1", "transactional", time.Hour)
	gone := pend("x", "otp", -time.Hour)
	tests := []struct {
		name    string
		entries []Entry
		want    []string
	}{
		{"none", []Entry{{ID: "g", Action: ActionGrant}}, nil},
		{"latest per purpose", []Entry{m1, tr, m2}, []string{"m2", "t1"}},
		{"expired left out", []Entry{gone, m1}, []string{"m1"}},
		{"confirmed left out", []Entry{m1, tr, {Action: ActionGrant, Confirms: "t1"}}, []string{"m1"}},
		{"the latest confirmed, the earlier one still live", []Entry{m1, m2, {Action: ActionGrant, Confirms: "m2"}}, []string{"m1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range ConfirmableAll(tt.entries, now) {
				got = append(got, e.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ConfirmableAll() ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfirm(t *testing.T) {
	p := Entry{ID: pendingID, Purpose: "transactional", Action: ActionPending, PolicyVersion: "2026-05", NoticeSHA256: "abc"}
	want := Change{Purpose: "transactional", Action: ActionGrant, Method: MethodConfirm, PolicyVersion: "2026-05",
		NoticeSHA256: "abc", Confirms: pendingID, Effect: Lift}
	if diff := cmp.Diff(want, Confirm(p, MethodConfirm)); diff != "" {
		t.Errorf("Confirm() (-want +got):\n%s", diff)
	}
	if got := AuditType(ActionPending); got != "consent_requested" {
		t.Errorf("AuditType(pending) = %q, want consent_requested", got)
	}
}

func TestParseConfirmPayload(t *testing.T) {
	tests := []struct {
		payload string
		want    string
		ok      bool
	}{
		{"wgconfirm:" + pendingID, pendingID, true},
		{ConfirmPayload(otherID), otherID, true},
		{"wgconfirm:", "", false},
		{"wgconfirm:cev_", "", false},
		{"wgconfirm:cev_AAAAAAAAAAAAAAAAAAAAAAA", "", false},   // 23
		{"wgconfirm:cev_AAAAAAAAAAAAAAAAAAAAAAAAA", "", false}, // 25
		{"wgconfirm:cev_aaaaaaaaaaaaaaaaaaaaaaaa", "", false},  // lower case
		{"wgconfirm:cev_AAAAAAAAAAAAAAAAAAAAAAA1", "", false},  // not base32
		{"wgconfirm:msg_AAAAAAAAAAAAAAAAAAAAAAAA", "", false},
		{"WGCONFIRM:" + pendingID, "", false},
		{" wgconfirm:" + pendingID, "", false},
		{"wgconfirm:" + pendingID + " ", "", false},
		{"Stop promotions", "", false},
		{"wg-confirm." + pendingID, "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.payload, func(t *testing.T) {
			got, ok := ParseConfirmPayload(tt.payload)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseConfirmPayload(%q) = %q, %v; want %q, %v", tt.payload, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzParseConfirmPayload: the parser never panics, accepts only a
// payload it would make itself, and round-trips.
func FuzzParseConfirmPayload(f *testing.F) {
	for _, s := range []string{ConfirmPayload(pendingID), "wgconfirm:", "Stop promotions", "wgconfirm:cev_\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		id, ok := ParseConfirmPayload(payload)
		if !ok {
			if id != "" {
				t.Fatalf("ParseConfirmPayload(%q) = %q, false; want no id", payload, id)
			}
			return
		}
		if !EventID(id) || ConfirmPayload(id) != payload {
			t.Fatalf("ParseConfirmPayload(%q) = %q, which does not round-trip", payload, id)
		}
	})
}
