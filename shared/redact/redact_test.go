package redact

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/waguard/waguard/shared/bsuid"
	"github.com/waguard/waguard/shared/phone"
)

// recordData is testdata/record.json.
type recordData struct {
	Numbers []string `json:"numbers"` // must not appear, in any format
	Words   []string `json:"words"`   // must not appear
	Keep    []string `json:"keep"`    // must appear
}

func loadRecord(t testing.TB) recordData {
	t.Helper()
	b, err := os.ReadFile("testdata/record.json")
	if err != nil {
		t.Fatalf("ReadFile() err = %v, want nil", err)
	}
	var d recordData
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("Unmarshal() err = %v, want nil", err)
	}
	return d
}

// digitsPattern matches the last 9 digits of number with up to three
// non-digits between each, so any formatting of it is found.
func digitsPattern(number string) *regexp.Regexp {
	d := number[len(number)-9:]
	parts := strings.Split(d, "")
	return regexp.MustCompile(strings.Join(parts, `\D{0,3}`))
}

// checkOutput fails t if out leaks anything in d or misses what d keeps.
func checkOutput(t *testing.T, out string, d recordData) {
	t.Helper()
	for _, n := range d.Numbers {
		if loc := digitsPattern(n).FindStringIndex(out); loc != nil {
			t.Errorf("output leaks digits of a number: %q", out[max(0, loc[0]-20):min(len(out), loc[1]+20)])
		}
	}
	for _, w := range d.Words {
		if strings.Contains(out, w) {
			t.Errorf("output leaks %q", w)
		}
	}
	for _, k := range d.Keep {
		if !strings.Contains(out, k) {
			t.Errorf("output lost %q", k)
		}
	}
}

type contact struct {
	Name  string
	Phone string
	Note  string
	Tags  map[string]string
	Count int
}

// node is a linked list deeper than the handler follows.
type node struct {
	Note string
	Next *node
}

func deep(n int) *node {
	head := &node{Note: "call 020 7946 0123"}
	for range n {
		head = &node{Note: "x", Next: head}
	}
	return head
}

// logEverything logs personal data every way a handler might.
func logEverything(log *slog.Logger) {
	n, _ := phone.Parse("+447700900123") // invalid: the zero Number
	n, _ = phone.Parse("+442079460123")
	uid, _ := bsuid.Parse("US.13491208655302741918")
	reqID := "c0a8e1f2-3b4c-4d5e-8f90-123456789012"
	log = log.With("function", "waguard-dev-send", "from", "+447700900123", "request_id", reqID)
	log.Info("inbound from +44 7700 900123 id wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSQzQ5RTZBRjQ5QjVGQzc4OTVCAA==",
		"route", "POST /v1/messages", "status", 202, "count", 3, "duration", 120*time.Millisecond,
		"due", "2024-01-15T10:30:00Z",
		"to", "+12025550123", "body", "hi Jane, call me on 020 7946 0123",
		"profile_name", "Jane Doe", "wa_id", "447700900123", "WaId", 447700900123,
		"number", n, "recipient", n,
		slog.Group("contact", "name", "Jane Doe", "phone", "+33199001234", "note", "reach me at 07700 900 123"),
		slog.Group("req", slog.Group("headers", "Authorization", "Bearer EAAGm0PX4ZCpsBAKcY3Sh0rtok", "X-Request-Id", reqID)),
		"err", fmt.Errorf("send to +447700900123: %w", errors.New("provider 131050: user 447700900123 opted out")),
		"payload", map[string]any{"from": "447700900123", "text": map[string]string{"body": "see you at 5"}, "n": 1},
		"contact2", &contact{Name: "Jane Doe", Phone: "+12025550123", Note: "mail jane@example.com", Tags: map[string]string{"src": "203.0.113.9"}, Count: 1},
		"query", "GET /me?access_token=EAAGm0PX4ZCps&x=1",
		"signature", "sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"sig", "sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"secret_len", 16, "raw", []byte("0123456789abcdef"),
		"client_password", "hunter2",
		"per_number", map[string]int{"+12025550123": 2},
		"raw_json", json.RawMessage(`{"to":"447700900123"}`),
		"deep", deep(12),
		"user_id", uid, "bsuid", uid, "from_user_id", "US.13491208655302741918", "username", "test.user",
		"note2", "user IN.aB3xYz09Q and parent US.ENT.11815799212886844830 wrote",
		"sender", struct{ ParentUserID, Username string }{"US.ENT.11815799212886844830", "test.user"},
	)
	log.WithGroup("g").With("msisdn", "447700900123").Error("failed for 07700900123", "inner", slog.GroupValue(slog.String("x", "+33 1 99 00 12 34")))
}

func TestHandlerNoLeaks(t *testing.T) {
	d := loadRecord(t)
	var buf bytes.Buffer
	logEverything(NewLogger(&buf, slog.LevelDebug))
	checkOutput(t, buf.String(), d)
	for i, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("line %d is not JSON: %s", i, line)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", buf.String())
	}
}

func TestHandlerText(t *testing.T) {
	var buf bytes.Buffer
	logEverything(slog.New(New(slog.NewTextHandler(&buf, nil))))
	d := loadRecord(t)
	d.Keep = nil // the keep list is written for JSON
	checkOutput(t, buf.String(), d)
}

