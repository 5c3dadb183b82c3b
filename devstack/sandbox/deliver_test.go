package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// receiver is a webhook endpoint that checks X-Hub-Signature-256 over the
// raw body, like waguard's webhook function must.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
}

// ServeHTTP verifies the signature and answers 200 or 401.
func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	sig := r.Header.Get(SignatureHeader)
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, body)
	rc.sigs = append(rc.sigs, sig)
	rc.mu.Unlock()
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	got, err := hex.DecodeString(hexSig)
	mac := hmac.New(sha256.New, []byte(testAppSecret))
	mac.Write(body)
	if !ok || err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"received":true}`))
}

// webhookValue is the part of a delivered payload the tests inspect.
type webhookValue struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string      `json:"field"`
			Value changeValue `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

func TestDeliverSigned(t *testing.T) {
	tests := []struct {
		file      string
		check     func(t *testing.T, v changeValue, wamid string)
		wantWAMID bool
	}{
		{"text.json", wantText("447700900123", "Test Patient", "STOP / no more reminders 👍 merci"), true},
		{"text_e164.json", wantText("447700900456", defaultName, "hello"), true},
		{"status_newest_send.json", wantStatus("delivered", "447700900123", 0), true},
		{"status_failed_from_wamid.json", wantStatus("failed", "447700900123", CodeUndeliverable), true},
		{"status_read_explicit.json", wantStatus("read", "15550100123", 0), true},
		{"raw.json", wantStatus("sent", "15550100123", 0), false},
	}
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	_, srv := newTestSandbox(t, Options{WebhookURL: hook.URL + "/webhooks/meta"})
	if r := do(t, http.MethodPost, sendURL(srv), testToken, readTestdata(t, "send/text.json")); r.status != http.StatusOK {
		t.Fatalf("send before status delivery = %d, want 200", r.status)
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := do(t, http.MethodPost, srv.URL+"/_sandbox/deliver", "", readTestdata(t, "deliver/"+tt.file))
			var got deliverResponse
			decodeInto(t, r.body, &got)
			if r.status != http.StatusOK || got.Status != http.StatusOK || !jsonEqual(got.Body, []byte(`{"received":true}`)) {
				t.Fatalf("POST /_sandbox/deliver = %d %s, want 200 with webhook status 200", r.status, r.body)
			}
			if tt.wantWAMID == (got.WAMID == "") {
				t.Errorf("deliver wamid = %q, want set: %v", got.WAMID, tt.wantWAMID)
			}
			body := rc.bodies[len(rc.bodies)-1]
			var v webhookValue
			decodeInto(t, body, &v)
			if v.Object != "whatsapp_business_account" || len(v.Entry) != 1 || len(v.Entry[0].Changes) != 1 ||
				v.Entry[0].Changes[0].Field != "messages" {
				t.Fatalf("webhook envelope = %s, want one whatsapp_business_account messages change", body)
			}
			val := v.Entry[0].Changes[0].Value
			if val.MessagingProduct != "whatsapp" || val.Metadata.PhoneNumberID != DefaultPhoneNumberID {
				t.Errorf("webhook metadata = %+v, want whatsapp and phone_number_id %s", val, DefaultPhoneNumberID)
			}
			tt.check(t, val, got.WAMID)
		})
	}
}

// wantText checks an inbound text event.
func wantText(from, name, body string) func(*testing.T, changeValue, string) {
	return func(t *testing.T, v changeValue, wamid string) {
		t.Helper()
		if len(v.Contacts) != 1 || len(v.Messages) != 1 {
			t.Fatalf("value = %+v, want one contact and one message", v)
		}
		m := v.Messages[0]
		if v.Contacts[0].WAID != from || v.Contacts[0].Profile.Name != name || m.From != from ||
			m.ID != wamid || m.Type != "text" || m.Text == nil || m.Text.Body != body || m.Timestamp != "1767225600" {
			t.Errorf("text event = %+v %+v, want from %s name %q body %q id %s", v.Contacts[0], m, from, name, body, wamid)
		}
		if w, err := ParseWAMID(m.ID); err != nil || w.Number != from || w.Outbound {
			t.Errorf("ParseWAMID(inbound id) = %+v, %v, want number %s inbound", w, err, from)
		}
	}
}

