package endpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/events"
)

// Synthetic secrets, used nowhere else: whsec_ and the base64 of 32 and
// 24 bytes. testURL carries a token in its path and query, which must
// never print.
const (
	testSecret     = "whsec_dGVzdC1lbmRwb2ludC1zZWNyZXQtMDAwMS0zMmJ5dCE="
	testPrevSecret = "whsec_dGVzdC1wcmV2aW91cy1zZWNyZXQtMDAw"
	testURL        = "https://crm.example.com/hooks/T0ken-in-path?token=q53cr3t"
	testUntil      = "2026-01-02T00:00:00Z"
)

// testNow is a fixed clock before testUntil: 2026-01-01T00:00:00Z.
var testNow = time.Unix(1767225600, 0).UTC()

// doc returns an endpoint secret's JSON value: a valid one with the
// fields of set replaced, and those set to nil removed.
func doc(set map[string]any) []byte {
	d := map[string]any{"kind": Kind, "url": testURL, "types": []string{}, "include_content": false, "secret": testSecret}
	for k, v := range set {
		if v == nil {
			delete(d, k)
			continue
		}
		d[k] = v
	}
	b, _ := json.Marshal(d)
	return b
}

func TestParse(t *testing.T) {
	type want struct {
		Host           string
		Types          []events.Type
		IncludeContent bool
		PreviousUntil  time.Time
	}
	until, _ := time.Parse(time.RFC3339, testUntil)
	tests := []struct {
		name string
		doc  []byte
		want want
	}{
		{"minimal", doc(map[string]any{"types": nil, "include_content": nil}), want{Host: "crm.example.com", Types: []events.Type{}}},
		{"types sorted and deduplicated", doc(map[string]any{"types": []string{"subject.erased", "message.received", "subject.erased"}}),
			want{Host: "crm.example.com", Types: []events.Type{events.TypeMessageReceived, events.TypeSubjectErased}}},
		{"content", doc(map[string]any{"include_content": true}), want{Host: "crm.example.com", Types: []events.Type{}, IncludeContent: true}},
		{"overlap", doc(map[string]any{"previous_secret": testPrevSecret, "previous_until": testUntil}),
			want{Host: "crm.example.com", Types: []events.Type{}, PreviousUntil: until}},
		{"empty previous is none", doc(map[string]any{"previous_secret": "", "previous_until": ""}), want{Host: "crm.example.com", Types: []events.Type{}}},
		{"loopback sandbox", doc(map[string]any{"url": "http://127.0.0.1:4604/_sandbox/endpoint"}), want{Host: "127.0.0.1:4604", Types: []events.Type{}}},
		{"https with port", doc(map[string]any{"url": "https://hooks.example.com:8443/"}), want{Host: "hooks.example.com:8443", Types: []events.Type{}}},
		{"64-byte key", doc(map[string]any{"secret": "whsec_" + b64(64)}), want{Host: "crm.example.com", Types: []events.Type{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse("crm", "v-1", tt.doc)
			if err != nil {
				t.Fatalf("Parse() err = %v, want nil", err)
			}
			got := want{Host: e.Host(), Types: e.Types(), IncludeContent: e.IncludeContent(), PreviousUntil: e.PreviousUntil()}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
			}
			if e.Name() != "crm" || e.VersionID() != "v-1" || e.URL() != jsonField(t, tt.doc, "url") {
				t.Errorf("Parse() name %q version %q url kept %v, want crm v-1 true", e.Name(), e.VersionID(), e.URL() == jsonField(t, tt.doc, "url"))
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name, endpoint string
		doc            []byte
		wantMsg        string
	}{
		{"name with slash", "a/b", doc(nil), "name"},
		{"name too long", strings.Repeat("a", 65), doc(nil), "name"},
		{"name like a phone number", "crm447700900123", doc(nil), "name"},
		{"empty name", "", doc(nil), "name"},
		{"not JSON", "crm", []byte(`{"secret":"` + testSecret), "not a JSON object"},
		{"JSON array", "crm", []byte(`[1]`), "not a JSON object"},
		{"trailing data", "crm", append(doc(nil), []byte(` {"url":"x"}`)...), "after the JSON object"},
		{"too large", "crm", doc(map[string]any{"x": strings.Repeat("a", 17<<10)}), "16 KiB"},
		{"unknown field", "crm", doc(map[string]any{"include_contents": true}), `unknown field "include_contents"`},
		{"unknown field with a secret-like name", "crm", doc(map[string]any{testSecret: 1}), "unknown field"},
		{"wrong type", "crm", doc(map[string]any{"include_content": "yes"}), `"include_content" has the wrong type`},
		{"types not a list", "crm", doc(map[string]any{"types": "message.received"}), `"types" has the wrong type`},
		{"kind missing", "crm", doc(map[string]any{"kind": nil}), `"kind"`},
		{"kind wrong", "crm", doc(map[string]any{"kind": "webhook-secret"}), `"kind"`},
		{"url missing", "crm", doc(map[string]any{"url": nil}), `"url" is required`},
		{"url http", "crm", doc(map[string]any{"url": "http://crm.example.com/hook?token=q53cr3t"}), "must be https"},
		{"url http loopback name", "crm", doc(map[string]any{"url": "http://localhost:8080/hook"}), "must be https"},
		{"url http loopback without port", "crm", doc(map[string]any{"url": "http://127.0.0.1/hook"}), "must be https"},
		{"url relative", "crm", doc(map[string]any{"url": "/hooks/waguard"}), "absolute URL"},
		{"url credentials", "crm", doc(map[string]any{"url": "https://user:p4ss@crm.example.com/hook"}), "credentials"},
		{"url fragment", "crm", doc(map[string]any{"url": "https://crm.example.com/hook#frag"}), "fragment"},
		{"url ftp", "crm", doc(map[string]any{"url": "ftp://crm.example.com/hook"}), "must be https"},
		{"url unparsable", "crm", doc(map[string]any{"url": "https://crm.example.com/%zz?token=q53cr3t"}), "absolute URL"},
		{"url too long", "crm", doc(map[string]any{"url": "https://crm.example.com/" + strings.Repeat("a", 2048)}), "2048"},
		{"unknown type", "crm", doc(map[string]any{"types": []string{"message.received", "message.recieved"}}), "item 1 is not an event type"},
		{"secret missing", "crm", doc(map[string]any{"secret": nil}), `"secret" must be whsec_`},
		{"secret without prefix", "crm", doc(map[string]any{"secret": strings.TrimPrefix(testSecret, "whsec_")}), `"secret" must be whsec_`},
		{"secret unpadded", "crm", doc(map[string]any{"secret": strings.TrimRight(testSecret, "=")}), "padded base64"},
		{"secret url-safe base64", "crm", doc(map[string]any{"secret": "whsec_" + strings.Repeat("_-", 16)}), "padded base64"},
		{"secret too short", "crm", doc(map[string]any{"secret": "whsec_" + b64(23)}), "24 to 64 bytes"},
		{"secret too long", "crm", doc(map[string]any{"secret": "whsec_" + b64(65)}), "24 to 64 bytes"},
		{"previous without until", "crm", doc(map[string]any{"previous_secret": testPrevSecret}), `"previous_until" must be an RFC 3339`},
		{"previous until not RFC 3339", "crm", doc(map[string]any{"previous_secret": testPrevSecret, "previous_until": "tomorrow"}), `"previous_until"`},
		{"previous malformed", "crm", doc(map[string]any{"previous_secret": "whsec_short", "previous_until": testUntil}), `"previous_secret" must be whsec_`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.endpoint, "v-1", tt.doc)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Parse() err = %v, want ErrInvalid containing %q", err, tt.wantMsg)
			}
			if e.Name() != "" || e.URL() != "" {
				t.Errorf("Parse() returned an endpoint with an error")
			}
			checkNoSecrets(t, err.Error())
		})
	}
}

