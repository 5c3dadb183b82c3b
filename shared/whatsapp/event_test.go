package whatsapp

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// sprintAll formats v with every common verb.
func sprintAll(v any) string {
	return fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%X|%d|%T", v, v, v, v, v, v, v, v, v)
}

// logged returns v as logged by slog's JSON and text handlers.
func logged(v any) string {
	var b bytes.Buffer
	opts := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	slog.New(slog.NewJSONHandler(&b, opts)).Info("event", "ev", v)
	slog.New(slog.NewTextHandler(&b, opts)).Info("event", "ev", v)
	return b.String()
}

func TestPrintingRevealsNoPersonalData(t *testing.T) {
	body := readTestdata(t, "webhook/batch_multi_entry.json")
	env, err := Parse(body)
	if err != nil {
		t.Fatalf("Parse(batch) err = %v, want nil", err)
	}
	evs := Events(env)
	norm, err := ParseNormalized(readTestdata(t, "normalized/text_with_name.json"))
	if err != nil {
		t.Fatalf("ParseNormalized() err = %v, want nil", err)
	}
	evs = append(evs, norm)
	var out strings.Builder
	for _, v := range []any{env, evs, evs[0], &evs[0], evs[0].Message, evs[2].Status, evs[3], []any{evs}} {
		out.WriteString(sprintAll(v))
		out.WriteString(logged(v))
		out.WriteString(fmt.Sprint(v))
	}
	s := out.String()
	for _, leak := range append([]string{"447700900", "1555010", "wamid", "HBg", "Patient", "STOP", "Yes please", "Zoë", "Zo\\u00eb", "Réponse", "msg_2Yq8", "100000000000001"}, bsuidLeaks...) {
		if strings.Contains(s, leak) {
			t.Errorf("printed events contain %q", leak)
		}
	}
	for _, want := range []string{"text_len=4", "status=\"failed\"", "error_code=131026", "2026-01-01T00:01:40Z", `"kind":"message"`} {
		if !strings.Contains(s, want) {
			t.Errorf("printed events lack %q:\n%.2000s", want, s)
		}
	}
}

// TestPrintingDependsOnLengthsOnly replaces every personal field by
// another value of the same length and expects identical output.
func TestPrintingDependsOnLengthsOnly(t *testing.T) {
	a := msgEvent(testPNID, Message{ID: inWAMID, From: testWAID, FromUserID: id(t, userBSUID), FromParentUserID: id(t, parentBSUID),
		ProfileName: "Test", Username: "test.user", Time: unix(1767225600), Type: "text", Text: "hello", ReplyID: "r1", ReplyTitle: "t"})
	for _, ev := range []Event{a, statusEvent(testPNID, Status{ID: outWAMID, Status: "read", RecipientID: testWAID,
		RecipientUserID: id(t, userBSUID), RecipientParentUserID: id(t, parentBSUID), Username: "test.user", Time: unix(1767225600)}),
		sysEvent(testPNID, System{ID: inWAMID, Type: SystemUserChangedNumber, From: testWAID, FromUserID: id(t, userBSUID), WAID: secondWAID,
			UserID: id(t, newBSUID), PreviousUserID: id(t, userBSUID), ParentUserID: id(t, parentBSUID), PreviousParentUserID: id(t, parentBSUID)}),
		prefEvent(testPNID, Preference{WAID: testWAID, UserID: id(t, userBSUID), ParentUserID: id(t, parentBSUID), Category: "marketing_messages", Value: "stop"}),
	} {
		if b := masked(ev); sprintAll(ev) != sprintAll(b) || logged(ev) != logged(b) {
			t.Errorf("printing depends on field content:\n%s\n%s", sprintAll(ev), sprintAll(b))
		}
	}
}

func TestPrintingOddTypes(t *testing.T) {
	ev := msgEvent(testPNID, Message{Type: "text about +447700900123"})
	st := statusEvent(testPNID, Status{Status: "call 447700900123"})
	for _, s := range []string{sprintAll(ev), logged(ev), sprintAll(st), logged(st)} {
		if strings.Contains(s, "447700900123") || !strings.Contains(s, "other") {
			t.Errorf("printed event with a free-text type = %s, want the type shown as other", s)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindUnknown: "unknown", KindMessage: "message", KindStatus: "status", KindError: "error",
		KindSystem: "system", KindPreference: "preference", 42: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
	if got := fmt.Sprint(Event{}); got != "whatsapp.Event{unknown}" {
		t.Errorf("fmt.Sprint(Event{}) = %q, want whatsapp.Event{unknown}", got)
	}
	var nilEnv *Envelope
	if got := fmt.Sprint(nilEnv) + logged(nilEnv); !strings.Contains(got, "nil") {
		t.Errorf("printing a nil *Envelope = %q, want nil", got)
	}
}