// wantStatus checks a status event.
func wantStatus(status, recipient string, code int) func(*testing.T, changeValue, string) {
	return func(t *testing.T, v changeValue, wamid string) {
		t.Helper()
		if len(v.Statuses) != 1 || len(v.Messages) != 0 {
			t.Fatalf("value = %+v, want one status and no messages", v)
		}
		s := v.Statuses[0]
		if s.Status != status || s.RecipientID != recipient || (wamid != "" && s.ID != wamid) {
			t.Errorf("status = %+v, want %s for %s id %s", s, status, recipient, wamid)
		}
		if code != 0 && (len(s.Errors) != 1 || s.Errors[0].Code != code || s.Errors[0].Href == "") {
			t.Errorf("status errors = %+v, want one error with code %d", s.Errors, code)
		}
	}
}

func TestDeliverRawKeepsExactBytes(t *testing.T) {
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	_, srv := newTestSandbox(t, Options{WebhookURL: hook.URL})
	req := readTestdata(t, "deliver/raw.json")
	start := bytes.Index(req, []byte(`"payload":`)) + len(`"payload":`)
	want := req[start:bytes.LastIndexByte(req, '}')]
	if r := do(t, http.MethodPost, srv.URL+"/_sandbox/deliver", "", req); r.status != http.StatusOK {
		t.Fatalf("POST /_sandbox/deliver raw = %d %s, want 200", r.status, r.body)
	}
	if got := rc.bodies[0]; !bytes.Equal(got, want) {
		t.Errorf("raw delivery body =\n%s\nwant exact bytes\n%s", got, want)
	}
}

func TestDeliverRepeatSendsIdenticalBytes(t *testing.T) {
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	_, srv := newTestSandbox(t, Options{WebhookURL: hook.URL})
	r := do(t, http.MethodPost, srv.URL+"/_sandbox/deliver", "", readTestdata(t, "deliver/repeat.json"))
	var got deliverResponse
	decodeInto(t, r.body, &got)
	if r.status != http.StatusOK || len(got.Attempts) != 3 || len(rc.bodies) != 3 {
		t.Fatalf("deliver with repeat 2 = %d, %d attempts, %d received; want 200, 3, 3", r.status, len(got.Attempts), len(rc.bodies))
	}
	for i := 1; i < 3; i++ {
		if !bytes.Equal(rc.bodies[i], rc.bodies[0]) || rc.sigs[i] != rc.sigs[0] || got.Attempts[i].Status != http.StatusOK {
			t.Errorf("delivery %d differs from the first (status %d), want identical bytes and signature", i+1, got.Attempts[i].Status)
		}
	}
	if got.Signature != rc.sigs[0] || got.Signature != Sign(testAppSecret, rc.bodies[0]) {
		t.Errorf("deliver signature = %q, want the header sent, %q", got.Signature, rc.sigs[0])
	}
}

func TestDeliverErrors(t *testing.T) {
	tests := []struct {
		file       string
		wantStatus int
	}{
		{"bad_kind.json", 400},
		{"bad_text_no_from.json", 400},
		{"bad_text_no_text.json", 400},
		{"bad_status_value.json", 400},
		{"bad_error_code_on_read.json", 400},
		{"bad_status_unknown_wamid.json", 400},
		{"bad_status_no_send.json", 400},
		{"bad_repeat.json", 400},
		{"bad_raw_empty.json", 400},
		{"bad_unknown_field.json", 400},
		{"bad_text_user_id_syntax.json", 400},
		{"bad_text_parent_as_user_id.json", 400},
		{"bad_text_parent_without_user_id.json", 400},
		{"bad_status_withhold_without_user_id.json", 400},
		{"bad_withhold_on_preference.json", 400},
		{"bad_system_no_previous.json", 400},
		{"bad_system_number_no_new_from.json", 400},
		{"bad_system_type.json", 400},
		{"bad_preference_value.json", 400},
		{"bad_preference_no_user.json", 400},
		{"bad_preference_from_letters.json", 400},
		{"bad_user_id_update_no_previous.json", 400},
		{"bad_button_no_label.json", 400},
	}
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	_, srv := newTestSandbox(t, Options{WebhookURL: hook.URL})
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := do(t, http.MethodPost, srv.URL+"/_sandbox/deliver", "", readTestdata(t, "deliver/"+tt.file))
			var got map[string]string
			decodeInto(t, r.body, &got)
			if r.status != tt.wantStatus || got["error"] == "" {
				t.Errorf("POST /_sandbox/deliver %s = %d %s, want %d with an error", tt.file, r.status, r.body, tt.wantStatus)
			}
			for _, leak := range []string{"447700900", "12025550", "1349120865", "2738194056", "1181579921", "call me"} {
				if strings.Contains(got["error"], leak) {
					t.Errorf("deliver error %q echoes %q, want no value", got["error"], leak)
				}
			}
		})
	}
	if len(rc.bodies) != 0 {
		t.Errorf("webhook received %d deliveries for invalid requests, want 0", len(rc.bodies))
	}
}

