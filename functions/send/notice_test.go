package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	wgevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/notice"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/store"
)

// getNotice calls GET /v1/notices/{id} with key.
func (e *env) getNotice(t testing.TB, key, id string) (int, map[string]any) {
	t.Helper()
	resp, _ := e.h.Handle(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /v1/notices/{id}", PathParameters: map[string]string{"id": id},
		Headers:        map[string]string{"authorization": "Bearer " + key},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "test", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.50"}}})
	var out map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &out)
	return resp.StatusCode, out
}

// consentEventRecord reads the consent.changed event record of ledger
// entry id of the person with number to, as the events function will.
func (e *env) consentEventRecord(t testing.TB, to, id string) store.EventRecord {
	t.Helper()
	n, _ := phone.Parse(to)
	subject, _ := e.h.Keys.Index(n)
	db := dynamodb.NewFromConfig(e.st.AWS(t))
	out, err := db.Query(context.Background(), &dynamodb.QueryInput{TableName: &e.st.DataTable, IndexName: aws.String("by-lookup"),
		KeyConditionExpression:    aws.String("lookup = :l"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":l": &types.AttributeValueMemberS{Value: "evt-of#" + subject}}})
	if err != nil {
		t.Fatalf("query event records: %v", err)
	}
	for _, it := range out.Items {
		pk := it["pk"].(*types.AttributeValueMemberS).Value
		rec, err := e.h.Store.(*store.Store).Event(context.Background(), strings.TrimPrefix(pk, "evt#"))
		if err == nil && rec.Type == wgevents.TypeConsentChanged && rec.Fields.ConsentEventID == id {
			return rec
		}
	}
	t.Fatalf("no consent.changed event record for %s", id)
	return store.EventRecord{}
}

// TestConsentNotice drives proof of the notice through the API: a grant
// with the notice text alone names it in the ledger, the query and the
// consent.changed event; GET /v1/notices/{id} answers the text, which a
// second grant with the same text does not register again; the text
// reaches neither the log nor the audit trail.
func TestConsentNotice(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	e.h.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	text := "Example Ltd may send you offers on WhatsApp. Reply STOP to opt out. (" + randomHex(8) + ")"
	id := notice.ID(text)
	to, other := number(t), number(t)
	grant := func(to, rid string) string {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"phone": to, "purpose": "marketing", "action": "grant", "method": "web_form", "notice": text})
		resp, _ := e.h.Handle(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/consents", Body: string(b),
			Headers:        map[string]string{"authorization": "Bearer " + e.key},
			RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: rid, HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "192.0.2.50"}}})
		var out map[string]any
		_ = json.Unmarshal([]byte(resp.Body), &out)
		if resp.StatusCode != 201 {
			t.Fatalf("grant with a notice only = %d %v, want 201", resp.StatusCode, out)
		}
		return fmt.Sprint(out["id"])
	}
	rid := "notice-" + randomHex(6)
	cev := grant(to, rid)

	status, got := e.getNotice(t, e.key, id)
	if status != 200 || got["sha256"] != id || got["text"] != text || got["recorded_at"] == nil {
		t.Fatalf("GET /v1/notices/{id} = %d %v, want 200 with the id, the text and recorded_at", status, got)
	}
	firstRecorded := got["recorded_at"]

	status, out, _ := e.call(t, "POST /v1/consents/query", e.key, map[string]string{"phone": to})
	ledger, _ := out["ledger"].([]any)
	if status != 200 || len(ledger) != 1 {
		t.Fatalf("query = %d %v, want one ledger entry", status, out)
	}
	if entry := ledger[0].(map[string]any); entry["notice_sha256"] != id || entry["policy_version"] != "" {
		t.Errorf("ledger entry = %v, want notice_sha256 %s and an empty policy_version", entry, id)
	}
	if p, _ := out["purposes"].(map[string]any); fmt.Sprint(p["marketing"]) != "map[state:granted suppressed:false]" {
		t.Errorf("marketing = %v, want granted", p["marketing"])
	}
	if rec := e.consentEventRecord(t, to, cev); rec.Fields.NoticeSHA256 != id {
		t.Errorf("consent.changed event record data = %+v, want notice_sha256 %s", rec.Fields, id)
	}

	time.Sleep(1100 * time.Millisecond) // recorded_at has seconds: a rewrite would show
	grant(other, "notice-"+randomHex(6))
	if status, got := e.getNotice(t, e.key, id); status != 200 || got["text"] != text || got["recorded_at"] != firstRecorded {
		t.Errorf("GET after a second grant = %d %v, want the notice as first registered (recorded_at %v)", status, got, firstRecorded)
	}

	if strings.Contains(logs.String(), text[:40]) {
		t.Errorf("the notice text is in the function's log")
	}
	for _, typ := range []audit.EventType{audit.EventConsentGranted} {
		for _, ev := range e.st.AuditEvents(t, rid, string(typ)) {
			if strings.Contains(fmt.Sprint(ev.Details), text[:40]) {
				t.Errorf("the notice text is in the %s audit event", typ)
			}
		}
	}
}

