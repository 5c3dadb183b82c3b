package whatsapp

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/shared/bsuid"
)

// Identifiers of the testdata/bsuid fixtures (see testdata/README.md).
const (
	bizPNID     = "106599999999901"
	userWAID    = "12025550142"
	newWAID     = "12025550143"
	userBSUID   = "US.13491208655302741918"
	newBSUID    = "US.27381940563712094455"
	parentBSUID = "US.ENT.11815799212886844830"
	wamidIn1    = "wamid.HBgLMTIwMjU1NTAxNDIVAgASGBQzQUZBS0VURVNUMDAwMDAwMDAwMQA="
	wamidIn2    = "wamid.HBgLMTIwMjU1NTAxNDIVAgASGBQzQUZBS0VURVNUMDAwMDAwMDAwMgA="
	wamidOut    = "wamid.HBgLMTIwMjU1NTAxNDIVAgARGBJGQUtFT1VUQk9VTkQwMDAwMQA="
	wamidPrefix = "wamid.HBgLMTIwMjU1NTAxNDIVAgASGBQzQUZBS0VURVNUMDAwMDAwMDA"
	helloText   = "Hello, is the shop open today?"
)

// id parses a BSUID a test relies on.
func id(t testing.TB, s string) bsuid.ID {
	t.Helper()
	v, err := bsuid.Parse(s)
	if err != nil {
		t.Fatalf("bsuid.Parse(%q) err = %v", s, err)
	}
	return v
}

// TestParseBSUIDShapes parses every identifier shape Meta sends since
// BSUIDs and usernames: recorded-shape fixtures from the research notes.
func TestParseBSUIDShapes(t *testing.T) {
	user, next, parent := id(t, userBSUID), id(t, newBSUID), id(t, parentBSUID)
	hello := Message{ID: wamidIn1, From: userWAID, ProfileName: "Test User", Time: unix(1796119200), Type: "text", Text: helloText}
	with := func(m Message, f func(*Message)) Message { f(&m); return m }
	tests := []struct {
		file string
		want []Event
	}{
		{"messages_phone_only.json", []Event{msgEvent(bizPNID, hello)}},
		{"messages_phone_and_bsuid.json", []Event{msgEvent(bizPNID, with(hello, func(m *Message) { m.FromUserID = user }))}},
		{"messages_bsuid_only_username.json", []Event{msgEvent(bizPNID, with(hello, func(m *Message) {
			m.ID, m.From, m.FromUserID, m.FromParentUserID, m.Username = wamidIn2, "", user, parent, "test.user"
		}))}},
		{"button_stop_promotions.json", []Event{msgEvent(bizPNID, Message{ID: wamidIn2, From: userWAID, FromUserID: user,
			ProfileName: "Test User", Time: unix(1796119500), Type: "button", ReplyID: "Stop promotions", ReplyTitle: "Stop promotions"})}},
		{"status_bsuid_only.json", []Event{statusEvent(bizPNID, Status{ID: wamidOut, Status: "delivered", Time: unix(1796119500),
			RecipientUserID: user, Username: "test.user"})}},
		{"status_phone_and_bsuid.json", []Event{statusEvent(bizPNID, Status{ID: wamidOut, Status: "read", Time: unix(1796119600),
			RecipientID: userWAID, RecipientUserID: user, RecipientParentUserID: parent, Username: "test.user"})}},
		{"system_user_changed_user_id.json", []Event{sysEvent(bizPNID, System{ID: wamidPrefix + "wMwA=", Time: unix(1796119500),
			Type: SystemUserChangedUserID, UserID: next, PreviousUserID: user})}},
		{"system_user_changed_number.json", []Event{sysEvent(bizPNID, System{ID: wamidPrefix + "wNAA=", Time: unix(1796119600),
			Type: SystemUserChangedNumber, From: userWAID, WAID: newWAID, UserID: next, PreviousUserID: user})}},
		{"system_user_changed_number_legacy.json", []Event{sysEvent(bizPNID, System{ID: wamidPrefix + "wNQA=", Time: unix(1796119700),
			Type: SystemUserChangedNumber, From: userWAID, WAID: newWAID})}},
		{"user_id_update.json", []Event{sysEvent(bizPNID, System{Time: unix(1796119500), Type: SystemUserChangedUserID,
			WAID: userWAID, UserID: next, PreviousUserID: user})}},
		{"user_preferences_stop.json", []Event{prefEvent(bizPNID, Preference{WAID: userWAID, UserID: user,
			Category: CategoryMarketingMessages, Value: PreferenceStop, Time: unix(1796119200)})}},
		{"user_preferences_resume.json", []Event{prefEvent(bizPNID, Preference{WAID: userWAID, UserID: user,
			Category: CategoryMarketingMessages, Value: PreferenceResume, Time: unix(1796119500)})}},
		{"user_preferences_stop_string_timestamp.json", []Event{prefEvent(bizPNID, Preference{UserID: user, ParentUserID: parent,
			Category: CategoryMarketingMessages, Value: PreferenceStop, Time: unix(1796119200)})}},
		{"batch_mixed.json", []Event{
			msgEvent(bizPNID, Message{ID: wamidPrefix + "xMQA=", From: userWAID, ProfileName: "Test User", Time: unix(1796119200), Type: "text", Text: "phone only"}),
			msgEvent(bizPNID, Message{ID: wamidPrefix + "xMgA=", FromUserID: next, ProfileName: "Other User", Username: "other.user",
				Time: unix(1796119201), Type: "text", Text: "bsuid only"}),
			msgEvent(bizPNID, Message{ID: wamidPrefix + "xMwA=", Time: unix(1796119202), Type: "text", Text: "nobody"}),
		}},
		{"message_bad_user_id.json", []Event{msgEvent(bizPNID, Message{ID: wamidPrefix + "xNAA=", ProfileName: "Test User",
			Time: unix(1796119200), Type: "text", Text: "hi"})}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readTestdata(t, "bsuid/"+tt.file)
			env, err := Parse(body)
			if err != nil {
				t.Fatalf("Parse(%s) err = %v, want nil", tt.file, err)
			}
			if diff := cmp.Diff(tt.want, Events(env)); diff != "" {
				t.Errorf("Events(Parse(%s)) mismatch (-want +got):\n%s", tt.file, diff)
			}
			if evs, err := ParseAny(body); err != nil || !cmp.Equal(evs, Events(env)) {
				t.Errorf("ParseAny(%s) = %d events, %v; want the events of Parse", tt.file, len(evs), err)
			}
		})
	}
}