func TestDeliverReportsReceiverFailures(t *testing.T) {
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	sb, srv := newTestSandbox(t, Options{WebhookURL: hook.URL})
	sb.SetAppSecret("rotated-secret-the-receiver-does-not-know")
	r := do(t, http.MethodPost, srv.URL+"/_sandbox/deliver", "", readTestdata(t, "deliver/text_e164.json"))
	var got deliverResponse
	decodeInto(t, r.body, &got)
	if r.status != http.StatusOK || got.Status != http.StatusUnauthorized || !jsonEqual(got.Body, []byte(`"bad signature\n"`)) {
		t.Errorf("deliver with a wrong secret = %d %s, want 200 reporting webhook 401 \"bad signature\"", r.status, r.body)
	}

	hook.Close()
	r = do(t, http.MethodPost, srv.URL+"/_sandbox/deliver", "", readTestdata(t, "deliver/text_e164.json"))
	if r.status != http.StatusBadGateway {
		t.Errorf("deliver to a closed webhook status = %d, want 502", r.status)
	}
	if _, err := New(Options{}).Deliver(t.Context(), []byte(`{}`), 0); !errors.Is(err, ErrNoWebhookURL) {
		t.Errorf("Deliver without a URL err = %v, want ErrNoWebhookURL", err)
	}
}

func TestCredentialsRoute(t *testing.T) {
	_, srv := newTestSandbox(t, Options{})
	body, _ := json.Marshal(map[string]any{"access_tokens": []string{"EAAtest-rotated"}})
	if r := do(t, http.MethodPut, srv.URL+"/_sandbox/credentials", "", body); r.status != http.StatusNoContent {
		t.Fatalf("PUT /_sandbox/credentials status = %d, want 204", r.status)
	}
	send := readTestdata(t, "send/text.json")
	if r := do(t, http.MethodPost, sendURL(srv), "EAAtest-rotated", send); r.status != http.StatusOK {
		t.Errorf("send with rotated token status = %d, want 200", r.status)
	}
	if r := do(t, http.MethodPost, sendURL(srv), testToken, send); r.status != http.StatusUnauthorized {
		t.Errorf("send with replaced token status = %d, want 401", r.status)
	}
}

// researchFixtures holds the recorded-shape webhook bodies the parser is
// tested with; their sources are in its README.md.
const researchFixtures = "../../shared/whatsapp/testdata/bsuid/"

