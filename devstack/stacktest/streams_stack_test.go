package stacktest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/secrets"
)

// TestAuditStreamReachesEventsFunction follows a change through the
// stack's wiring of the template's stream trigger (devstack/streams): a
// consent recorded through the gateway writes the audit table, whose
// stream the local event source mapping reads, and the events function is
// invoked with the batch (its summary line, action "stream").
func TestAuditStreamReachesEventsFunction(t *testing.T) {
	st := stacktest.Require(t)
	st.RequireLog(t)
	ctx := ctxT(t)
	ops, err := secrets.NewStore(secretsmanager.NewFromConfig(st.AWS(t)), time.Minute).Get(ctx, "waguard/"+stage(st)+"/clients/ops", secrets.StageCurrent)
	if err != nil {
		t.Fatalf("read the ops client secret: %v", err)
	}
	body, _ := json.Marshal(map[string]string{"phone": fictionalNumber(t), "purpose": "transactional", "action": "grant",
		"method": "web_form", "policy_version": "2026-01"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.GatewayURL+"/v1/consents", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+string(apiauth.PresentedKey("ops", ops.Get("key")).Reveal()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /v1/consents err = %v", err)
	}
	resp.Body.Close()
	written := time.Now()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST /v1/consents status = %d, want 2xx", resp.StatusCode)
	}
	for deadline := written.Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		for _, l := range readFunctionLines(t, st.Log) {
			at, _ := time.Parse(time.RFC3339Nano, str(l.Fields["timestamp"]))
			records, _ := l.Fields["records"].(float64)
			if strings.HasPrefix(l.Instance, "EventsFunction#") && l.Fields["action"] == "stream" && records > 0 && at.After(written.Add(-time.Second)) {
				t.Logf("audit write → events function: %v", at.Sub(written).Round(time.Millisecond))
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the events function logged no stream batch after the consent's audit write")
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
