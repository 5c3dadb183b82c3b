package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSendRejectsTokens(t *testing.T) {
	const retired = "EAAtest-retired-token"
	tests := []struct {
		name        string
		header      string
		wantSubcode int
		wantMessage string
	}{
		{"missing header", "", 0, "An access token is required"},
		{"wrong scheme", "Basic " + testToken, 0, "An access token is required"},
		{"empty bearer", "Bearer ", 0, "An access token is required"},
		{"unknown token", "Bearer not-a-token", 0, "Invalid OAuth access token"},
		{"token prefix", "Bearer " + testToken[:10], 0, "Invalid OAuth access token"},
		{"retired token", "Bearer " + retired, SubcodeSessionExpired, "Session has expired"},
	}
	sb, srv := newTestSandbox(t, Options{AccessTokens: []string{testToken, retired}})
	body := readTestdata(t, "send/text.json")
	if r := do(t, http.MethodPost, sendURL(srv), retired, body); r.status != http.StatusOK {
		t.Fatalf("send with token before retiring status = %d, want 200", r.status)
	}
	sb.SetTokens([]string{testToken})
	sb.ResetMessages()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, sendURL(srv), strings.NewReader(string(body)))
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := loopbackClient().Do(req)
			if err != nil {
				t.Fatalf("POST messages err = %v, want nil", err)
			}
			defer resp.Body.Close()
			var got struct{ Error APIError }
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatalf("decode error body err = %v, want nil", err)
			}
			if resp.StatusCode != http.StatusUnauthorized || got.Error.Code != CodeAccessToken ||
				got.Error.Type != "OAuthException" || got.Error.Subcode != tt.wantSubcode ||
				!strings.Contains(got.Error.Message, tt.wantMessage) || got.Error.FBTraceID == "" {
				t.Errorf("POST messages = %d %+v, want 401 OAuthException 190/%d %q",
					resp.StatusCode, got.Error, tt.wantSubcode, tt.wantMessage)
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("WWW-Authenticate header missing, want OAuth challenge")
			}
		})
	}
	if got := sb.Messages(); len(got) != 0 {
		t.Errorf("Messages() after rejected sends = %d records, want 0", len(got))
	}
}

func TestSendValidation(t *testing.T) {
	tests := []struct {
		file       string
		wantStatus int
		wantCode   int
		wantMsg    string
	}{
		{"bad_not_json.json", 400, 100, "(#100) Invalid parameter"},
		{"bad_array.json", 400, 100, "(#100) Invalid parameter"},
		{"bad_trailing.json", 400, 100, "(#100) Invalid parameter"},
		{"bad_no_product.json", 400, 100, "The parameter messaging_product is required."},
		{"bad_product.json", 400, 100, `must be one of {WHATSAPP} - got "sms"`},
		{"bad_no_to.json", 400, 100, "The parameter to is required."},
		{"bad_to_letters.json", 400, 131009, "(#131009) Parameter value is not valid"},
		{"bad_to_type.json", 400, 100, "(#100) Invalid parameter"},
		{"bad_type.json", 400, 100, `Param type must be one of {AUDIO,`},
		{"bad_text_no_body.json", 400, 100, "The parameter text['body'] is required."},
		{"bad_template_no_name.json", 400, 100, "The parameter template['name'] is required."},
		{"bad_template_no_language.json", 400, 100, "template['language']['code'] is required."},
		{"bad_interactive_no_action.json", 400, 100, "interactive['action'] is required."},
		{"bad_image_no_link.json", 400, 131008, "(#131008) Required parameter is missing"},
		{"bad_mark_read_status.json", 400, 100, "Param status must be one of {READ}."},
	}
	sb, srv := newTestSandbox(t, Options{})
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readTestdata(t, "send/"+tt.file)
			r := do(t, http.MethodPost, sendURL(srv), testToken, body)
			got := decodeAPIError(t, r.body)
			if r.status != tt.wantStatus || got.Code != tt.wantCode || !strings.Contains(got.Message, tt.wantMsg) {
				t.Errorf("POST %s = %d %+v, want %d code %d %q", tt.file, r.status, got, tt.wantStatus, tt.wantCode, tt.wantMsg)
			}
			if strings.Contains(string(r.body), "447700900") {
				t.Errorf("POST %s error body %s echoes the recipient, want no number", tt.file, r.body)
			}
		})
	}
	t.Run("body too long", func(t *testing.T) {
		body, _ := json.Marshal(SendRequest{MessagingProduct: "whatsapp", To: "447700900123", Type: "text",
			Text: &TextObject{Body: strings.Repeat("é", MaxTextBody+1)}})
		r := do(t, http.MethodPost, sendURL(srv), testToken, body)
		if got := decodeAPIError(t, r.body); r.status != 400 || !strings.Contains(got.Message, "at most 4096") {
			t.Errorf("POST 4097-character body = %d %+v, want 400 at most 4096", r.status, got)
		}
	})
	if got := sb.Messages(); len(got) != 0 {
		t.Errorf("Messages() after invalid sends = %d records, want 0", len(got))
	}
}