// TestDeliverBSUIDShapes delivers every identifier shape Meta sends since
// business-scoped user ids and usernames, and checks each against the
// research fixture of the same shape: the same JSON fields, and the
// identifiers where they belong.
func TestDeliverBSUIDShapes(t *testing.T) {
	const user, next, parent = "US.13491208655302741918", "US.27381940563712094455", "US.ENT.11815799212886844830"
	tests := []struct {
		file, fixture, field string
		check                func(t *testing.T, v changeValue)
	}{
		{"text_phone_and_bsuid.json", "messages_phone_and_bsuid.json", "messages", wantSender("12025550142", user, "", "")},
		{"text_bsuid_only_username.json", "messages_bsuid_only_username.json", "messages", wantSender("", user, parent, "test.user")},
		{"text_phone_withheld.json", "", "messages", wantSender("", user, "", "test.user")},
		{"button_stop_promotions.json", "", "messages", func(t *testing.T, v changeValue) {
			t.Helper()
			wantSender("12025550142", user, "", "")(t, v)
			if b := v.Messages[0].Button; v.Messages[0].Type != "button" || b == nil || b.Payload != "Stop promotions" || b.Text != "Stop promotions" {
				t.Errorf("button event = %+v, want type button with the label as payload and text", v.Messages[0])
			}
		}},
		{"status_bsuid_only.json", "status_bsuid_only.json", "messages", wantRecipient("", user, "", "test.user")},
		{"status_sent_phone_and_bsuid.json", "", "messages", wantRecipient("447700900123", user, parent, "")},
		{"system_user_changed_user_id.json", "system_user_changed_user_id.json", "messages", wantSystem(SystemUserChangedUserID, user, next, "")},
		{"system_user_changed_number.json", "system_user_changed_number.json", "messages", wantSystem(SystemUserChangedNumber, user, next, "12025550143")},
		{"preference_stop.json", "user_preferences_stop.json", "user_preferences", wantPreference("stop", "12025550142", user)},
		{"preference_resume.json", "user_preferences_resume.json", "user_preferences", wantPreference("resume", "12025550142", user)},
		{"preference_bsuid_only.json", "", "user_preferences", wantPreference("stop", "", user)},
		{"user_id_update.json", "user_id_update.json", "user_id_update", func(t *testing.T, v changeValue) {
			t.Helper()
			if len(v.UserIDUpdate) != 1 || v.UserIDUpdate[0].UserID != (idChange{Previous: user, Current: next}) ||
				v.UserIDUpdate[0].WAID != "12025550142" || v.UserIDUpdate[0].Detail != "User id for Test User has been updated." {
				t.Errorf("user_id_update = %+v, want %s to %s for 12025550142", v.UserIDUpdate, user, next)
			}
		}},
	}
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	_, srv := newTestSandbox(t, Options{WebhookURL: hook.URL})
	if r := do(t, http.MethodPost, sendURL(srv), testToken, readTestdata(t, "send/text.json")); r.status != http.StatusOK {
		t.Fatalf("send before status delivery = %d, want 200", r.status)
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := do(t, http.MethodPost, srv.URL+"/_sandbox/deliver", "", readTestdata(t, "deliver/"+tt.file))
			var got deliverResponse
			decodeInto(t, r.body, &got)
			if r.status != http.StatusOK || got.Status != http.StatusOK {
				t.Fatalf("POST /_sandbox/deliver = %d %s, want 200 with webhook status 200", r.status, r.body)
			}
			body := rc.bodies[len(rc.bodies)-1]
			var v webhookValue
			decodeInto(t, body, &v)
			if len(v.Entry) != 1 || len(v.Entry[0].Changes) != 1 || v.Entry[0].Changes[0].Field != tt.field {
				t.Fatalf("webhook = %s, want one change of field %s", body, tt.field)
			}
			if tt.fixture != "" {
				want, err := os.ReadFile(researchFixtures + tt.fixture)
				if err != nil {
					t.Fatalf("read research fixture: %v", err)
				}
				if diff := cmp.Diff(jsonPaths(t, want), jsonPaths(t, body)); diff != "" {
					t.Errorf("webhook fields differ from %s (-fixture +sandbox):\n%s", tt.fixture, diff)
				}
			}
			tt.check(t, v.Entry[0].Changes[0].Value)
		})
	}
}

// jsonPaths returns the path of every value in a JSON document, arrays
// written as [], such as "entry[].changes[].value.contacts[].wa_id", with
// the JSON type of the value.
func jsonPaths(t *testing.T, b []byte) []string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("json.Unmarshal() err = %v", err)
	}
	set := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range v {
				walk(path+"[]", e)
			}
		default:
			set[fmt.Sprintf("%s %T", path, v)] = true
		}
	}
	walk("", doc)
	return slices.Sorted(maps.Keys(set))
}

// wantSender checks the sender of an inbound text.
func wantSender(from, userID, parentUserID, username string) func(*testing.T, changeValue) {
	return func(t *testing.T, v changeValue) {
		t.Helper()
		if len(v.Contacts) != 1 || len(v.Messages) != 1 {
			t.Fatalf("value = %+v, want one contact and one message", v)
		}
		c, m := v.Contacts[0], v.Messages[0]
		if m.From != from || m.FromUserID != userID || m.FromParentUserID != parentUserID || c.WAID != from ||
			c.UserID != userID || c.ParentUserID != parentUserID || c.Profile.Username != username {
			t.Errorf("text event = %+v %+v, want from %q user %q parent %q username %q", c, m, from, userID, parentUserID, username)
		}
	}
}

