package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/identity"
	"github.com/waguard/waguard/shared/store"
)

// exportPages exports num page by page through the handler and returns
// the pages, failing on anything but 200.
func (f *fixture) exportPages(t *testing.T, num string) []exportDoc {
	t.Helper()
	var pages []exportDoc
	cursor := ""
	for {
		body := map[string]string{"phone": num}
		if cursor != "" {
			body["cursor"] = cursor
		}
		out, err := f.h.Handle(context.Background(), Event{APIGatewayV2HTTPRequest: events.APIGatewayV2HTTPRequest{RouteKey: routeExport,
			Body: js(body), Headers: map[string]string{"authorization": "Bearer reader"}}})
		resp := out.(events.APIGatewayV2HTTPResponse)
		var doc exportDoc
		if err != nil || resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &doc) != nil {
			t.Fatalf("export page %d = %d %s (err %v)", len(pages), resp.StatusCode, resp.Body, err)
		}
		pages = append(pages, doc)
		if cursor = doc.NextCursor; cursor == "" {
			return pages
		}
		if len(pages) > 100 {
			t.Fatal("the export never ends")
		}
	}
}

// TestExportPages exports a person held in two partitions whose messages
// take more than one page, some expired but not yet deleted (read, then
// dropped, as DynamoDB applies Limit before the filter): every live
// message comes once, in order, each page within 500 messages and the
// encoded-size budget; the first page alone has the ledger, identifiers,
// suppressions and the open request; every page is audited.
func TestExportPages(t *testing.T) {
	fx := newFixture(t)
	a, b := keyOf(num1), keyOf(num1+"-merged")
	fx.store.parts[a] = []string{a, b}
	big := strings.Repeat("<", 40_000) // 1 byte stored, 7 on the wire
	var want []string
	for i := range 130 {
		expired := i%9 == 4
		m := store.Message{Direction: "in", Content: store.Content{Phone: num1, Body: []byte(big)}}
		if i == 7 {
			m.Direction, m.Lookup = "out", "L7"
		}
		fx.store.message(a, i, m, expired)
		if !expired {
			want = append(want, fmt.Sprintf("msg_%024d", i))
		}
	}
	for i := range 3 {
		fx.store.message(b, 1000+i, store.Message{Direction: "in", Content: store.Content{UserID: userID}}, false)
		want = append(want, fmt.Sprintf("msg_%024d", 1000+i))
	}
	fx.store.history["L7"] = []store.StatusEntry{{Status: "sent", At: t0}, {Status: "read", At: t0}}
	fx.store.identifiers[a] = []store.Identifier{{ID: identity.ID{Kind: identity.KindPhone, Key: "I"}, Value: num1}}
	fx.store.usernames[a] = []string{"grace.h"}
	fx.store.profiles[a] = store.Profile{Ledger: []store.ConsentEvent{{Purpose: "marketing", Action: "grant", At: t0}},
		Suppressed: map[string]string{"support": "stop"}}
	_, _ = fx.store.OpenErasure(context.Background(), store.ErasureRequest{ID: openID, Subject: a, RequestedAt: t0}, store.Unit{})

	pages := fx.exportPages(t, num1)
	var got []string
	for i, p := range pages {
		size := 0
		for _, m := range p.Messages {
			got = append(got, m.ID)
			size += httpapi.WireSize(m)
			if m.ID == fmt.Sprintf("msg_%024d", 7) && len(m.Statuses) != 2 {
				t.Errorf("message 7 has %d statuses, want its history of 2", len(m.Statuses))
			}
		}
		if len(p.Messages) == 0 || len(p.Messages) > exportPage || size > httpapi.PageBudget {
			t.Errorf("page %d: %d messages, %d bytes on the wire; want 1 to %d within %d", i, len(p.Messages), size, exportPage, httpapi.PageBudget)
		}
		first := i == 0
		if first != (len(p.Consents) == 1 && len(p.Identifiers) == 2 && len(p.ErasureRequests) == 1 && len(p.Suppression.Purposes) == 1) {
			t.Errorf("page %d: consents %d, identifiers %d, requests %d, suppressions %v; want them on the first page only", i,
				len(p.Consents), len(p.Identifiers), len(p.ErasureRequests), p.Suppression.Purposes)
		}
	}
	if js(got) != js(want) {
		t.Errorf("exported %d messages over %d pages, want the %d live ones once, in order", len(got), len(pages), len(want))
	}
	if len(pages) < 3 {
		t.Errorf("%d pages, want the size budget to split them", len(pages))
	}
	if len(fx.audit.events) != len(pages) || fx.audit.events[0].Type != audit.EventDataExport || fx.audit.events[0].Actor.Caller != "reader" {
		t.Errorf("audit events = %d (first %+v), want one data_export per page", len(fx.audit.events), fx.audit.events[0])
	}
}

// TestExportPageLimit: small messages page by count, exportPage at most.
func TestExportPageLimit(t *testing.T) {
	fx := newFixture(t)
	a := keyOf(num2)
	const n = 2*exportPage + 1
	for i := range n {
		fx.store.message(a, i, store.Message{Direction: "in"}, false)
	}
	pages := fx.exportPages(t, num2)
	if len(pages) != 3 || len(pages[0].Messages) != exportPage || len(pages[1].Messages) != exportPage || len(pages[2].Messages) != 1 {
		t.Errorf("pages of %d messages: %d pages, want %d, %d and 1", n, len(pages), exportPage, exportPage)
	}
}

// TestExportUnknownPerson: a person never seen gets the same document
// with empty lists, and the export is still audited.
func TestExportUnknownPerson(t *testing.T) {
	fx := newFixture(t)
	pages := fx.exportPages(t, num1)
	p := pages[0]
	if len(pages) != 1 || p.Messages == nil || len(p.Messages) != 0 || p.Consents == nil || len(p.Identifiers) != 0 || p.ErasureRequests == nil ||
		p.Suppression.Purposes == nil || p.Suppression.Erased {
		t.Errorf("export of an unknown person = %+v, want one page of empty lists", pages)
	}
	if len(fx.audit.events) != 1 {
		t.Errorf("audit events = %d, want 1", len(fx.audit.events))
	}
}

// TestExportFailures: any dependency failing answers 503 and writes no
// audit event.
func TestExportFailures(t *testing.T) {
	for _, op := range []string{"Partitions", "Messages", "StatusHistory", "Identifiers", "Usernames", "Profile", "OpenErasureOf"} {
		t.Run(op, func(t *testing.T) {
			fx := newFixture(t)
			fx.quiet()
			a := keyOf(num1)
			fx.store.message(a, 0, store.Message{Lookup: "L"}, false)
			fx.store.fail = failOnce(op, 1, errDown)
			status, out, _ := fx.call(t, request{route: routeExport, body: js(map[string]string{"phone": num1})})
			if status != 503 || len(fx.audit.events) != 0 {
				t.Errorf("export with %s down = %d %v and %d audit events, want 503 and none", op, status, out, len(fx.audit.events))
			}
		})
	}
}