func sysEvent(pnid string, s System) Event {
	return Event{Kind: KindSystem, PhoneNumberID: pnid, System: s}
}

func prefEvent(pnid string, p Preference) Event {
	return Event{Kind: KindPreference, PhoneNumberID: pnid, Preference: p}
}

// TestOneUnattributableMessageCostsNoOthers: a delivery mixing a
// phone-only, a BSUID-only and an unattributable message parses into three
// events; before, a message without "from" refused the whole delivery.
func TestOneUnattributableMessageCostsNoOthers(t *testing.T) {
	for _, file := range []string{"bsuid/batch_mixed.json", "bsuid/messages_bsuid_only_username.json", "bsuid/system_user_changed_user_id.json"} {
		env, err := Parse(readTestdata(t, file))
		if err != nil {
			t.Errorf("Parse(%s) err = %v, want nil", file, err)
			continue
		}
		if file == "bsuid/batch_mixed.json" && len(Events(env)) != 3 {
			t.Errorf("Parse(%s) = %d events, want 3", file, len(Events(env)))
		}
	}
}

// sideDelivery is a delivery with one change of field whose value holds
// items under the field's name.
func sideDelivery(field, items string) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"` + field +
		`","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"` + bizPNID + `"},"` + field + `":` + items + `}}]}]}`)
}

