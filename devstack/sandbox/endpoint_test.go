package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/endpoint"
)

// Synthetic endpoint secrets (whsec_ and the base64 of 32 bytes), used
// nowhere else.
const (
	testEndpointSecret = "whsec_dGVzdC1zYW5kYm94LWVuZHBvaW50LW5ldy0zMmJ5dGU="
	testEndpointOld    = "whsec_dGVzdC1zYW5kYm94LWVuZHBvaW50LW9sZC0zMmJ5dGU="
	testEndpointOther  = "whsec_dGVzdC1zYW5kYm94LWVuZHBvaW50LW90aGVyLTMyYnk="
)

// signer returns an endpoint signing with secret and, when prev is set,
// with prev too for the next hour, through waguard's own signer.
func signer(t *testing.T, secret, prev string) endpoint.Endpoint {
	t.Helper()
	doc := map[string]any{"kind": endpoint.Kind, "url": "http://127.0.0.1:1" + EndpointPath, "secret": secret}
	if prev != "" {
		doc["previous_secret"], doc["previous_until"] = prev, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	}
	b, _ := json.Marshal(doc)
	e, err := endpoint.Parse("sandbox", "v", b)
	if err != nil {
		t.Fatalf("endpoint.Parse() err = %v, want nil", err)
	}
	return e
}

// deliveryBody is a payload as waguard sends it.
func deliveryBody(typ, contactID string) []byte {
	return []byte(`{"type":"` + typ + `","timestamp":"2026-01-01T00:00:00Z","data":{"contact_id":"` + contactID + `","phone":"+447700900123"}}`)
}

// post delivers body to the sandbox's endpoint with headers h.
func post(t *testing.T, url string, h map[string]string, body []byte) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+EndpointPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := loopbackClient().Do(req)
	if err != nil {
		t.Fatalf("POST %s err = %v, want nil", EndpointPath, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b.Bytes()}
}

// signed returns the headers of e's signature of body, attempted at t.
func signed(t *testing.T, e endpoint.Endpoint, id string, at time.Time, body []byte) map[string]string {
	t.Helper()
	h, err := e.Sign(id, at, body)
	if err != nil {
		t.Fatalf("Sign() err = %v, want nil", err)
	}
	return h.Map()
}

func TestEndpointVerifies(t *testing.T) {
	body := deliveryBody("message.received", "ct_AAAA")
	now := time.Now()
	tests := []struct {
		name       string
		configured []string
		headers    map[string]string
		body       []byte
		wantStatus int
		wantOK     bool
		wantError  string
		wantSigs   int
	}{
		{"current secret", []string{testEndpointSecret}, signed(t, signer(t, testEndpointSecret, ""), "evt_1", now, body), body, 200, true, "", 1},
		{"overlap, receiver has the old secret", []string{testEndpointOld}, signed(t, signer(t, testEndpointSecret, testEndpointOld), "evt_2", now, body), body, 200, true, "", 2},
		{"overlap, receiver has the new secret", []string{testEndpointSecret}, signed(t, signer(t, testEndpointSecret, testEndpointOld), "evt_3", now, body), body, 200, true, "", 2},
		{"receiver has both", []string{testEndpointOld, testEndpointSecret}, signed(t, signer(t, testEndpointSecret, ""), "evt_4", now, body), body, 200, true, "", 1},
		{"unknown secret", []string{testEndpointOther}, signed(t, signer(t, testEndpointSecret, ""), "evt_5", now, body), body, 401, false, "no matching signature", 1},
		{"tampered body", []string{testEndpointSecret}, signed(t, signer(t, testEndpointSecret, ""), "evt_6", now, body), append(bytes.Clone(body), ' '), 401, false, "no matching signature", 1},
		{"stale timestamp", []string{testEndpointSecret}, signed(t, signer(t, testEndpointSecret, ""), "evt_7", now.Add(-6*time.Minute), body), body, 401, false, "too old", 1},
		{"no secret configured", nil, signed(t, signer(t, testEndpointSecret, ""), "evt_8", now, body), body, 401, false, "no endpoint secret", 1},
		{"unsigned", []string{testEndpointSecret}, nil, body, 401, false, "missing required headers", 0},
		{"not a payload", []string{testEndpointSecret}, signed(t, signer(t, testEndpointSecret, ""), "evt_9", now, []byte(`[1]`)), []byte(`[1]`), 400, true, "not a Standard Webhooks payload", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, srv := newTestSandbox(t, Options{EndpointSecrets: tt.configured})
			r := post(t, srv.URL, tt.headers, tt.body)
			var ans struct {
				Verified bool `json:"verified"`
				Seq      int  `json:"seq"`
			}
			decodeInto(t, r.body, &ans)
			if r.status != tt.wantStatus || ans.Verified != tt.wantOK || ans.Seq != 1 {
				t.Fatalf("POST %s = %d %s, want %d verified %v seq 1", EndpointPath, r.status, r.body, tt.wantStatus, tt.wantOK)
			}
			got := sb.EndpointDeliveries()
			if len(got) != 1 {
				t.Fatalf("EndpointDeliveries() = %d, want 1", len(got))
			}
			d := got[0]
			if d.Verified != tt.wantOK || d.Status != tt.wantStatus || !strings.Contains(d.Error, tt.wantError) || d.Signatures != tt.wantSigs ||
				d.ID != tt.headers["webhook-id"] || d.Timestamp != tt.headers["webhook-timestamp"] || d.Headers["webhook-signature"] != tt.headers["webhook-signature"] {
				t.Errorf("delivery = %+v, want verified %v status %d error containing %q, %d signatures, the headers", d, tt.wantOK, tt.wantStatus, tt.wantError, tt.wantSigs)
			}
			if tt.wantStatus == 200 && (d.Type != "message.received" || d.EventTime != "2026-01-01T00:00:00Z" ||
				!strings.Contains(string(d.Data), `"contact_id":"ct_AAAA"`) || d.Timestamp != strconv.FormatInt(now.Unix(), 10)) {
				t.Errorf("delivery = %+v, want the payload's type, timestamp and data", d)
			}
		})
	}
}