func TestSendPathErrors(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		wantCode    int
		wantSubcode int
		wantType    string
	}{
		{"unknown version", "/v1/" + DefaultPhoneNumberID + "/messages", 2500, 0, "OAuthException"},
		{"foreign phone number id", "/" + testVersion + "/999999999999999/messages", 100, SubcodeUnsupportedPost, "GraphMethodException"},
	}
	_, srv := newTestSandbox(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, http.MethodPost, srv.URL+tt.path, testToken, readTestdata(t, "send/text.json"))
			got := decodeAPIError(t, r.body)
			if r.status != 400 || got.Code != tt.wantCode || got.Subcode != tt.wantSubcode || got.Type != tt.wantType {
				t.Errorf("POST %s = %d %+v, want 400 %s %d/%d", tt.path, r.status, got, tt.wantType, tt.wantCode, tt.wantSubcode)
			}
		})
	}
}

func TestSendAcceptedRecordedAndCleared(t *testing.T) {
	tests := []struct {
		file     string
		wantKind string
		wantWAID string
	}{
		{"text.json", kindMessage, "447700900123"},
		{"text_default_type.json", kindMessage, "447700900456"},
		{"template.json", kindMessage, "15550100123"},
		{"interactive.json", kindMessage, "447700900123"},
		{"image.json", kindMessage, "447700900123"},
		{"mark_read.json", kindRead, ""},
	}
	sb, srv := newTestSandbox(t, Options{})
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readTestdata(t, "send/"+tt.file)
			r := do(t, http.MethodPost, sendURL(srv), testToken, body)
			if r.status != http.StatusOK {
				t.Fatalf("POST %s status = %d (%s), want 200", tt.file, r.status, r.body)
			}
			checkAccepted(t, sb, r.body, body, tt.wantKind, tt.wantWAID)
		})
	}

	r := do(t, http.MethodGet, srv.URL+"/_sandbox/messages", "", nil)
	var listed []Record
	decodeInto(t, r.body, &listed)
	if diff := cmp.Diff(sb.Messages(), listed, cmp.Comparer(jsonEqual)); diff != "" || len(listed) != len(tests) {
		t.Errorf("GET /_sandbox/messages mismatch (-Messages() +listed), len %d:\n%s", len(listed), diff)
	}
	if strings.Contains(string(r.body), testToken) {
		t.Errorf("GET /_sandbox/messages contains the bearer token, want only its fingerprint")
	}
	for i, rec := range listed {
		if rec.Seq != i+1 || !rec.Time.Equal(testNow) || rec.Version != testVersion {
			t.Errorf("record %d = seq %d time %v version %q, want seq %d time %v %q", i, rec.Seq, rec.Time, rec.Version, i+1, testNow, testVersion)
		}
	}

	if r := do(t, http.MethodDelete, srv.URL+"/_sandbox/messages", "", nil); r.status != http.StatusNoContent {
		t.Errorf("DELETE /_sandbox/messages status = %d, want 204", r.status)
	}
	r = do(t, http.MethodGet, srv.URL+"/_sandbox/messages", "", nil)
	if got := strings.TrimSpace(string(r.body)); got != "[]" {
		t.Errorf("GET /_sandbox/messages after DELETE = %s, want []", got)
	}
}

