package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/audit"
	wgevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/notice"
	"github.com/waguard/waguard/shared/store"
)

// The end-to-end tests of the events (issue 15), through the gateway on
// the local stack; e2e_env_test.go has the harness.

// eventWait bounds how long an event may take from the change to a
// destination (typically under a second locally).
const eventWait = 15 * time.Second

// checkArrival checks what every delivery to the sandbox must be: signed
// so that the official Standard Webhooks library verifies it, acknowledged,
// the webhook-id the event id, and the event's time now.
func checkArrival(t *testing.T, a arrival) {
	t.Helper()
	if !a.Verified || a.Status != http.StatusOK || a.Headers["webhook-id"] != a.ID || !strings.HasPrefix(a.ID, "evt_") || a.Signatures < 1 {
		t.Errorf("delivery %s: verified %v (%s), status %d, webhook-id %q, %d signatures; want verified, 200, the event id",
			a.ID, a.Verified, a.Error, a.Status, a.Headers["webhook-id"], a.Signatures)
	}
	at, err := time.Parse(time.RFC3339Nano, a.EventTime)
	if err != nil || time.Since(at) > time.Minute || time.Until(at) > 5*time.Second {
		t.Errorf("delivery %s: event time %q, want now", a.ID, a.EventTime)
	}
}

// checkBus finds the bus event of the delivery a and checks it: source
// waguard, detail-type the event type, and the event without content (the
// data want).
func (e *e2eEnv) checkBus(t *testing.T, a arrival, want map[string]any) {
	t.Helper()
	ev, detail := e.busEvent(t, a.ID)
	if ev.Source != wgevents.Source || ev.DetailType != a.Type {
		t.Errorf("bus event %s: source %q, detail-type %q; want waguard, %s", a.ID, ev.Source, ev.DetailType, a.Type)
	}
	wantDetail := map[string]any{"id": a.ID, "type": a.Type, "time": a.EventTime, "data": want}
	if diff := cmp.Diff(wantDetail, detail); diff != "" {
		t.Errorf("bus event %s detail (-want +got):\n%s", a.ID, diff)
	}
}