// TestSideFieldsAreDefensive: an item of user_preferences or
// user_id_update that does not decode is skipped alone, and a value that
// does not decode is an ignored change; neither refuses the delivery.
func TestSideFieldsAreDefensive(t *testing.T) {
	user := id(t, userBSUID)
	stop := Preference{UserID: user, Category: CategoryMarketingMessages, Value: PreferenceStop, Time: unix(1796119200)}
	tests := []struct {
		name, field, items string
		want               []Event
		ignored            int
	}{
		{"bad item skipped", FieldUserPreferences, `[{"user_id":5,"value":"stop"},{"user_id":"` + userBSUID +
			`","category":"marketing_messages","value":"stop","timestamp":1796119200}]`, []Event{prefEvent(bizPNID, stop)}, 0},
		{"float timestamp gives zero time", FieldUserPreferences, `[{"user_id":"` + userBSUID + `","value":"resume","timestamp":1796119200.5}]`,
			[]Event{prefEvent(bizPNID, Preference{UserID: user, Value: PreferenceResume})}, 0},
		{"number wa_id", FieldUserPreferences, `[{"wa_id":12025550142,"value":"stop"}]`,
			[]Event{prefEvent(bizPNID, Preference{WAID: userWAID, Value: PreferenceStop})}, 0},
		{"invalid BSUIDs left zero", FieldUserPreferences, `[{"user_id":"us.1","parent_user_id":"US.ENT.","value":"stop"}]`,
			[]Event{prefEvent(bizPNID, Preference{Value: PreferenceStop})}, 0},
		{"not an array", FieldUserPreferences, `{"value":"stop"}`, nil, 1},
		{"update item not an object", FieldUserIDUpdate, `[7,{"user_id":{"previous":"` + userBSUID + `","current":"` + newBSUID + `"}}]`,
			[]Event{sysEvent(bizPNID, System{Type: SystemUserChangedUserID, PreviousUserID: user, UserID: id(t, newBSUID)})}, 0},
		{"empty", FieldUserIDUpdate, `[]`, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Parse(sideDelivery(tt.field, tt.items))
			if err != nil {
				t.Fatalf("Parse() err = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, Events(env)); diff != "" {
				t.Errorf("Events() mismatch (-want +got):\n%s", diff)
			}
			if env.ignored != tt.ignored {
				t.Errorf("ignored changes = %d, want %d", env.ignored, tt.ignored)
			}
		})
	}
}

func TestSideFieldsCountAgainstTheLimit(t *testing.T) {
	items := "[" + strings.TrimSuffix(strings.Repeat(`{"value":"stop"},`, 3), ",") + "]"
	for _, field := range []string{FieldUserPreferences, FieldUserIDUpdate} {
		if _, err := (Limits{MaxEvents: 2}).Parse(sideDelivery(field, items)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(3 %s items, MaxEvents 2) err = %v, want ErrMalformed", field, err)
		}
		if env, err := (Limits{MaxEvents: 3}).Parse(sideDelivery(field, items)); err != nil || len(Events(env)) != 3 {
			t.Errorf("Parse(3 %s items, MaxEvents 3) = %d events, %v; want 3, nil", field, len(Events(env)), err)
		}
	}
}

// bsuidLeaks are the personal values of the testdata/bsuid fixtures.
var bsuidLeaks = []string{"13491208655302741918", "27381940563712094455", "11815799212886844830", "US.1", "US.2", "US.ENT",
	"test.user", "other.user", "Test User", "Other User", "12025550", "wamid", "HBg", "Stop promotions", "Hello", "nobody"}

func TestBSUIDEventsPrintNoPersonalData(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bsuid", "*.json"))
	if err != nil || len(files) < 10 {
		t.Fatalf("glob testdata/bsuid = %d files, %v", len(files), err)
	}
	var out strings.Builder
	for _, f := range files {
		env, err := Parse(readTestdata(t, "bsuid/"+filepath.Base(f)))
		if err != nil {
			t.Fatalf("Parse(%s) err = %v", f, err)
		}
		evs := Events(env)
		for _, v := range []any{env, evs} {
			out.WriteString(sprintAll(v) + logged(v) + fmt.Sprint(v))
		}
		for _, ev := range evs {
			for _, v := range []any{ev, ev.Message, ev.Status, ev.System, ev.Preference} {
				out.WriteString(sprintAll(v) + logged(v))
			}
		}
	}
	s := out.String()
	for _, leak := range bsuidLeaks {
		if strings.Contains(s, leak) {
			t.Errorf("printed events contain %q", leak)
		}
	}
	for _, want := range []string{`"kind":"system"`, `"kind":"preference"`, `value="stop"`, `type="user_changed_user_id"`,
		"username_len=9", `"has_user_id":true`, `"has_phone":false`} {
		if !strings.Contains(s, want) {
			t.Errorf("printed events lack %q", want)
		}
	}
}