// checkNoSecrets fails when out holds a secret, a URL's path or query, or
// any part of them.
func checkNoSecrets(t *testing.T, out string) {
	t.Helper()
	for _, s := range []string{strings.TrimPrefix(testSecret, "whsec_")[:12], strings.TrimPrefix(testPrevSecret, "whsec_")[:12],
		"T0ken-in-path", "q53cr3t", "p4ss", "hooks/waguard", "zz"} {
		if strings.Contains(out, s) {
			t.Errorf("output %q reveals %q", out, s)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"sandbox", true}, {"crm-eu_1", true}, {"A", true}, {strings.Repeat("a", 64), true}, {"x1234567", true},
		{"", false}, {"-crm", false}, {"_crm", false}, {"crm.eu", false}, {"crm/eu", false}, {"crm eu", false},
		{strings.Repeat("a", 65), false}, {"crm12345678", false}, {"é", false},
	}
	for _, tt := range tests {
		if got := ValidName(tt.name); got != tt.want {
			t.Errorf("ValidName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestAccepts(t *testing.T) {
	all, _ := Parse("all", "v", doc(nil))
	some, _ := Parse("some", "v", doc(map[string]any{"types": []string{"subject.erased"}}))
	tests := []struct {
		e    Endpoint
		t    events.Type
		want bool
	}{
		{all, events.TypeMessageReceived, true}, {all, events.TypeSubjectErased, true}, {all, events.TypeUnknown, false},
		{all, events.Type("message.deleted"), false},
		{some, events.TypeSubjectErased, true}, {some, events.TypeMessageReceived, false},
	}
	for _, tt := range tests {
		if got := tt.e.Accepts(tt.t); got != tt.want {
			t.Errorf("%s.Accepts(%q) = %v, want %v", tt.e.Name(), tt.t, got, tt.want)
		}
	}
}

func TestEndpointNeverPrints(t *testing.T) {
	e, err := Parse("crm", "v-1", doc(map[string]any{"previous_secret": testPrevSecret, "previous_until": testUntil, "types": []string{"message.status"}}))
	if err != nil {
		t.Fatalf("Parse() err = %v, want nil", err)
	}
	type holder struct{ E Endpoint }
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "endpoint", e, "h", holder{e})
	js, _ := json.Marshal(holder{e})
	outs := []string{e.String(), fmt.Sprintf("%v", e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e), fmt.Sprintf("%x", e),
		fmt.Sprintf("%s", e), fmt.Sprintf("%d", &e), fmt.Sprintf("%+v", holder{e}), fmt.Sprintf("%#v", holder{e}), logged.String(), string(js)}
	for _, out := range outs {
		checkNoSecrets(t, out)
		if strings.Contains(out, "dGVzdC1") || strings.Contains(out, "test-endpoint") {
			t.Errorf("output %q reveals a secret", out)
		}
	}
	want := "endpoint.Endpoint{crm host=crm.example.com types=message.status include_content=false version=v-1 previous_until=2026-01-02T00:00:00Z}"
	if got := fmt.Sprint(e); got != want {
		t.Errorf("fmt.Sprint(e) = %q, want %q", got, want)
	}
}

// b64 returns the padded base64 of n bytes.
func b64(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return base64Std(b)
}

func jsonField(t *testing.T, doc []byte, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("json.Unmarshal(doc) err = %v", err)
	}
	s, _ := m[field].(string)
	return s
}

func TestValidSecret(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{testSecret, true}, {testPrevSecret, true}, {GenerateSecret(), true},
		{"", false}, {"whsec_", false}, {strings.TrimPrefix(testSecret, "whsec_"), false}, {strings.TrimRight(testSecret, "="), false},
		{"whsec_" + b64(23), false}, {"whsec_" + b64(65), false},
	} {
		if got := ValidSecret(tt.s); got != tt.want {
			t.Errorf("ValidSecret(%.12s…) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