// checkAccepted verifies Meta's success body and the newest record.
func checkAccepted(t *testing.T, sb *Sandbox, respBody, reqBody []byte, kind, waid string) {
	t.Helper()
	recs := sb.Messages()
	rec := recs[len(recs)-1]
	if rec.Kind != kind || rec.WAID != waid || rec.TokenFingerprint != Fingerprint(testToken) ||
		rec.PhoneNumberID != DefaultPhoneNumberID || !jsonEqual(rec.Request, reqBody) {
		t.Errorf("newest record = %+v, want kind %q wa_id %q fingerprint %q and the request body", rec, kind, waid, Fingerprint(testToken))
	}
	if kind == kindRead {
		if got := strings.TrimSpace(string(respBody)); got != `{"success":true}` {
			t.Errorf("mark-as-read answer = %s, want {\"success\":true}", got)
		}
		return
	}
	var req SendRequest
	decodeInto(t, reqBody, &req)
	want := sendResponse{
		MessagingProduct: "whatsapp",
		Contacts:         []sendContact{{Input: req.To, WAID: waid}},
		Messages:         []sendMessage{{ID: rec.WAMID}},
	}
	var got sendResponse
	decodeInto(t, respBody, &got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("send answer mismatch (-want +got):\n%s", diff)
	}
	if w, err := ParseWAMID(rec.WAMID); err != nil || w.Number != waid || !w.Outbound {
		t.Errorf("ParseWAMID(issued id) = %+v, %v, want number %q outbound", w, err, waid)
	}
}

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 { // absent: equal only to absent
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return cmp.Equal(va, vb)
}

func TestTokenSource(t *testing.T) {
	var mu sync.Mutex
	current := []string{"EAAtest-from-secrets-v1"}
	source := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(current)
	}
	_, srv := newTestSandbox(t, Options{AccessTokens: []string{}, TokenSource: source})
	send := readTestdata(t, "send/text.json")
	steps := []struct {
		name       string
		rotateTo   []string
		token      string
		wantStatus int
		wantSub    int
	}{
		{"initial secret", nil, "EAAtest-from-secrets-v1", http.StatusOK, 0},
		{"unknown token", nil, "EAAtest-from-secrets-v2", http.StatusUnauthorized, 0},
		{"rotated secret", []string{"EAAtest-from-secrets-v2"}, "EAAtest-from-secrets-v2", http.StatusOK, 0},
		{"old secret after rotation", nil, "EAAtest-from-secrets-v1", http.StatusUnauthorized, SubcodeSessionExpired},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.rotateTo != nil {
				mu.Lock()
				current = st.rotateTo
				mu.Unlock()
			}
			r := do(t, http.MethodPost, sendURL(srv), st.token, send)
			if r.status != st.wantStatus {
				t.Fatalf("send = %d %s, want %d", r.status, r.body, st.wantStatus)
			}
			if st.wantStatus != http.StatusOK {
				if got := decodeAPIError(t, r.body); got.Subcode != st.wantSub {
					t.Errorf("error subcode = %d, want %d", got.Subcode, st.wantSub)
				}
			}
		})
	}
}