func TestLevel(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelWarn)
	log.Info("dropped")
	if buf.Len() != 0 || log.Enabled(context.Background(), slog.LevelInfo) {
		t.Errorf("NewLogger(WARN) logged at INFO: %q", buf.String())
	}
	log.Warn("kept")
	if !strings.Contains(buf.String(), `"message":"kept"`) || !strings.Contains(buf.String(), `"timestamp"`) {
		t.Errorf("NewLogger() output = %q, want Lambda key names", buf.String())
	}
}

// TestNewLoggerRequestID checks that NewLogger, like the Lambda handler,
// adds the requestId of a Lambda context, unscanned, in groups too.
func TestNewLoggerRequestID(t *testing.T) {
	const id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelInfo)
	log.WarnContext(ctx, "w")
	log.With("a", 1).WithGroup("g").ErrorContext(ctx, "e")
	log.Info("no context")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"requestId":"`+id+`"`) ||
		!strings.Contains(lines[1], `"requestId":"`+id+`"`) || strings.Contains(lines[2], "requestId") {
		t.Errorf("NewLogger() output = %s, want requestId on the lines logged with the Lambda context", buf.String())
	}
}

// TestNewLambdaLogger captures standard output, where the Lambda handler
// writes, and checks that requestId survives and the number does not.
func TestNewLambdaLogger(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("Pipe() err = %v, want nil", err)
	}
	stdout := os.Stdout
	os.Stdout = w
	log := NewLambdaLogger()
	os.Stdout = stdout
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c0a8e1f2-3b4c-4d5e-8f90-123456789012"})
	log.InfoContext(ctx, "sent", "to", "+447700900123", "note", "ring 07700 900123")
	_ = w.Close()
	out, _ := io.ReadAll(r)
	if strings.Contains(string(out), "900123") || !strings.Contains(string(out), "c0a8e1f2-3b4c-4d5e-8f90-123456789012") { // text or JSON, per AWS_LAMBDA_LOG_FORMAT
		t.Errorf("NewLambdaLogger() output = %q, want requestId and no number", out)
	}
}

// FuzzHandler checks that the output is JSON, that a value under an id key
// is kept whole exactly when it has an identifier's shape, and that a
// number placed in a value under an id key is masked.
func FuzzHandler(f *testing.F) {
	f.Add("msg +447700900123", "note", "call 07700 900123", uint64(0))
	for _, id := range []string{"8476a536-e9f4-11e8-9739-2dfe598c3fcd", "JKJaX1234567vHc=", "er_7MZQ2345672KDPXW4GHN3VFT",
		"msg_ABCD2345672345JKLMNOPQRS", "ev_q3456723mz7klp2xwb4dhnvfqa", "1-5759e988-bd862e3fe1be46a994272793", "447700900123"} {
		f.Add("request", "request_id", id, uint64(447700900123))
	}
	f.Fuzz(func(t *testing.T, msg, key, val string, n uint64) {
		var buf bytes.Buffer
		log := NewLogger(&buf, slog.LevelDebug)
		num := fmtNumber(n)
		withNum := val + " " + num + " " + val
		log.Info(msg, key, val, slog.Group("g", key, val), "err", errors.New(val), "v", map[string]string{key: val},
			"request_id", val, "id", withNum)
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("output is not JSON: %s", buf.Bytes())
		}
		if got := line["request_id"]; isID(val) && got != val {
			t.Fatalf("request_id %q logged as %q, want it whole", val, got)
		} else if !isID(val) && got != String(val) && utf8.ValidString(val) {
			t.Fatalf("request_id %q logged as %q, want it scanned: %q", val, got, String(val))
		}
		if got, _ := line["id"].(string); strings.Count(got, num) > 2*strings.Count(val, num) {
			t.Fatalf("id %q logged as %q, leaks %q", withNum, got, num)
		}
	})
}

// FuzzIsID checks that an identifier's shape relaxes only the digit-run
// rule: the scan finds nothing else in a value isID accepts.
func FuzzIsID(f *testing.F) {
	for _, tc := range loadStrings(f) {
		f.Add(tc.In)
	}
	for _, id := range []string{"8476a536-e9f4-11e8-9739-2dfe598c3fcd", "JKJaX1234567vHc=", "er_7MZQ2345672KDPXW4GHN3VFT",
		"1-5759e988-bd862e3fe1be46a994272793", "ev_q3456723mz7klp2xwb4dhnvfqa"} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isID(s) {
			return
		}
		if got := strings.ReplaceAll(String(s), maskPhone, ""); strings.Contains(got, "[") {
			t.Fatalf("isID(%q) = true, but String gives %q", s, String(s))
		}
		if strings.ContainsAny(s, " +(.@") || len(s) > 36 {
			t.Fatalf("isID(%q) = true, want no separators and at most 36 bytes", s)
		}
	})
}

func BenchmarkHandler(b *testing.B) {
	for _, bc := range []struct {
		name string
		h    func(io.Writer) slog.Handler
	}{
		{"json", func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) }},
		{"redact+json", func(w io.Writer) slog.Handler { return New(slog.NewJSONHandler(w, nil)) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			log := slog.New(bc.h(io.Discard))
			b.ReportAllocs()
			for b.Loop() {
				log.Info("message sent", "route", "POST /v1/messages", "status", 202,
					"request_id", "c0a8e1f2-3b4c-4d5e-8f90-123456789012", "count", 3,
					"to", "+447700900123", "err", errors.New("provider 131050: user 447700900123 opted out"))
			}
		})
	}
}