// TestConsentNoticeRequests checks which consent bodies the API accepts:
// a grant must say what was agreed to (a notice, a policy version or
// both); a revoke needs neither, as withdrawing must be as easy as giving
// consent (Art. 7(3)).
func TestConsentNoticeRequests(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		body   map[string]string
		status int
	}{
		{"grant with neither", map[string]string{"action": "grant"}, 400},
		{"grant with an empty policy version", map[string]string{"action": "grant", "policy_version": ""}, 400},
		{"grant with a policy version", map[string]string{"action": "grant", "policy_version": "2026-01"}, 201},
		{"grant with both", map[string]string{"action": "grant", "policy_version": "2026-01", "notice": "Offers by WhatsApp."}, 201},
		{"grant with a notice over 4 KB", map[string]string{"action": "grant", "notice": strings.Repeat("x", 4097)}, 400},
		{"revoke with neither", map[string]string{"action": "revoke"}, 201},
		{"revoke with a policy version", map[string]string{"action": "revoke", "policy_version": "2026-01"}, 201},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := number(t)
			body := map[string]string{"phone": to, "purpose": "marketing", "method": "web_form"}
			for k, v := range tc.body {
				body[k] = v
			}
			status, out, _ := e.call(t, "POST /v1/consents", e.key, body)
			if status != tc.status || (status == 400 && code(out) != "invalid_request") {
				t.Errorf("POST /v1/consents = %d %v, want %d", status, out, tc.status)
			}
		})
	}
}

// TestGetNotice checks GET /v1/notices/{id}'s answers: 400 for a
// malformed id, 404 for one never registered, 403 without consents:read.
func TestGetNotice(t *testing.T) {
	e := newEnv(t)
	stage := strings.TrimSuffix(strings.TrimPrefix(e.st.DataTable, "waguard-"), "-data")
	client, secret := "sender-"+randomHex(4), randomHex(24)
	sm := secretsmanager.NewFromConfig(e.st.AWS(t))
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("waguard/" + stage + "/clients/" + client),
		SecretString: aws.String(`{"kind":"api-client","client_id":"` + client + `","scopes":["messages:send","consents:write"],"key":"` + secret + `"}`)}); err != nil {
		t.Fatal(err)
	}
	sender := string(apiauth.PresentedKey(client, secrets.NewValue([]byte(secret))).Reveal())
	unknown := notice.ID("never registered " + randomHex(8))
	tests := []struct {
		name, key, id string
		status        int
		code          string
	}{
		{"unknown", e.key, unknown, 404, "not_found"},
		{"uppercase hex", e.key, strings.ToUpper(unknown), 400, "invalid_request"},
		{"too short", e.key, unknown[:63], 400, "invalid_request"},
		{"empty", e.key, "", 400, "invalid_request"},
		{"without consents:read", sender, unknown, 403, "insufficient_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if status, out := e.getNotice(t, tc.key, tc.id); status != tc.status || code(out) != tc.code {
				t.Errorf("GET /v1/notices/{id} = %d %v, want %d %s", status, out, tc.status, tc.code)
			}
		})
	}
}