// TestRapidAPIMode: a sandbox playing a RapidAPI-style proxy accepts a
// send authenticated with X-RapidAPI-Key and X-RapidAPI-Host only, and
// refuses Graph's bearer the way the proxy does.
func TestRapidAPIMode(t *testing.T) {
	const host = "whatsapp.example.p.rapidapi.com"
	sb, srv := newTestSandbox(t, Options{RapidAPIHost: host})
	send := readTestdata(t, "send/text.json")
	tests := []struct {
		name, key, host, bearer string
		want                    int
	}{
		{"rapidapi key and host", testToken, host, "", http.StatusOK},
		{"graph bearer", "", "", testToken, http.StatusUnauthorized},
		{"unknown key", "EAAtest-other", host, "", http.StatusUnauthorized},
		{"other host", testToken, "other.example.p.rapidapi.com", "", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb.ResetMessages()
			req, _ := http.NewRequest(http.MethodPost, sendURL(srv), bytes.NewReader(send))
			req.Header.Set("Content-Type", "application/json")
			if tt.key != "" {
				req.Header.Set("X-RapidAPI-Key", tt.key)
				req.Header.Set("X-RapidAPI-Host", tt.host)
			}
			if tt.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tt.bearer)
			}
			resp, err := loopbackClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("send status = %d (%s), want %d", resp.StatusCode, b, tt.want)
			}
			recs := sb.Messages()
			if tt.want == http.StatusOK && (len(recs) != 1 || recs[0].TokenFingerprint != Fingerprint(testToken)) {
				t.Errorf("Messages() = %+v, want the send with the key's fingerprint", recs)
			}
			if tt.want != http.StatusOK && (len(recs) != 0 || strings.Contains(string(b), `"error"`) || strings.Contains(string(b), testToken)) {
				t.Errorf("refused send: %d records, body %s; want none, and the proxy's answer without the key", len(recs), b)
			}
		})
	}
}

// TestSendToBSUID checks a send addressed by business-scoped user id
// (Meta's "recipient") is accepted and answered as Meta documents it:
// contacts [{input, user_id}] without wa_id. "to" wins over "recipient";
// a malformed user id is refused without echoing it.
func TestSendToBSUID(t *testing.T) {
	sb, srv := newTestSandbox(t, Options{})
	const user = "US.13491208655302741918"
	body := []byte(`{"messaging_product":"whatsapp","recipient_type":"individual","recipient":"` + user + `","type":"text","text":{"body":"hi"}}`)
	r := do(t, http.MethodPost, sendURL(srv), testToken, body)
	if r.status != http.StatusOK {
		t.Fatalf("send to a BSUID = %d %s, want 200", r.status, r.body)
	}
	var got struct {
		Contacts []map[string]string `json:"contacts"`
	}
	decodeInto(t, r.body, &got)
	if want := []map[string]string{{"input": user, "user_id": user}}; !cmp.Equal(got.Contacts, want) {
		t.Errorf("contacts = %v, want %v", got.Contacts, want)
	}
	recs := sb.Messages()
	if rec := recs[len(recs)-1]; rec.UserID != user || rec.WAID != "" || rec.WAMID == "" {
		t.Errorf("record = user %q wa_id %q wamid %q, want the BSUID, no wa_id, a wamid", rec.UserID, rec.WAID, rec.WAMID)
	}
	both := []byte(`{"messaging_product":"whatsapp","to":"15550100123","recipient":"` + user + `","type":"text","text":{"body":"hi"}}`)
	if r := do(t, http.MethodPost, sendURL(srv), testToken, both); r.status != http.StatusOK || !strings.Contains(string(r.body), `"wa_id":"15550100123"`) {
		t.Errorf("to and recipient = %d %s, want 200 answered for the phone number", r.status, r.body)
	}
	bad := []byte(`{"messaging_product":"whatsapp","recipient":"us.123","type":"text","text":{"body":"hi"}}`)
	if r := do(t, http.MethodPost, sendURL(srv), testToken, bad); r.status != http.StatusBadRequest || strings.Contains(string(r.body), "us.123") {
		t.Errorf("malformed recipient = %d %s, want 400 without the value", r.status, r.body)
	}
}
