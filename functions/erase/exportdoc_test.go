package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/identity"
	"github.com/waguard/waguard/shared/store"
)

func TestNewExportDoc(t *testing.T) {
	doc := newExportDoc(t0.In(time.FixedZone("CEST", 2*3600)))
	if doc.Format != ExportFormat || !doc.GeneratedAt.Equal(t0) || doc.GeneratedAt.Location() != time.UTC {
		t.Errorf("newExportDoc() = %s at %v, want %s at %v UTC", doc.Format, doc.GeneratedAt, ExportFormat, t0)
	}
	if doc.Messages == nil || doc.Consents == nil || doc.ErasureRequests == nil || doc.Suppression.Purposes == nil {
		t.Errorf("newExportDoc() has a nil list: a person never seen must get empty lists")
	}
	if doc.Identifiers != nil || doc.NextCursor != "" {
		t.Errorf("newExportDoc() has identifiers or a cursor, want neither until set")
	}
}

func TestPageFull(t *testing.T) {
	const budget = httpapi.PageBudget
	for _, tc := range []struct {
		name          string
		n, used, size int
		want          bool
	}{
		{"empty page takes anything", 0, 0, budget * 2, false},
		{"room left", 10, 1000, 1000, false},
		{"exactly the budget", 10, budget - 100, 100, false},
		{"one byte over the budget", 10, budget - 100, 101, true},
		{"the message limit", exportPage, 1000, 10, true},
		{"below the message limit", exportPage - 1, 1000, 10, false},
	} {
		if got := pageFull(tc.n, tc.used, tc.size); got != tc.want {
			t.Errorf("%s: pageFull(%d, %d, %d) = %v, want %v", tc.name, tc.n, tc.used, tc.size, got, tc.want)
		}
	}
}

func TestToExportMessage(t *testing.T) {
	m := store.Message{ID: "msg_1", SK: "msg#out#1", Direction: "out", Type: "text", Class: "transactional", Status: "failed", ErrorCode: 131026,
		Lookup: "L", At: t0, Content: store.Content{Phone: "+14155550123", ProviderID: "wamid.1", ProfileName: "Grace", Body: []byte("hi")}}
	hist := []store.StatusEntry{{Status: "sent", At: t0.Add(time.Minute)}, {Status: "failed", ErrorCode: 131026, At: t0.Add(2 * time.Minute)}}
	want := exportMessage{ID: "msg_1", Direction: "out", Type: "text", Purpose: "transactional", Status: "failed", ErrorCode: 131026,
		Time: t0, Phone: "+14155550123", ProviderMessageID: "wamid.1", ProfileName: "Grace", Body: "hi",
		Statuses: []exportStatus{{Status: "sent", Time: t0.Add(time.Minute)}, {Status: "failed", Time: t0.Add(2 * time.Minute), ErrorCode: 131026}}}
	if diff := cmp.Diff(want, toExportMessage(m, hist)); diff != "" {
		t.Errorf("toExportMessage() mismatch (-want +got):\n%s", diff)
	}
	if got := toExportMessage(m, nil); got.Statuses != nil {
		t.Errorf("toExportMessage(no history).Statuses = %v, want none (omitted)", got.Statuses)
	}
}

func TestExportConsents(t *testing.T) {
	by := t0.Add(24 * time.Hour)
	ledger := []store.ConsentEvent{
		{ID: "cev_1", Purpose: "marketing", Action: "pending", Method: "api", PolicyVersion: "1", Actor: "crm", ConfirmBy: by, At: t0},
		{ID: "cev_2", Purpose: "marketing", Action: "grant", Method: "whatsapp_keyword", NoticeSHA256: "abc", Actor: "webhook", Confirms: "cev_1", At: t0.Add(time.Hour)},
	}
	want := []exportConsent{
		{Time: t0, Purpose: "marketing", Action: "pending", Method: "api", PolicyVersion: "1", Actor: "crm", ExpiresAt: &by},
		{Time: t0.Add(time.Hour), Purpose: "marketing", Action: "grant", Method: "whatsapp_keyword", NoticeSHA256: "abc", Actor: "webhook", Confirmed: true},
	}
	if diff := cmp.Diff(want, exportConsents(ledger)); diff != "" {
		t.Errorf("exportConsents() mismatch (-want +got):\n%s", diff)
	}
	if got := exportConsents(nil); got == nil || len(got) != 0 {
		t.Errorf("exportConsents(nil) = %#v, want an empty list", got)
	}
}