func TestEndpointFaults(t *testing.T) {
	e := signer(t, testEndpointSecret, "")
	deliver := func(t *testing.T, url, typ, contact string) (int, time.Duration) {
		t.Helper()
		body := deliveryBody(typ, contact)
		start := time.Now()
		r := post(t, url, signed(t, e, "evt_f", time.Now(), body), body)
		return r.status, time.Since(start)
	}
	tests := []struct {
		name     string
		faults   []string
		typ      string
		contact  string
		want     []int
		minDelay time.Duration
	}{
		{"status for the next two", []string{`{"status":503,"count":2}`}, "message.status", "ct_A", []int{503, 503, 200}, 0},
		{"always", []string{`{"status":500,"always":true}`}, "message.status", "ct_A", []int{500, 500, 500, 500}, 0},
		{"slow then accepted", []string{`{"delay_ms":150}`}, "message.status", "ct_A", []int{200, 200}, 150 * time.Millisecond},
		{"slow and failing", []string{`{"status":504,"delay_ms":100}`}, "message.status", "ct_A", []int{504, 200}, 100 * time.Millisecond},
		{"gone", []string{`{"status":410}`}, "message.status", "ct_A", []int{410, 200}, 0},
		{"other type untouched", []string{`{"status":503,"type":"subject.erased"}`}, "message.status", "ct_A", []int{200, 200}, 0},
		{"matching type", []string{`{"status":503,"type":"subject.erased"}`}, "subject.erased", "ct_A", []int{503, 200}, 0},
		{"other contact untouched", []string{`{"status":503,"contact_id":"ct_B"}`}, "message.status", "ct_A", []int{200}, 0},
		{"matching contact", []string{`{"status":503,"contact_id":"ct_B"}`}, "message.status", "ct_B", []int{503, 200}, 0},
		{"in queue order", []string{`{"status":500}`, `{"status":502}`}, "message.status", "ct_A", []int{500, 502, 200}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, srv := newTestSandbox(t, Options{EndpointSecrets: []string{testEndpointSecret}})
			for _, f := range tt.faults {
				if r := do(t, http.MethodPost, srv.URL+EndpointPath+"/faults", "", []byte(f)); r.status != http.StatusCreated {
					t.Fatalf("POST faults %s = %d %s, want 201", f, r.status, r.body)
				}
			}
			for i, want := range tt.want {
				status, took := deliver(t, srv.URL, tt.typ, tt.contact)
				if status != want {
					t.Errorf("delivery %d status = %d, want %d", i+1, status, want)
				}
				if i == 0 && took < tt.minDelay {
					t.Errorf("delivery 1 took %v, want at least %v", took, tt.minDelay)
				}
			}
			if got := sb.EndpointDeliveries(); len(got) != len(tt.want) || got[0].Status != tt.want[0] || !got[0].Verified {
				t.Errorf("EndpointDeliveries() = %+v, want %d records, the first answered %d and verified", got, len(tt.want), tt.want[0])
			}
		})
	}
}