// TestSandboxIdentityShapesParse parses every identifier shape the sandbox
// builds, so that stack tests that deliver them exercise what this
// package accepts.
func TestSandboxIdentityShapesParse(t *testing.T) {
	user, next, parent := id(t, userBSUID), id(t, newBSUID), id(t, parentBSUID)
	biz := sandbox.Business{AccountID: "1", PhoneNumberID: testPNID, DisplayPhoneNumber: "447700900001"}
	at := unix(1767225600)
	tests := []struct {
		name  string
		build func() ([]byte, error)
		want  Event
	}{
		{"text, BSUID only", func() ([]byte, error) {
			return sandbox.BuildTextEvent(biz, sandbox.TextEvent{UserID: userBSUID, ParentUserID: parentBSUID, Username: "test.user",
				Name: "Test User", Body: "STOP", WAMID: inWAMID, Time: at})
		}, msgEvent(testPNID, Message{ID: inWAMID, FromUserID: user, FromParentUserID: parent, ProfileName: "Test User",
			Username: "test.user", Time: at, Type: "text", Text: "STOP"})},
		{"text, phone and BSUID", func() ([]byte, error) {
			return sandbox.BuildTextEvent(biz, sandbox.TextEvent{From: testWAID, UserID: userBSUID, Name: "Test User", Body: "hi", WAMID: inWAMID, Time: at})
		}, msgEvent(testPNID, Message{ID: inWAMID, From: testWAID, FromUserID: user, ProfileName: "Test User", Time: at, Type: "text", Text: "hi"})},
		{"status, BSUID only", func() ([]byte, error) {
			return sandbox.BuildStatusEvent(biz, sandbox.StatusEvent{WAMID: outWAMID, Status: "read", UserID: userBSUID, Username: "test.user", Time: at})
		}, statusEvent(testPNID, Status{ID: outWAMID, Status: "read", RecipientUserID: user, Username: "test.user", Time: at})},
		{"system, BSUID changed", func() ([]byte, error) {
			return sandbox.BuildSystemEvent(biz, sandbox.SystemEvent{Type: sandbox.SystemUserChangedUserID, WAMID: inWAMID, Name: "Test User",
				PreviousUserID: userBSUID, UserID: newBSUID, Time: at})
		}, sysEvent(testPNID, System{ID: inWAMID, Time: at, Type: SystemUserChangedUserID, PreviousUserID: user, UserID: next})},
		{"system, number changed", func() ([]byte, error) {
			return sandbox.BuildSystemEvent(biz, sandbox.SystemEvent{Type: sandbox.SystemUserChangedNumber, WAMID: inWAMID, Name: "Test User",
				From: testWAID, NewNumber: secondWAID, PreviousUserID: userBSUID, UserID: newBSUID, Time: at})
		}, sysEvent(testPNID, System{ID: inWAMID, Time: at, Type: SystemUserChangedNumber, From: testWAID, WAID: secondWAID,
			PreviousUserID: user, UserID: next})},
		{"preference, resume", func() ([]byte, error) {
			return sandbox.BuildPreferenceEvent(biz, sandbox.PreferenceEvent{Value: "resume", UserID: userBSUID, Time: at})
		}, prefEvent(testPNID, Preference{UserID: user, Category: CategoryMarketingMessages, Value: PreferenceResume, Time: at})},
		{"user_id_update", func() ([]byte, error) {
			return sandbox.BuildUserIDUpdateEvent(biz, sandbox.UserIDUpdateEvent{WAID: testWAID, PreviousUserID: userBSUID, UserID: newBSUID, Time: at})
		}, sysEvent(testPNID, System{Time: at, Type: SystemUserChangedUserID, WAID: testWAID, PreviousUserID: user, UserID: next})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := tt.build()
			if err != nil {
				t.Fatalf("build err = %v, want nil", err)
			}
			env, err := Parse(body)
			if err != nil {
				t.Fatalf("Parse(sandbox %s) err = %v, want nil", tt.name, err)
			}
			if diff := cmp.Diff([]Event{tt.want}, Events(env)); diff != "" {
				t.Errorf("Events(Parse(sandbox %s)) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}
