package whatsapp

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseEvents(t *testing.T) {
	patient := func(m Message) Message {
		m.From, m.ProfileName, m.Time = testWAID, "Test Patient", unix(1767225700)
		if m.ID == "" {
			m.ID = inWAMID
		}
		return m
	}
	tests := []struct {
		file string
		want []Event
	}{
		{"text.json", []Event{msgEvent(testPNID, Message{
			ID: "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUQUJDREVGMDEyMzQ1Njc4OUFCQ0QA", From: testWAID, ProfileName: "Zoë Test",
			Time: unix(1767225600), Type: "text", Text: "Reply STOP / ARRÊT to opt out 👍",
		})}},
		{"interactive_button_reply.json", []Event{msgEvent(testPNID, patient(Message{Type: "interactive", ReplyID: "consent-no", ReplyTitle: "No"}))}},
		{"interactive_list_reply.json", []Event{msgEvent(testPNID, patient(Message{Type: "interactive", ReplyID: "slot-tue-0900", ReplyTitle: "Tuesday 09:00"}))}},
		{"button.json", []Event{msgEvent(testPNID, patient(Message{Type: "button", ReplyID: "STOP_REMINDERS", ReplyTitle: "Stop reminders"}))}},
		{"image.json", []Event{msgEvent(testPNID, patient(Message{Type: "image"}))}},
		{"reaction.json", []Event{msgEvent(testPNID, patient(Message{Type: "reaction"}))}},
		{"location.json", []Event{msgEvent(testPNID, patient(Message{Type: "location"}))}},
		{"unsupported.json", []Event{msgEvent(testPNID, patient(Message{Type: "unsupported"}))}},
		{"unknown_fields.json", []Event{msgEvent(testPNID, patient(Message{Type: "text", Text: "hi", FromUserID: id(t, userBSUID)}))}},
		{"message_no_sender.json", []Event{msgEvent(testPNID, Message{ID: inWAMID, Time: unix(1767225700), Type: "text", Text: "hi"})}},
		{"status_sent.json", []Event{statusEvent(testPNID, Status{
			ID: "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSOUEzQ0E1QjNENENENkU2N0U3AA==", Status: "sent", Time: unix(1767225600), RecipientID: testWAID,
		})}},
		{"status_callback_data.json", []Event{statusEvent(testPNID, Status{
			ID: "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSOUEzQ0E1QjNENENENkU2N0U3AA==", Status: "sent", Time: unix(1767225600), RecipientID: testWAID,
			CallbackData: "msg_ABCDEFGHIJKLMNOPQRSTUVWX",
		})}},
		{"status_delivered.json", []Event{statusEvent(testPNID, Status{ID: outWAMID, Status: "delivered", Time: unix(1767225610), RecipientID: testWAID})}},
		{"status_read.json", []Event{statusEvent(testPNID, Status{ID: outWAMID, Status: "read", Time: unix(1767225620), RecipientID: testWAID})}},
		{"status_failed.json", []Event{statusEvent(testPNID, Status{
			ID: "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSOUEzQ0E1QjNENENENkU2N0U3AA==", Status: "failed", Time: unix(1767225660), RecipientID: testWAID, ErrorCode: 131047,
		})}},
		{"value_errors.json", []Event{{Kind: KindError, PhoneNumberID: testPNID, ErrorCode: 131000}}},
		{"other_phone_number_id.json", []Event{msgEvent(otherPNID, Message{
			ID: inWAMIDUS, From: usWAID, ProfileName: "Other Line User", Time: unix(1767225800), Type: "text", Text: "hello other line",
		})}},
		{"batch_multi_entry.json", []Event{
			msgEvent(testPNID, Message{ID: inWAMID, From: testWAID, ProfileName: "Test Patient", Time: unix(1767225700), Type: "text", Text: "STOP"}),
			msgEvent(testPNID, Message{ID: inWAMID2, From: secondWAID, ProfileName: "Second Patient", Time: unix(1767225701), Type: "text", Text: "Yes please"}),
			statusEvent(testPNID, Status{ID: outWAMID2, Status: "delivered", Time: unix(1767225702), RecipientID: secondWAID}),
			statusEvent(otherPNID, Status{ID: outWAMIDUS, Status: "failed", Time: unix(1767225703), RecipientID: usWAID, ErrorCode: 131026}),
		}},
		{"template_status_update.json", nil},
		{"three_messages.json", []Event{
			msgEvent(testPNID, patient(Message{ID: inWAMID + "0", Type: "text", Text: "m0"})),
			msgEvent(testPNID, patient(Message{ID: inWAMID + "1", Type: "text", Text: "m1"})),
			msgEvent(testPNID, patient(Message{ID: inWAMID + "2", Type: "text", Text: "m2"})),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readTestdata(t, "webhook/"+tt.file)
			env, err := Parse(body)
			if err != nil {
				t.Fatalf("Parse(%s) err = %v, want nil", tt.file, err)
			}
			if diff := cmp.Diff(tt.want, Events(env)); diff != "" {
				t.Errorf("Events(Parse(%s)) mismatch (-want +got):\n%s", tt.file, diff)
			}
			any, err := ParseAny(body)
			if err != nil || !cmp.Equal(any, Events(env)) {
				t.Errorf("ParseAny(%s) = %d events, %v; want the events of Parse", tt.file, len(any), err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		file   string
		limits Limits
		reason string // part of the error text
	}{
		{"bad_wrong_object.json", Limits{}, "object"},
		{"bad_no_object.json", Limits{}, "object"},
		{"bad_array.json", Limits{}, "wrong JSON type"},
		{"bad_entry_not_array.json", Limits{}, "wrong JSON type"},
		{"bad_product.json", Limits{}, "messaging_product"},
		{"bad_no_phone_number_id.json", Limits{}, "phone_number_id"},
		{"bad_message_no_id.json", Limits{}, "message 0"},
		{"bad_status_no_timestamp.json", Limits{}, "status 0"},
		{"bad_timestamp_text.json", Limits{}, "timestamp"},
		{"bad_timestamp_negative.json", Limits{}, "timestamp"},
		{"bad_text_not_object.json", Limits{}, "wrong JSON type"},
		{"bad_truncated.json", Limits{}, "invalid JSON"},
		{"bad_trailing.json", Limits{}, "after the JSON value"},
		{"bad_not_json.json", Limits{}, "invalid JSON"},
		{"bad_empty.json", Limits{}, "invalid JSON"},
		{"oversized_entries.json", Limits{}, "101 entries exceed 100"},
		{"three_messages.json", Limits{MaxEvents: 2}, "more than 2 events"},
		{"batch_multi_entry.json", Limits{MaxEvents: 3}, "more than 3 events"},
		{"batch_multi_entry.json", Limits{MaxEntries: 1}, "2 entries exceed 1"},
		{"batch_multi_entry.json", Limits{MaxChanges: 2}, "3 changes exceed 2"},
		{"text.json", Limits{MaxBytes: 100}, "exceeds 100"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %+v", tt.file, tt.limits), func(t *testing.T) {
			body := readTestdata(t, "webhook/"+tt.file)
			env, err := tt.limits.Parse(body)
			if !errors.Is(err, ErrMalformed) || env != nil {
				t.Fatalf("Parse(%s) = %v, %v; want nil, ErrMalformed", tt.file, env, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Parse(%s) err = %q, want it to mention %q", tt.file, err, tt.reason)
			}
			assertNoPayload(t, err.Error())
			if evs, err := tt.limits.ParseAny(body); !errors.Is(err, ErrMalformed) || evs != nil {
				t.Errorf("ParseAny(%s) = %d events, %v; want nil, ErrMalformed", tt.file, len(evs), err)
			}
		})
	}
}

// assertNoPayload fails when s holds a synthetic number, wamid or text
// from the testdata payloads.
func assertNoPayload(t *testing.T, s string) {
	t.Helper()
	for _, leak := range append([]string{"447700900", "1555010", "wamid", "HBgM", "Patient", "STOP", "cut here", "sms", "yesterday", "page"}, bsuidLeaks...) {
		if strings.Contains(s, leak) {
			t.Errorf("%q contains payload content %q", s, leak)
		}
	}
}

func TestParseDefaultEventLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1"},"statuses":[`)
	for i := range DefaultMaxEvents + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"wamid.%d","status":"read","timestamp":"1767225600","recipient_id":"1"}`, i)
	}
	b.WriteString(`]}}]}]}`)
	if _, err := Parse([]byte(b.String())); !errors.Is(err, ErrMalformed) {
		t.Errorf("Parse(%d statuses) err = %v, want ErrMalformed", DefaultMaxEvents+1, err)
	}
	cut := strings.Replace(b.String(), `,{"id":"wamid.1000"`, `]}}]}]}`+"\x00", 1)
	cut = cut[:strings.IndexByte(cut, 0)]
	env, err := Parse([]byte(cut))
	if err != nil || len(Events(env)) != DefaultMaxEvents {
		t.Errorf("Parse(%d statuses) = %d events, %v; want %d, nil", DefaultMaxEvents, len(Events(env)), err, DefaultMaxEvents)
	}
}

func TestEventsNil(t *testing.T) {
	if got := Events(nil); got != nil {
		t.Errorf("Events(nil) = %v, want nil", got)
	}
}