// withContent returns data plus the person's content fields.
func withContent(data map[string]any, content map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range []map[string]any{data, content} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestE2EMessageReceived: an inbound message becomes message.received on
// the bus (ids and non-personal fields only) and at the sandbox endpoint
// (verified, with the content), under one event id; its message_id reads
// the message through GET /v1/messages/{id}, which audits the read once.
func TestE2EMessageReceived(t *testing.T) {
	e := newE2E(t)
	p := e.newPerson(t)
	wamid := e.text(t, p, "e2e where is parcel "+tag())
	a := e.awaitDelivery(t, eventWait, "message.received", of(p, wgevents.TypeMessageReceived))
	checkArrival(t, a)
	msgID := store.InboundMessageID(e.r.h.Keys.Lookup("wamid", wamid))
	data := map[string]any{"contact_id": p.contact, "message_id": msgID, "direction": "in", "type": "text", "purpose": "support"}
	if diff := cmp.Diff(withContent(data, map[string]any{"phone": p.phone, "user_id": p.userID, "username": p.username,
		"profile_name": p.name, "text": p.texts[0]}), a.data); diff != "" {
		t.Errorf("sandbox delivery data (-want +got):\n%s", diff)
	}
	e.checkBus(t, a, data)

	status, msg, rid := e.api(t, "GET", "/v1/messages/"+msgID, nil)
	if status != 200 || msg["id"] != msgID || msg["contact_id"] != p.contact || msg["text"] != p.texts[0] || msg["phone"] != p.phone ||
		msg["provider_message_id"] != wamid || msg["direction"] != "in" {
		t.Errorf("GET /v1/messages/{the event's message_id} = %d %v, want the message", status, msg)
	}
	got := e.st.AuditEvents(t, rid, string(audit.EventDataAccess))
	want := []stackAudit{{Caller: "ops", Subject: p.pseudonymKey, Details: map[string]string{"route": "GET /v1/messages/{id}", "count": "1",
		"message": msgID}}}
	if diff := cmp.Diff(want, auditsOf(got)); diff != "" {
		t.Errorf("data_access audit events of the read (-want +got):\n%s", diff)
	}
}

// TestE2EMessageStatus: a failed status of a message sent through the
// API becomes message.status with status failed and Meta's error code.
func TestE2EMessageStatus(t *testing.T) {
	e := newE2E(t)
	p := e.newPerson(t)
	e.text(t, p, "e2e hello "+tag()) // known, and in the customer-service window
	if status, out, _ := e.api(t, "POST", "/v1/consents", map[string]string{"phone": p.phone, "purpose": "transactional", "action": "grant",
		"method": "web_form", "policy_version": "2026-01"}); status != 201 {
		t.Fatalf("grant = %d %v", status, out)
	}
	template := map[string]any{"name": "order_update", "language": "en_US"}
	status, sent, _ := e.api(t, "POST", "/v1/messages", map[string]any{"to": p.phone, "purpose": "transactional", "template": template})
	if status != 202 {
		t.Fatalf("send = %d %v", status, sent)
	}
	id, wamid := sent["id"].(string), sent["provider_message_id"].(string)
	e.deliver(t, map[string]any{"kind": "status", "wamid": wamid, "status": "failed", "error_code": 131026})
	a := e.awaitDelivery(t, eventWait, "failed message.status", func(a arrival) bool {
		return of(p, wgevents.TypeMessageStatus)(a) && a.data["message_id"] == id && a.data["status"] == "failed"
	})
	checkArrival(t, a)
	data := map[string]any{"contact_id": p.contact, "message_id": id, "direction": "out", "status": "failed", "error_code": float64(131026)}
	if diff := cmp.Diff(withContent(data, map[string]any{"phone": p.phone, "template": template}), a.data); diff != "" {
		t.Errorf("sandbox delivery data (-want +got):\n%s", diff)
	}
	e.checkBus(t, a, data)
}

// TestE2EConsentChanged: a STOP from the person revokes marketing
// (method whatsapp_keyword) and a consent recorded through the API keeps
// its method and names the notice shown; both become consent.changed.
func TestE2EConsentChanged(t *testing.T) {
	e := newE2E(t)
	p := e.newPerson(t)
	e.text(t, p, "STOP")
	a := e.awaitDelivery(t, eventWait, "consent.changed (STOP)", of(p, wgevents.TypeConsentChanged))
	checkArrival(t, a)
	cev, _ := a.data["consent_event_id"].(string)
	if !strings.HasPrefix(cev, "cev_") {
		t.Errorf("consent_event_id = %q, want cev_…", cev)
	}
	data := map[string]any{"contact_id": p.contact, "consent_event_id": cev, "purpose": "marketing", "action": "revoke", "method": "whatsapp_keyword"}
	if diff := cmp.Diff(withContent(data, map[string]any{"phone": p.phone, "user_id": p.userID}), a.data); diff != "" {
		t.Errorf("STOP: sandbox delivery data (-want +got):\n%s", diff)
	}
	e.checkBus(t, a, data)

	shown := "Offers from Example Ltd by WhatsApp; reply STOP to opt out. " + tag()
	status, out, _ := e.api(t, "POST", "/v1/consents", map[string]string{"phone": p.phone, "purpose": "marketing", "action": "grant",
		"method": "double_opt_in", "policy_version": "2026-02", "notice": shown})
	if status != 201 {
		t.Fatalf("grant = %d %v", status, out)
	}
	id := out["id"].(string)
	a = e.awaitDelivery(t, eventWait, "consent.changed (API)", func(a arrival) bool {
		return of(p, wgevents.TypeConsentChanged)(a) && a.data["consent_event_id"] == id
	})
	checkArrival(t, a)
	data = map[string]any{"contact_id": p.contact, "consent_event_id": id, "purpose": "marketing", "action": "grant", "method": "double_opt_in",
		"notice_sha256": notice.ID(shown)}
	if diff := cmp.Diff(withContent(data, map[string]any{"phone": p.phone, "user_id": p.userID}), a.data); diff != "" {
		t.Errorf("API grant: sandbox delivery data (-want +got):\n%s", diff)
	}
	e.checkBus(t, a, data)
}

// TestE2EErasureNotice: the erasure of a person whose events reached the
// sandbox sends subject.erased, under their contact id, to the bus and the
// sandbox; the erasure request lists both recipients, notified and
// acknowledged, and completes.
func TestE2EErasureNotice(t *testing.T) {
	e := newE2E(t)
	p := e.newPerson(t)
	e.text(t, p, "e2e please forget me "+tag())
	first := e.awaitDelivery(t, eventWait, "message.received", of(p, wgevents.TypeMessageReceived))
	e.busEvent(t, first.ID)
	id := e.erase(t, p)
	a := e.awaitDelivery(t, eventWait, "subject.erased", of(p, wgevents.TypeSubjectErased))
	checkArrival(t, a)
	data := map[string]any{"contact_id": p.contact, "erasure_request_id": id}
	if diff := cmp.Diff(data, a.data); diff != "" {
		t.Errorf("sandbox delivery data (-want +got):\n%s", diff)
	}
	e.checkBus(t, a, data)
	r := e.awaitErasure(t, id)
	var got []string
	for _, rc := range r["recipients"].([]any) {
		m := rc.(map[string]any)
		ok := parses(m["notified_at"]) && parses(m["acknowledged_at"]) && m["failed_at"] == nil
		got = append(got, m["destination"].(string)+map[bool]string{true: " acknowledged", false: " not settled"}[ok])
	}
	if diff := cmp.Diff([]string{"bus acknowledged", "sandbox acknowledged"}, got); diff != "" {
		t.Errorf("erasure request recipients (-want +got):\n%s\n%v", diff, r["recipients"])
	}
	proof := e.st.AuditEvents(t, id, string(audit.EventDataDeletion))
	if len(proof) != 1 || proof[0].Details["recipients"] != "bus,sandbox" || r["audit_event"] == nil {
		t.Errorf("data_deletion proof = %+v, want one naming the recipients bus and sandbox", proof)
	}
}

// TestE2EEndpointRecovers: the sandbox endpoint fails the first attempt
// of an event; the bus has it at once, and the retry run delivers it to
// the endpoint once it recovers, with the same webhook-id and data.
func TestE2EEndpointRecovers(t *testing.T) {
	e := newE2E(t)
	p := e.newPerson(t)
	e.text(t, p, "e2e first "+tag())
	e.awaitDelivery(t, eventWait, "message.received", of(p, wgevents.TypeMessageReceived))
	e.fault(t, sandbox.EndpointFault{Status: http.StatusServiceUnavailable, Count: 1, ContactID: p.contact})
	e.text(t, p, "e2e second "+tag())
	failed := e.awaitDelivery(t, eventWait, "failed attempt", func(a arrival) bool {
		return of(p, wgevents.TypeMessageReceived)(a) && a.data["text"] == p.texts[1]
	})
	if failed.Status != http.StatusServiceUnavailable || !failed.Verified {
		t.Fatalf("first attempt: status %d, verified %v; want the fault's 503, verified", failed.Status, failed.Verified)
	}
	e.busEvent(t, failed.ID) // a failing endpoint does not hold up the bus
	d := e.retryWhenDue(t, failed.ID)
	if d.State != store.DeliveryDelivered || d.Attempts != 2 {
		t.Errorf("delivery after the retry = %+v, want delivered after 2 attempts", d)
	}
	all := e.deliveries(t, withID(failed.ID))
	if len(all) != 2 {
		t.Fatalf("the sandbox got %d attempts of %s, want 2", len(all), failed.ID)
	}
	checkArrival(t, all[1])
	if all[1].Headers["webhook-id"] != failed.ID || !cmp.Equal(all[0].data, all[1].data) {
		t.Errorf("the retry: webhook-id %q, data %v; want %s and the first attempt's data", all[1].Headers["webhook-id"], all[1].data, failed.ID)
	}
}

// TestE2EPendingThenDelivered: an endpoint that fails (until told
// otherwise) leaves the delivery pending, due again about 5 s later, with
// its last error; once it recovers, the retry run delivers it. (The dead
// letter after the 28-hour schedule is TestDeadLetterAfterTheSchedule's.)
func TestE2EPendingThenDelivered(t *testing.T) {
	e := newE2E(t)
	p := e.newPerson(t)
	e.text(t, p, "e2e first "+tag())
	e.awaitDelivery(t, eventWait, "message.received", of(p, wgevents.TypeMessageReceived))
	e.fault(t, sandbox.EndpointFault{Status: http.StatusInternalServerError, Always: true, ContactID: p.contact})
	e.text(t, p, "e2e second "+tag())
	failed := e.awaitDelivery(t, eventWait, "failed attempt", func(a arrival) bool {
		return of(p, wgevents.TypeMessageReceived)(a) && a.data["text"] == p.texts[1]
	})
	d, err := e.awaitState(t, failed.ID, "sandbox")
	if err != nil || d.State != store.DeliveryPending || d.Attempts != 1 || d.LastError != "HTTP 500" ||
		d.NextAt.Before(failed.Time.Add(3*time.Second)) || d.NextAt.After(failed.Time.Add(7*time.Second)) {
		t.Fatalf("delivery state = %+v, %v; want pending after 1 attempt, HTTP 500, due about 5 s after it", d, err)
	}
	e.clearFaults(t)
	if d = e.retryWhenDue(t, failed.ID); d.State != store.DeliveryDelivered || d.Attempts != 2 {
		t.Errorf("delivery after the fault cleared = %+v, want delivered after 2 attempts", d)
	}
	if all := e.deliveries(t, withID(failed.ID)); len(all) != 2 || all[1].Status != http.StatusOK || !all[1].Verified {
		t.Errorf("the sandbox got %d attempts of %s, want the failed one and a verified 200", len(all), failed.ID)
	}
}

// TestE2EErasedWhileWaiting: a person erased while their event waits for
// a retry: the retry never delivers it, and its delivery is dropped (not
// a dead letter for an operator to redrive).
func TestE2EErasedWhileWaiting(t *testing.T) {
	e := newE2E(t)
	p := e.newPerson(t)
	e.text(t, p, "e2e first "+tag())
	e.awaitDelivery(t, eventWait, "message.received", of(p, wgevents.TypeMessageReceived))
	e.fault(t, sandbox.EndpointFault{Status: http.StatusServiceUnavailable, Always: true, ContactID: p.contact,
		Type: string(wgevents.TypeMessageReceived)})
	e.text(t, p, "e2e secret "+tag())
	failed := e.awaitDelivery(t, eventWait, "failed attempt", func(a arrival) bool {
		return of(p, wgevents.TypeMessageReceived)(a) && a.data["text"] == p.texts[1]
	})
	id := e.erase(t, p)
	e.awaitDelivery(t, eventWait, "subject.erased", of(p, wgevents.TypeSubjectErased))
	e.awaitErasure(t, id)
	e.clearFaults(t) // the endpoint is back: only the erasure keeps the event from it
	d := e.retryWhenDue(t, failed.ID)
	if d.State != store.DeliveryDropped {
		t.Errorf("delivery after the erasure = %+v, want dropped", d)
	}
	for _, a := range e.deliveries(t, withID(failed.ID)) {
		if a.Status == http.StatusOK {
			t.Errorf("the sandbox acknowledged %s (seq %d) after the person's erasure", failed.ID, a.Seq)
		}
	}
}

// erase asks for p's erasure through the API and returns the request id.
func (e *e2eEnv) erase(t *testing.T, p *person) string {
	t.Helper()
	status, out, _ := e.api(t, "POST", "/v1/erasure-requests", map[string]string{"phone": p.phone, "reason": "user_request"})
	id, _ := out["id"].(string)
	if status != 202 || !strings.HasPrefix(id, "er_") {
		t.Fatalf("erasure = %d %v, want 202 and its id", status, out)
	}
	return id
}

// awaitErasure reads the erasure request until it completes (a GET
// completes a proven request whose endpoints all settled).
func (e *e2eEnv) awaitErasure(t *testing.T, id string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(eventWait); ; time.Sleep(200 * time.Millisecond) {
		status, r, _ := e.api(t, "GET", "/v1/erasure-requests/"+id, nil)
		if status == 200 && r["status"] == "completed" {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("erasure request %s = %d %v, want completed within %s", id, status, r, eventWait)
		}
	}
}

func parses(v any) bool {
	s, _ := v.(string)
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

func tag() string { return strings.ToLower(testIDs.EncodeToString(randBytes(4))) }

// stackAudit is an audit event as these tests compare it.
type stackAudit struct {
	Caller, Subject string
	Details         map[string]string
}

func auditsOf(evs []stacktest.AuditEvent) []stackAudit {
	var out []stackAudit
	for _, ev := range evs {
		out = append(out, stackAudit{Caller: ev.Caller, Subject: ev.Subject, Details: ev.Details})
	}
	return out
}
