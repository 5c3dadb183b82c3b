package redact

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// loggedAttr logs one attribute through NewLogger and returns the value the
// JSON line holds under key.
func loggedAttr(t testing.TB, key string, val any) string {
	t.Helper()
	var buf bytes.Buffer
	NewLogger(&buf, slog.LevelDebug).Info("m", key, val)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	s, _ := line[key].(string)
	return s
}

// TestIDAttrs checks that identifiers logged under an id key survive whole,
// digit runs included, so that a log line can be found from an API Gateway
// or Lambda request id, while a value under an id key that does not have an
// identifier's shape is still scanned. The ids are real-shaped; each holds
// a run of seven or more digits that the scan alone masks.
func TestIDAttrs(t *testing.T) {
	tests := []struct {
		name, key, val, want string
	}{
		{"lambda request id", "requestId", "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "8476a536-e9f4-11e8-9739-2dfe598c3fcd"},
		{"http api request id", "request_id", "Ab1CdE4470090GhIjKlM=", "Ab1CdE4470090GhIjKlM="},
		{"http api request id, 15 characters", "request_id", "JKJaX1234567vHc=", "JKJaX1234567vHc="},
		{"rest api request id", "request_id", "c0a8e1f2-3b4c-4d5e-8f90-123456789012", "c0a8e1f2-3b4c-4d5e-8f90-123456789012"},
		{"x-ray trace id", "trace_id", "1-5759e988-bd862e3fe1be46a994272793", "1-5759e988-bd862e3fe1be46a994272793"},
		{"erasure request", "erasure_request", "er_7MZQ2345672KDPXW4GHN3VFT", "er_7MZQ2345672KDPXW4GHN3VFT"},
		{"message id", "message_id", "msg_ABCD2345672345JKLMNOPQRS", "msg_ABCD2345672345JKLMNOPQRS"},
		{"consent event id", "id", "cev_Q3456723MZ7KLP2XWB4DHNVF", "cev_Q3456723MZ7KLP2XWB4DHNVF"},
		{"audit event id", "audit_id", "ev_q3456723mz7klp2xwb4dhnvfqa", "ev_q3456723mz7klp2xwb4dhnvfqa"},
		{"lambda request id key", "aws_request_id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "8476a536-e9f4-11e8-9739-2dfe598c3fcd"},
		{"any key ending in request id", "apigw_request_id", "JKJaX1234567vHc=", "JKJaX1234567vHc="},
		// A number logged under an id key is no identifier: it is masked.
		{"e164 under request id", "request_id", "+447700900123", "[phone]"},
		{"wa_id under request id", "request_id", "447700900123", "[phone]"},
		{"spaced number under id", "id", "07700 900123", "[phone]"},
		{"number after an id", "request_id", "JKJaXmPLvHcESHA= +447700900123", "JKJaXmPLvHcESHA= [phone]"},
		{"wamid under message id", "message_id", "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSQzQ5RTZBRjQ5QjVGQzc4OTVCAA==", "[wamid]"},
		{"secret under id", "id", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "[secret]"},
		{"unknown prefix", "id", "wg_ABCD2345672345JKLMNOPQRS", "wg_ABCD[phone]JKLMNOPQRS"},
		{"base32 of the wrong length", "message_id", "msg_ABCD2345672", "msg_ABCD[phone]"},
		{"digits only http api shape", "request_id", "44770090012345=", "[phone]="},
		// An id outside an id key is scanned like any text.
		{"http api id under another key", "route", "JKJaX1234567vHc=", "JKJaX[phone]vHc="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := loggedAttr(t, tc.key, tc.val); got != tc.want {
				t.Errorf("logged %s=%q as %q, want %q", tc.key, tc.val, got, tc.want)
			}
		})
	}
}

// TestIDAttrsNested checks id keys inside groups and structs.
func TestIDAttrsNested(t *testing.T) {
	const id = "JKJaX1234567vHc="
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelDebug).With("request_id", id)
	log.Info("m", slog.Group("req", "request_id", id, "note", "call +447700900123"),
		"ctx", struct{ RequestID, Phone string }{id, "+447700900123"})
	out := buf.String()
	if n := strings.Count(out, id); n != 3 || strings.Contains(out, "900123") {
		t.Errorf("output = %s, want the id 3 times and no number", out)
	}
}

func TestIsIDKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"request_id", true}, {"requestId", true}, {"RequestID", true}, {"aws_request_id", true},
		{"X-Request-Id", true}, {"erasure_request", true}, {"message_id", true}, {"id", true},
		{"audit_id", true}, {"event_id", true}, {"trace_id", true},
		{"wa_id", false}, {"phone_number_id", false}, {"client", false}, {"route", false},
		{"request", false}, {"idempotency_key", false}, {"", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if got := isIDKey(tc.key); got != tc.want {
				t.Errorf("isIDKey(%q) = %v, want %v", tc.key, got, tc.want)
			}
		})
	}
}