func TestSuppressedPurposes(t *testing.T) {
	got := suppressedPurposes(map[string]string{"marketing": "stop", "support": "complaint", "otp": "stop"})
	if want := []string{"marketing", "otp", "support"}; !cmp.Equal(got, want) {
		t.Errorf("suppressedPurposes() = %v, want %v", got, want)
	}
	if got := suppressedPurposes(nil); got == nil || len(got) != 0 {
		t.Errorf("suppressedPurposes(nil) = %#v, want an empty list", got)
	}
}

func TestExportIdentifiersOf(t *testing.T) {
	ids := []store.Identifier{{ID: identity.ID{Kind: identity.KindPhone, Key: "K1"}, Value: "+14155550123"},
		{ID: identity.ID{Kind: identity.KindUser, Key: "K2"}, Value: "US.1"}}
	want := []exportIdentifier{{Kind: string(identity.KindPhone), Value: "+14155550123"}, {Kind: string(identity.KindUser), Value: "US.1"},
		{Kind: "username", Value: "grace.h"}}
	if diff := cmp.Diff(want, exportIdentifiersOf(ids, []string{"grace.h"})); diff != "" {
		t.Errorf("exportIdentifiersOf() mismatch (-want +got):\n%s", diff)
	}
	if got := exportIdentifiersOf(nil, nil); got == nil {
		t.Errorf("exportIdentifiersOf(nil, nil) = nil, want an empty list (the first page always has one)")
	}
}

func TestExportErasureAndEvent(t *testing.T) {
	r := store.ErasureRequest{ID: "er_1", Subject: "S", Status: "in_progress", RequestedAt: t0, DueBy: t0.Add(store.ErasureDeadline)}
	if diff := cmp.Diff(exportErasure{ID: "er_1", Status: "in_progress", RequestedAt: t0, DueBy: t0.Add(store.ErasureDeadline)}, exportErasureOf(r)); diff != "" {
		t.Errorf("exportErasureOf() mismatch (-want +got):\n%s", diff)
	}
	want := audit.Event{Type: audit.EventDataExport, Subject: "P", Actor: audit.Actor{Caller: "ops"}, RequestID: "req",
		Details: map[string]string{"format": ExportFormat, "page_messages": "7"}}
	if diff := cmp.Diff(want, exportEvent("P", "ops", "req", 7)); diff != "" {
		t.Errorf("exportEvent() mismatch (-want +got):\n%s", diff)
	}
}

func TestParseCursor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want cursor
		ok   bool
	}{
		{"", cursor{}, true},
		{"msg#in#00001", cursor{sk: "msg#in#00001"}, true},
		{"1|msg#in#00001", cursor{part: 1, sk: "msg#in#00001"}, true},
		{"99|msg#x", cursor{part: 99, sk: "msg#x"}, true},
		{"0|msg#x", cursor{}, false},
		{"100|msg#x", cursor{}, false},
		{"-1|msg#x", cursor{}, false},
		{"1|status#x", cursor{}, false},
		{"1msg#x", cursor{}, false},
		{"x", cursor{}, false},
		{"a|msg#x", cursor{}, false},
	} {
		got, err := parseCursor(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseCursor(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("parseCursor(%q).String() = %q, want the input back", tc.in, got.String())
		}
	}
}

// FuzzParseCursor: a cursor comes from the client; parsing never panics,
// and whatever parses prints back to itself.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "msg#in#1", "1|msg#in#1", "99|msg#", "0|msg#", "1|", "|", "01|msg#x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCursor(s)
		if err != nil {
			return
		}
		if c.part < 0 || c.part > 99 || (c.sk != "" && !strings.HasPrefix(c.sk, "msg#")) {
			t.Fatalf("parseCursor() = %+v: out of range", c)
		}
		if again, err := parseCursor(c.String()); err != nil || again != c {
			t.Fatalf("parseCursor(String()) = %+v, %v; want %+v", again, err, c)
		}
	})
}