func TestEndpointAdminRoutes(t *testing.T) {
	var source atomic.Pointer[[]string] // what the stack's store holds
	sb, srv := newTestSandbox(t, Options{EndpointSecretSource: func() []string {
		if p := source.Load(); p != nil {
			return *p
		}
		return nil
	}})
	for _, bad := range []string{`{"status":100}`, `{"status":600}`, `{"count":-1,"status":500}`, `{"delay_ms":60001}`, `{}`, `{"status":500,"x":1}`, `{`} {
		if r := do(t, http.MethodPost, srv.URL+EndpointPath+"/faults", "", []byte(bad)); r.status != http.StatusBadRequest {
			t.Errorf("POST faults %s = %d, want 400", bad, r.status)
		}
	}
	do(t, http.MethodPost, srv.URL+EndpointPath+"/faults", "", []byte(`{"status":503,"count":3}`))
	var faults []EndpointFault
	decodeInto(t, do(t, http.MethodGet, srv.URL+EndpointPath+"/faults", "", nil).body, &faults)
	if len(faults) != 1 || faults[0].Count != 3 {
		t.Errorf("GET faults = %+v, want one with count 3", faults)
	}
	if r := do(t, http.MethodDelete, srv.URL+EndpointPath+"/faults", "", nil); r.status != http.StatusNoContent || len(sb.EndpointFaults()) != 0 {
		t.Errorf("DELETE faults = %d, %d left; want 204, none", r.status, len(sb.EndpointFaults()))
	}

	body := deliveryBody("consent.changed", "ct_A")
	h := signed(t, signer(t, testEndpointSecret, ""), "evt_a", time.Now(), body)
	if r := post(t, srv.URL, h, body); r.status != http.StatusUnauthorized {
		t.Errorf("delivery before any secret = %d, want 401", r.status)
	}
	source.Store(&[]string{testEndpointSecret})
	if r := post(t, srv.URL, h, body); r.status != http.StatusOK {
		t.Errorf("delivery with the source's secret = %d %s, want 200", r.status, r.body)
	}
	source.Store(nil)
	if r := do(t, http.MethodPut, srv.URL+"/_sandbox/credentials", "", []byte(`{"endpoint_secrets":["`+testEndpointSecret+`"]}`)); r.status != http.StatusNoContent {
		t.Fatalf("PUT credentials = %d, want 204", r.status)
	}
	if r := post(t, srv.URL, h, body); r.status != http.StatusOK {
		t.Errorf("delivery after PUT credentials = %d %s, want 200", r.status, r.body)
	}
	var list []EndpointDelivery
	decodeInto(t, do(t, http.MethodGet, srv.URL+"/_sandbox/deliveries", "", nil).body, &list)
	if len(list) != 3 || list[0].Seq != 1 || list[2].Seq != 3 || list[0].Verified || !list[2].Verified || list[2].ID != "evt_a" {
		t.Errorf("GET deliveries = %+v, want 3 in order, the first unverified, the last verified", list)
	}
	if r := do(t, http.MethodDelete, srv.URL+"/_sandbox/deliveries", "", nil); r.status != http.StatusNoContent || len(sb.EndpointDeliveries()) != 0 {
		t.Errorf("DELETE deliveries = %d, %d left; want 204, none", r.status, len(sb.EndpointDeliveries()))
	}
}

func TestEndpointListsEmpty(t *testing.T) {
	_, srv := newTestSandbox(t, Options{})
	for _, path := range []string{"/_sandbox/deliveries", EndpointPath + "/faults"} {
		if r := do(t, http.MethodGet, srv.URL+path, "", nil); r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != "[]" {
			t.Errorf("GET %s = %d %s, want 200 []", path, r.status, r.body)
		}
	}
}
