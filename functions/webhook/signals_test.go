package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/shared/bsuid"
	"github.com/waguard/waguard/shared/consent"
	wgevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/subject"
)

// These tests send every consent signal WhatsApp gives (issue 16)
// through the production wiring, in the shapes of testdata/meta.

// preferenceBody is a user_preferences delivery for a person named by
// a number, a BSUID, or both (Meta may withhold the number).
func preferenceBody(from, userID, value string, at time.Time) []byte {
	c := map[string]any{"profile": map[string]any{"name": "Test User"}}
	p := map[string]any{"detail": "User requested to " + value + " marketing messages", "category": "marketing_messages",
		"value": value, "timestamp": at.Unix()}
	if from != "" {
		c["wa_id"], p["wa_id"] = from, from
	}
	if userID != "" {
		c["user_id"], p["user_id"] = userID, userID
	}
	b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "109999999999901",
		"changes": []any{map[string]any{"field": "user_preferences", "value": map[string]any{"messaging_product": "whatsapp",
			"metadata": map[string]any{"display_phone_number": "12025550100", "phone_number_id": sandbox.DefaultPhoneNumberID},
			"contacts": []any{c}, "user_preferences": []any{p}}}}}}})
	return b
}

// deliverWant delivers body and fails unless the answer holds want.
func (h *Handler) deliverWant(t *testing.T, what string, body []byte, want string) {
	t.Helper()
	if status, got := h.deliverMeta(t, body); status != 200 || !strings.Contains(got, want) {
		t.Fatalf("%s = %d %s, want 200 %s", what, status, got, want)
	}
}

// ledgerOf is who's marketing ledger: method:action, oldest first.
func ledgerOf(t *testing.T, h *Handler, who subject.Who) []string {
	t.Helper()
	var out []string
	for _, ev := range h.profileOf(t, who).Ledger {
		if ev.Purpose == "marketing" {
			out = append(out, ev.Method+":"+ev.Action)
		}
	}
	return out
}

// consentRecords counts the consent.changed event records of subject.
func consentRecords(t *testing.T, h *Handler, subjectKey string) int {
	t.Helper()
	st := stacktestStack(t)
	db := dynamodb.NewFromConfig(st.AWS(t))
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &st.DataTable,
		FilterExpression:          aws.String("#s = :s AND #t = :t"),
		ExpressionAttributeNames:  map[string]string{"#s": "subject", "#t": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: subjectKey}, ":t": &types.AttributeValueMemberS{Value: string(wgevents.TypeConsentChanged)}}})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("Scan() err = %v", err)
		}
		n += len(page.Items)
	}
	return n
}

// TestPreferenceStopAndResume: a user who stops marketing in WhatsApp's
// settings (named by BSUID alone, Meta withholding the number) is revoked
// and suppressed, once however often Meta redelivers; the resume is in
// the ledger and lifts that suppression, but grants nothing.
func TestPreferenceStopAndResume(t *testing.T) {
	h, _, _ := newStackHandler(t)
	u := testUserID(t)
	who := subject.Who{User: mustUser(t, u)}
	at := time.Now().Add(-time.Minute)
	h.deliverWant(t, "START", metaBody(msg{userID: u, text: "START", at: at.Add(-time.Minute)}), `"received":1`)
	stop := preferenceBody("", u, "stop", at)
	h.deliverWant(t, "stop", stop, `"received":1`)
	h.deliverWant(t, "stop redelivered", stop, `"duplicates":1`)
	p := h.profileOf(t, who)
	if p.Suppressed["marketing"] != consent.ReasonPreferences || p.Consented("marketing") {
		t.Errorf("after stop: suppressed %q, consented %v; want %q and not consented", p.Suppressed["marketing"], p.Consented("marketing"), consent.ReasonPreferences)
	}
	h.deliverWant(t, "resume", preferenceBody("", u, "resume", at.Add(time.Second)), `"received":1`)
	p = h.profileOf(t, who)
	if _, held := p.Suppressed["marketing"]; held || p.State("marketing") != "revoked" {
		t.Errorf("after resume: suppressed %v, state %q; want no suppression and still revoked (a resume is not consent)", held, p.State("marketing"))
	}
	want := []string{"whatsapp_keyword:grant", "whatsapp_preferences:revoke", "whatsapp_preferences:resume"}
	if got := ledgerOf(t, h, who); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ledger = %v, want %v", got, want)
	}
	sub, _ := h.Subjects.Find(context.Background(), who)
	if got := consentRecords(t, h, sub.Key); got != 3 {
		t.Errorf("consent.changed records = %d, want 3 (START, stop, resume; none for the redelivery)", got)
	}
}

