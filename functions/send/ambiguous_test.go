package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/store"
)

// TestAmbiguousProviderAnswers: only an answer that proves the provider
// did not accept the message is retried and withdrawn. A 5xx without
// Meta's error body (a gateway's 502 or 504) does not prove it: the
// provider is called once, the record stays sending, the audit trail has
// no failure, and the key replays the 502, so neither the send nor the
// client's retry can send the message a second time. Meta's 131000 ("the
// message failed to send") does prove it: retried, then withdrawn, and the
// key freed.
func TestAmbiguousProviderAnswers(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		fault map[string]any
		// calls is how many sends reached the provider: accepted ones
		// (accept) or faults consumed.
		calls     int
		withdrawn bool
		events    []string // the subject's audit events
		retry     int      // the retry with the same key
	}{
		{"502 without a body, accepted behind the gateway", map[string]any{"status": 502, "body": "none", "accept": true, "count": 4},
			1, false, []string{"consent_granted/", "message_sent/submitted"}, 502},
		{"504 with an HTML page", map[string]any{"status": 504, "body": "html", "count": 4},
			1, false, []string{"consent_granted/", "message_sent/submitted"}, 502},
		{"500 with Meta's 131000 (not sent)", map[string]any{"status": 500, "code": 131000, "count": 4},
			4, true, []string{"consent_granted/", "message_sent/submitted", "message_status/failed"}, 202},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := number(t)
			e.grant(t, to, "marketing")
			tc.fault["to"] = to
			e.fault(t, tc.fault)
			key := "ambiguous-" + to[1:]
			status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing"), "idempotency-key", key)
			if status != 502 || code(out) != "provider_error" {
				t.Fatalf("send = %d %v, want 502 provider_error", status, out)
			}
			calls := 4 - e.pendingFaults(t, to)
			if tc.fault["accept"] == true {
				calls = e.st.SandboxSends(t, to)
			}
			if calls != tc.calls {
				t.Errorf("provider calls = %d, want %d", calls, tc.calls)
			}
			kept := e.outbounds(t, to)
			if tc.withdrawn != (len(kept) == 0) || (!tc.withdrawn && (len(kept) != 1 || str(kept[0], "status") != store.StatusSending)) {
				t.Errorf("stored messages = %d (status %q), want withdrawn %v, else one kept sending", len(kept), status0(kept), tc.withdrawn)
			}
			n, _ := phone.Parse(to)
			pseudonym, _ := e.h.Keys.Pseudonym(n)
			if got := e.events(t, "subject", pseudonym); !slices.Equal(got, tc.events) {
				t.Errorf("audit events = %v, want %v", got, tc.events)
			}
			sent := e.st.SandboxSends(t, to)
			if status, out, _ := e.call(t, "POST /v1/messages", e.key, template(to, "marketing"), "idempotency-key", key); status != tc.retry {
				t.Errorf("retry with the same key = %d %q, want %d", status, code(out), tc.retry)
			}
			if want := sent + map[bool]int{true: 1, false: 0}[tc.retry == 202]; e.st.SandboxSends(t, to) != want {
				t.Errorf("provider got %d messages after the retry, want %d", e.st.SandboxSends(t, to), want)
			}
			if tc.fault["accept"] == true && len(kept) == 1 {
				// Meta's status about the message it did accept completes
				// the record the send kept.
				e.deliverStatus(t, e.sandboxWAMID(t, to), "delivered")
				id := strings.TrimPrefix(str(kept[0], "sk"), "msg#out#")
				if it := e.outbound(t, to, id); str(it, "status") != "delivered" || it["lookup"] == nil {
					t.Errorf("after Meta's status: stored status %q, lookup %v; want delivered with its lookup", str(it, "status"), it["lookup"])
				}
			}
		})
	}
}

// outbounds returns the stored outbound messages of to.
func (e *env) outbounds(t *testing.T, to string) []map[string]types.AttributeValue {
	t.Helper()
	n, _ := phone.Parse(to)
	subject, _ := e.h.Keys.Index(n)
	db := dynamodb.NewFromConfig(e.st.AWS(t))
	out, err := db.Query(context.Background(), &dynamodb.QueryInput{TableName: &e.st.DataTable, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :out)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)},
			":out": &types.AttributeValueMemberS{Value: "msg#out#"}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

func status0(items []map[string]types.AttributeValue) string {
	if len(items) == 0 {
		return ""
	}
	return str(items[0], "status")
}

// pendingFaults is how many uses of the sandbox faults queued for to are
// left.
func (e *env) pendingFaults(t *testing.T, to string) int {
	t.Helper()
	var q []struct {
		To    string `json:"to"`
		Count int    `json:"count"`
	}
	e.sandboxGet(t, "/_sandbox/faults", &q)
	n := 0
	for _, f := range q {
		if f.To == to {
			n += f.Count
		}
	}
	return n
}

// sandboxWAMID is the wamid of the newest message the sandbox accepted
// for to.
func (e *env) sandboxWAMID(t *testing.T, to string) string {
	t.Helper()
	var recs []struct {
		WAMID   string `json:"wamid"`
		Request struct {
			To string `json:"to"`
		} `json:"request"`
	}
	e.sandboxGet(t, "/_sandbox/messages", &recs)
	for i := len(recs) - 1; i >= 0; i-- {
		if strings.TrimPrefix(recs[i].Request.To, "+") == to[1:] {
			return recs[i].WAMID
		}
	}
	t.Fatal("the sandbox accepted no message for the recipient")
	return ""
}

func (e *env) sandboxGet(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(e.st.SandboxURL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}
