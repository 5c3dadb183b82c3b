package whatsapp

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseNormalized(t *testing.T) {
	base := Message{ID: "msg_2Yq8cT0sW3", From: testWAID, Time: unix(1767225590), Type: "text", Text: "STOP"}
	with := func(f func(*Message)) Event {
		m := base
		f(&m)
		return msgEvent(testPNID, m)
	}
	tests := []struct {
		file string
		want Event
	}{
		{"text.json", msgEvent(testPNID, base)},
		{"text_with_name.json", with(func(m *Message) { m.ProfileName, m.Text = "Zoë Test", "Réponse: oui 👍" })},
		{"button.json", with(func(m *Message) {
			m.Type, m.Text, m.ReplyID, m.ReplyTitle = "button", "", "STOP_REMINDERS", "Stop reminders"
		})},
		{"interactive.json", with(func(m *Message) { m.Type, m.Text, m.ReplyID, m.ReplyTitle = "interactive", "", "consent-yes", "Yes" })},
		{"image.json", with(func(m *Message) { m.Type, m.Text = "image", "" })},
		{"bsuid_only.json", with(func(m *Message) {
			m.From, m.FromUserID, m.Username, m.ProfileName = "", id(t, userBSUID), "test.user", "Test User"
		})},
		{"phone_and_bsuid.json", with(func(m *Message) { m.FromUserID = id(t, userBSUID) })},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readTestdata(t, "normalized/"+tt.file)
			got, err := ParseNormalized(body)
			if err != nil {
				t.Fatalf("ParseNormalized(%s) err = %v, want nil", tt.file, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseNormalized(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
			evs, err := ParseAny(body)
			if err != nil || !cmp.Equal(evs, []Event{got}) {
				t.Errorf("ParseAny(%s) = %v, %v; want the ParseNormalized event", tt.file, evs, err)
			}
			again, err := MarshalNormalized(got)
			if err != nil {
				t.Fatalf("MarshalNormalized(%s event) err = %v, want nil", tt.file, err)
			}
			if rt, err := ParseNormalized(again); err != nil || !cmp.Equal(rt, got) {
				t.Errorf("ParseNormalized(MarshalNormalized(ev)) = %v, %v; want the same event", rt, err)
			}
		})
	}
}

func TestParseNormalizedRejects(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "normalized", "bad_*.json"))
	if err != nil || len(files) < 10 {
		t.Fatalf("glob bad normalized testdata = %d files, %v", len(files), err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			body := readTestdata(t, "normalized/"+name)
			ev, err := ParseNormalized(body)
			if !errors.Is(err, ErrMalformed) || ev != (Event{}) {
				t.Fatalf("ParseNormalized(%s) = %v, %v; want zero, ErrMalformed", name, ev, err)
			}
			assertNoPayload(t, err.Error())
			if evs, err := ParseAny(body); !errors.Is(err, ErrMalformed) || evs != nil {
				t.Errorf("ParseAny(%s) = %d events, %v; want nil, ErrMalformed", name, len(evs), err)
			}
		})
	}
}

func TestParseNormalizedTooLarge(t *testing.T) {
	body := readTestdata(t, "normalized/text.json")
	if _, err := (Limits{MaxBytes: len(body) - 1}).ParseNormalized(body); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseNormalized(body over MaxBytes) err = %v, want ErrMalformed", err)
	}
	if _, err := (Limits{MaxBytes: len(body) - 1}).ParseAny(body); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseAny(body over MaxBytes) err = %v, want ErrMalformed", err)
	}
	long := strings.Replace(string(body), `"STOP"`, `"`+strings.Repeat("x", maxTextLen+1)+`"`, 1)
	if _, err := ParseNormalized([]byte(long)); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseNormalized(text over %d bytes) err = %v, want ErrMalformed", maxTextLen, err)
	}
}

func TestMarshalNormalizedRejects(t *testing.T) {
	ok := msgEvent(testPNID, Message{ID: "m1", From: testWAID, Time: unix(1767225590), Type: "text", Text: "hi"})
	tests := []struct {
		name string
		ev   Event
	}{
		{"status", statusEvent(testPNID, Status{ID: "m1", Status: "read", Time: unix(1)})},
		{"zero", Event{}},
		{"no phone number id", func() Event { e := ok; e.PhoneNumberID = ""; return e }()},
		{"from with plus", func() Event { e := ok; e.Message.From = "+" + testWAID; return e }()},
		{"no sender", func() Event { e := ok; e.Message.From = ""; return e }()},
		{"system", func() Event { e := ok; e.Message.Type, e.Message.Text = "system", ""; return e }()},
		{"invalid UTF-8 username", func() Event { e := ok; e.Message.Username = "\xff"; return e }()},
		{"zero time", func() Event { e := ok; e.Message.Time = unix(0); return e }()},
		{"invalid UTF-8 name", func() Event { e := ok; e.Message.ProfileName = "\xff"; return e }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := MarshalNormalized(tt.ev); !errors.Is(err, ErrMalformed) {
				t.Errorf("MarshalNormalized(%s) = %d bytes, %v; want ErrMalformed", tt.name, len(b), err)
			}
		})
	}
}