// TestResumeKeepsAPersonsOwnStop: a STOP sent to the business stays the
// reason of the suppression when WhatsApp's setting later stops and
// resumes: only a fresh grant lifts it.
func TestResumeKeepsAPersonsOwnStop(t *testing.T) {
	h, _, _ := newStackHandler(t)
	from := testNumber(t)
	at := time.Now().Add(-time.Minute)
	h.deliverWant(t, "STOP", metaBody(msg{from: from, text: "STOP", at: at}), `"received":1`)
	h.deliverWant(t, "stop", preferenceBody(from, "", "stop", at.Add(time.Second)), `"received":1`)
	h.deliverWant(t, "resume", preferenceBody(from, "", "resume", at.Add(2*time.Second)), `"received":1`)
	if got := h.profileOf(t, byNumber(from)).Suppressed["marketing"]; got != consent.ReasonStopKeyword {
		t.Errorf("suppression reason = %q, want %q", got, consent.ReasonStopKeyword)
	}
}

// TestStopPromotionsButton: tapping a marketing template's "Stop
// promotions" quick reply revokes marketing and suppresses it (method
// whatsapp_button); another quick reply changes nothing.
func TestStopPromotionsButton(t *testing.T) {
	h, _, _ := newStackHandler(t)
	for _, tt := range []struct {
		file, wantLedger, wantReason string
	}{
		{"button_stop_promotions.json", "whatsapp_button:revoke", consent.ReasonStopButton},
		{"button.json", "", ""},
	} {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			p := fill(t, h, tt.file, time.Now())
			h.deliverWant(t, "button", p.body, `"received":1`)
			h.deliverWant(t, "button redelivered", p.body, `"duplicates":1`)
			who := byNumber(p.from)
			if got := strings.Join(ledgerOf(t, h, who), " "); got != tt.wantLedger {
				t.Errorf("ledger = %q, want %q", got, tt.wantLedger)
			}
			if got := h.profileOf(t, who).Suppressed["marketing"]; got != tt.wantReason {
				t.Errorf("suppression reason = %q, want %q", got, tt.wantReason)
			}
		})
	}
}

// TestStatus131050RevokesMarketing: Meta refuses a marketing message in a
// failed status with 131050 (the person stopped marketing in WhatsApp):
// the status is recorded and the ledger says why marketing is suppressed,
// once however often Meta redelivers.
func TestStatus131050RevokesMarketing(t *testing.T) {
	h, _, _ := newStackHandler(t)
	p := fill(t, h, "status_failed_131050.json", time.Now())
	putOutbound(t, h, p)
	h.deliverWant(t, "status", p.body, `"received":1`)
	h.deliverWant(t, "status redelivered", p.body, `"duplicates":1`)
	who := byNumber(p.from)
	if got := strings.Join(ledgerOf(t, h, who), " "); got != "provider_131050:revoke" {
		t.Errorf("ledger = %q, want provider_131050:revoke", got)
	}
	if got := h.profileOf(t, who).Suppressed["marketing"]; got != consent.ReasonMeta131050 {
		t.Errorf("suppression reason = %q, want %q", got, consent.ReasonMeta131050)
	}
	if got := consentRecords(t, h, p.index); got != 1 {
		t.Errorf("consent.changed records = %d, want 1", got)
	}
	// WhatsApp's resume lifts what its setting caused.
	h.deliverWant(t, "resume", preferenceBody(p.from, "", "resume", time.Now()), `"received":1`)
	if _, held := h.profileOf(t, who).Suppressed["marketing"]; held {
		t.Errorf("after resume: still suppressed, want lifted")
	}
}

// TestStartLiftsAMergedSubjectsStop: a person STOPs by BSUID alone, is
// then written to by number (a second subject with data), and a message
// showing both merges them; their START must lift the STOP held in the
// merged partition too (before, only the home partition's was lifted and
// the person stayed suppressed after consenting again).
func TestStartLiftsAMergedSubjectsStop(t *testing.T) {
	h, _, _ := newStackHandler(t)
	from, u := testNumber(t), testUserID(t)
	at := time.Now().Add(-time.Minute)
	h.deliverWant(t, "STOP by BSUID", metaBody(msg{userID: u, text: "STOP", at: at}), `"received":1`)
	h.deliverWant(t, "hello by number", metaBody(msg{from: from, text: "hello", at: at.Add(time.Second)}), `"received":1`)
	h.deliverWant(t, "both", metaBody(msg{from: from, userID: u, text: "hi", at: at.Add(2 * time.Second)}), `"received":1`)
	h.deliverWant(t, "START", metaBody(msg{from: from, userID: u, text: "START", at: at.Add(3 * time.Second)}), `"received":1`)
	who := subject.Who{User: mustUser(t, u)}
	if p := h.profileOf(t, who); p.Suppressed["marketing"] != "" || !p.Consented("marketing") {
		t.Errorf("after START: suppressed %q, consented %v; want lifted and granted", p.Suppressed["marketing"], p.Consented("marketing"))
	}
}

// byNumber names a person by their wa_id alone.
func byNumber(waID string) subject.Who { return whoOf(waID, bsuid.ID{}, bsuid.ID{}) }
