package audit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEventTypeValid(t *testing.T) {
	tests := []struct {
		typ  EventType
		want bool
	}{
		{EventUnknown, false},
		{EventMessageReceived, true},
		{EventAuthFailed, true},
		{EventWebhookValidationFailed, true},
		{"message_deleted", false},
		{"MESSAGE_SENT", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			if got := tt.typ.Valid(); got != tt.want {
				t.Errorf("EventType(%q).Valid() = %v, want %v", tt.typ, got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := func() Event {
		return Event{Type: EventConsentGranted, Actor: Actor{Caller: "client:acme"}, Subject: "pZ3k", RequestID: "req-1"}
	}
	tests := []struct {
		name     string
		edit     func(*Event)
		wantErr  bool
		personal bool
	}{
		{name: "minimal", edit: func(*Event) {}},
		{name: "plain details", edit: func(e *Event) {
			e.Details = map[string]string{"purpose": "marketing", "count": "1234567", "day": "2026-01-02", "error_code": "131050"}
		}},
		{name: "unknown type", edit: func(e *Event) { e.Type = EventUnknown }, wantErr: true},
		{name: "no caller", edit: func(e *Event) { e.Actor.Caller = "" }, wantErr: true},
		{name: "control char in request id", edit: func(e *Event) { e.RequestID = "a\nb" }, wantErr: true},
		{name: "long subject", edit: func(e *Event) { e.Subject = strings.Repeat("a", 129) }, wantErr: true},
		{name: "e164", edit: func(e *Event) { e.Details = map[string]string{"note": "+447700900123"} }, wantErr: true, personal: true},
		{name: "short e164", edit: func(e *Event) { e.Details = map[string]string{"note": "call +44"} }, wantErr: true, personal: true},
		{name: "national number", edit: func(e *Event) { e.Details = map[string]string{"note": "07700900123"} }, wantErr: true, personal: true},
		{name: "eight digits", edit: func(e *Event) { e.Details = map[string]string{"n": "12345678"} }, wantErr: true, personal: true},
		{name: "wamid", edit: func(e *Event) { e.Details = map[string]string{"ref": "wamid.HBgLMTY0Njcw"} }, wantErr: true, personal: true},
		{name: "email", edit: func(e *Event) { e.Details = map[string]string{"ref": "a@example.com"} }, wantErr: true, personal: true},
		{name: "denied key", edit: func(e *Event) { e.Details = map[string]string{"phone": "x"} }, wantErr: true, personal: true},
		{name: "long value", edit: func(e *Event) { e.Details = map[string]string{"k": strings.Repeat("x", 257)} }, wantErr: true, personal: true},
		{name: "phone number as subject", edit: func(e *Event) { e.Subject = "+44 7700 900123" }, wantErr: true, personal: true},
		{name: "email as caller", edit: func(e *Event) { e.Actor.Caller = "ops@example.com" }, wantErr: true, personal: true},
		{name: "pseudonym with digits", edit: func(e *Event) { e.Subject = "12345678901234567890x" }},
		{name: "bad key", edit: func(e *Event) { e.Details = map[string]string{"Key": "x"} }, wantErr: true},
		{name: "too many", edit: func(e *Event) {
			e.Details = map[string]string{}
			for i := range 17 {
				e.Details[string(rune('a'+i))] = "x"
			}
		}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok()
			tt.edit(&e)
			err := e.validate()
			if (err != nil) != tt.wantErr || errors.Is(err, ErrPersonalData) != tt.personal {
				t.Fatalf("validate() err = %v, want error %v (personal data %v)", err, tt.wantErr, tt.personal)
			}
			if err != nil && strings.Contains(err.Error(), "7700900123") {
				t.Errorf("validate() err = %q, must not contain the value", err)
			}
		})
	}
}

// vectorEvent is fixed; its hash pins the canonical encoding.
func vectorEvent() Event {
	return Event{
		ID: "ev_aaaaaaaaaaaaaaaaaaaaaaaaaa", Time: time.Date(2026, 3, 1, 12, 30, 0, 123456000, time.UTC),
		Type: EventDataDeletion, Actor: Actor{Function: "waguard-prod-erase", Caller: "client:acme"},
		Subject: "pseudonym-1", RequestID: "req-1",
		Details: map[string]string{"items": "12", "class": "support"},
		Chain:   "waguard-prod-erase-abcdefghijklmnop", Seq: 7,
		PrevHash:  Hash{1, 2, 3},
		ExpiresAt: time.Date(2032, 3, 1, 0, 0, 0, 0, time.UTC),
	}
}

func TestEventHashVector(t *testing.T) {
	e := vectorEvent()
	// Computed independently of this package (a 10-line Python script
	// following the encoding in the ComputeHash doc).
	const want = "f1022aee99b6f77510c2e074cabb3f970c7661bf23d34305dae3c444017fcaf5"
	if got := e.ComputeHash().String(); got != want {
		t.Errorf("ComputeHash() = %s, want %s", got, want)
	}
}

func TestCanonicalIsUnambiguous(t *testing.T) {
	tests := []struct {
		name string
		a, b func(*Event)
	}{
		{"subject/request boundary", func(e *Event) { e.Subject, e.RequestID = "ab", "c" }, func(e *Event) { e.Subject, e.RequestID = "a", "bc" }},
		{"detail key/value boundary", func(e *Event) { e.Details = map[string]string{"ab": "c"} }, func(e *Event) { e.Details = map[string]string{"a": "bc"} }},
		{"detail vs none", func(e *Event) { e.Details = map[string]string{"a": ""} }, func(e *Event) { e.Details = nil }},
		{"seq", func(e *Event) { e.Seq = 1 }, func(e *Event) { e.Seq = 2 }},
		{"chain", func(e *Event) { e.Chain = "a" }, func(e *Event) { e.Chain = "b" }},
		{"expiry", func(e *Event) { e.ExpiresAt = time.Time{} }, func(e *Event) { e.ExpiresAt = time.Unix(1, 0) }},
		{"actor boundary", func(e *Event) { e.Actor = Actor{"f", "xc"} }, func(e *Event) { e.Actor = Actor{"fx", "c"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := vectorEvent(), vectorEvent()
			tt.a(&a)
			tt.b(&b)
			if a.ComputeHash() == b.ComputeHash() {
				t.Errorf("ComputeHash() equal for different events")
			}
		})
	}
}

func TestEventItemRoundTrip(t *testing.T) {
	e := vectorEvent()
	e.Hash = e.ComputeHash()
	got, err := parseEvent(eventItem(&e))
	if err != nil {
		t.Fatalf("parseEvent(eventItem(e)) err = %v, want nil", err)
	}
	if diff := cmp.Diff(e, got.Event); diff != "" {
		t.Errorf("parseEvent(eventItem(e)) mismatch (-want +got):\n%s", diff)
	}
	if got.pos != e.Seq || got.day != "2026-03-01" {
		t.Errorf("parseEvent() pos, day = %d, %s, want %d, 2026-03-01", got.pos, got.day, e.Seq)
	}
}
