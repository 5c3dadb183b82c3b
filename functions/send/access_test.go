package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/phone"
)

// TestConsentQueryIsAudited: every answer of POST /v1/consents/query
// discloses a person's consent ledger, so each writes exactly one
// data_access audit event naming the client, the person's pseudonym, the
// route and how many ledger entries it returned (none for a number never
// seen, which is still a disclosure: there are none).
func TestConsentQueryIsAudited(t *testing.T) {
	e := newEnv(t)
	known, unknown := number(t), number(t)
	e.grant(t, known, "marketing")
	e.grant(t, known, "otp")
	for _, tc := range []struct {
		name, to string
		count    string
	}{{"known", known, "2"}, {"unknown", unknown, "0"}} {
		t.Run(tc.name, func(t *testing.T) {
			rid := "consent-query-" + randomHex(6)
			b, _ := json.Marshal(map[string]string{"phone": tc.to})
			resp, _ := e.h.Handle(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/consents/query", Body: string(b),
				Headers:        map[string]string{"authorization": "Bearer " + e.key},
				RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: rid, HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.50"}}})
			if resp.StatusCode != 200 {
				t.Fatalf("query = %d %s", resp.StatusCode, resp.Body)
			}
			n, _ := phone.Parse(tc.to)
			pseudonym, _ := e.h.Keys.Pseudonym(n)
			got := e.st.AuditEvents(t, rid, string(audit.EventDataAccess))
			if len(got) != 1 {
				t.Fatalf("data_access events of the query = %d, want 1", len(got))
			}
			ev := got[0]
			if ev.Caller != "ops" || ev.Subject != pseudonym || ev.Details["route"] != "POST /v1/consents/query" || ev.Details["count"] != tc.count {
				t.Errorf("data_access = %+v, want caller ops, the pseudonym, the route and count %s", ev, tc.count)
			}
		})
	}
}
