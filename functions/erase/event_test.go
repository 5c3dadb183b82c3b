package main

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeEvent(t *testing.T) {
	for _, tc := range []struct {
		name      string
		raw       string
		route     string
		action    string
		scheduled bool
		err       string // "" no error
	}{
		{name: "schedule", raw: `{"action":"resume_pending_erasures"}`, action: actionResume, scheduled: true},
		{name: "API request", raw: `{"routeKey":"POST /v1/exports","body":"{}","requestContext":{"requestId":"r1"}}`, route: "POST /v1/exports"},
		{name: "EventBridge envelope without input", raw: `{"detail-type":"Scheduled Event","source":"aws.events"}`, scheduled: true},
		{name: "null", raw: `null`, scheduled: true},
		{name: "not JSON", raw: `{"action":`, err: "not JSON"},
		{name: "empty", raw: ``, err: "not JSON"},
		{name: "a number where a string goes", raw: `{"action":14155550123}`, err: `field "action" is not a string`},
		{name: "a number where a flag goes", raw: `{"routeKey":"POST /v1/exports","isBase64Encoded":14155550123}`, err: `isBase64Encoded" is not a bool`},
		{name: "a header that is not a string", raw: `{"routeKey":"x","headers":{"authorization":14155550123}}`, err: `headers" is not a string`},
		{name: "an array", raw: `["+14155550123"]`, err: "is not a main.Event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := decodeEvent([]byte(tc.raw))
			if tc.err != "" {
				if !errors.Is(err, errUnreadableEvent) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("decodeEvent() err = %v, want errUnreadableEvent with %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "4155550123") {
					t.Errorf("decodeEvent() err = %v: holds a value of the payload", err)
				}
				return
			}
			if err != nil || ev.RouteKey != tc.route || ev.Action != tc.action || ev.scheduled() != tc.scheduled {
				t.Errorf("decodeEvent() = route %q action %q scheduled %v, err %v; want %q %q %v", ev.RouteKey, ev.Action, ev.scheduled(), err,
					tc.route, tc.action, tc.scheduled)
			}
		})
	}
}

// FuzzDecodeEvent: an invocation's payload never panics the decoder, and
// an error never carries a digit run of the payload (a phone number).
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{`{"action":"resume_pending_erasures"}`, `{"routeKey":"GET /v1/erasure-requests/{id}","pathParameters":{"id":"er_1"}}`,
		`{"action":4155550123}`, `{"isBase64Encoded":"4155550123"}`, `[`, `{"requestContext":{"timeEpoch":1e99}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, err := decodeEvent(raw)
		if err == nil {
			return
		}
		if !errors.Is(err, errUnreadableEvent) {
			t.Fatalf("decodeEvent() err = %v, want errUnreadableEvent", err)
		}
		msg := err.Error()
		for _, field := range strings.FieldsFunc(string(raw), func(r rune) bool { return r < '0' || r > '9' }) {
			if len(field) >= 7 && strings.Contains(msg, field) {
				t.Fatalf("decodeEvent() err = %q holds the payload's digits %s", msg, field)
			}
		}
	})
}