// wantRecipient checks the recipient of a status and its contact.
func wantRecipient(recipient, userID, parentUserID, username string) func(*testing.T, changeValue) {
	return func(t *testing.T, v changeValue) {
		t.Helper()
		if len(v.Contacts) != 1 || len(v.Statuses) != 1 {
			t.Fatalf("value = %+v, want one contact and one status", v)
		}
		c, s := v.Contacts[0], v.Statuses[0]
		if s.RecipientID != recipient || s.RecipientUserID != userID || s.RecipientParentUserID != parentUserID ||
			c.WAID != recipient || c.UserID != userID || c.ParentUserID != parentUserID || c.Profile.Username != username {
			t.Errorf("status event = %+v %+v, want recipient %q user %q parent %q username %q", c, s, recipient, userID, parentUserID, username)
		}
	}
}

// wantSystem checks a system message.
func wantSystem(typ, previous, current, newNumber string) func(*testing.T, changeValue) {
	return func(t *testing.T, v changeValue) {
		t.Helper()
		if len(v.Contacts) != 0 || len(v.Messages) != 1 || v.Messages[0].System == nil {
			t.Fatalf("value = %+v, want one system message and no contacts", v)
		}
		m, sys := v.Messages[0], v.Messages[0].System
		if m.Type != "system" || sys.Type != typ || sys.PreviousUserID != previous || sys.UserID != current || sys.WAID != newNumber {
			t.Errorf("system message = %+v %+v, want %s from %s to %s, number %q", m, sys, typ, previous, current, newNumber)
		}
	}
}

// wantPreference checks a user_preferences item.
func wantPreference(value, waID, userID string) func(*testing.T, changeValue) {
	return func(t *testing.T, v changeValue) {
		t.Helper()
		if len(v.UserPreferences) != 1 {
			t.Fatalf("value = %+v, want one preference", v)
		}
		p := v.UserPreferences[0]
		if p.Value != value || p.WAID != waID || p.UserID != userID || p.Category != "marketing_messages" ||
			p.Detail != "User requested to "+value+" marketing messages" || p.Timestamp != testNow.Unix() {
			t.Errorf("preference = %+v, want %s for %q %q", p, value, waID, userID)
		}
	}
}

// TestDeliverStatusOfASendToABSUID: a status for a message sent to a BSUID
// (Meta's "recipient") names the recipient by that BSUID, without a
// number, as Meta's status_bsuid_only example does.
func TestDeliverStatusOfASendToABSUID(t *testing.T) {
	const user = "US.13491208655302741918"
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	_, srv := newTestSandbox(t, Options{WebhookURL: hook.URL})
	send := []byte(`{"messaging_product":"whatsapp","recipient_type":"individual","recipient":"` + user + `","type":"text","text":{"body":"hi"}}`)
	if r := do(t, http.MethodPost, sendURL(srv), testToken, send); r.status != http.StatusOK {
		t.Fatalf("send to a BSUID = %d %s, want 200", r.status, r.body)
	}
	r := do(t, http.MethodPost, srv.URL+"/_sandbox/deliver", "", readTestdata(t, "deliver/status_send_to_bsuid.json"))
	if r.status != http.StatusOK {
		t.Fatalf("POST /_sandbox/deliver = %d %s, want 200", r.status, r.body)
	}
	body := rc.bodies[len(rc.bodies)-1]
	var v webhookValue
	decodeInto(t, body, &v)
	wantRecipient("", user, "", "test.user")(t, v.Entry[0].Changes[0].Value)
	want, err := os.ReadFile(researchFixtures + "status_bsuid_only.json")
	if err != nil {
		t.Fatalf("read research fixture: %v", err)
	}
	if diff := cmp.Diff(jsonPaths(t, want), jsonPaths(t, body)); diff != "" {
		t.Errorf("webhook fields differ from status_bsuid_only.json (-fixture +sandbox):\n%s", diff)
	}
}
