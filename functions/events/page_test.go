package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/store"
)

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

func mid(c byte) string { return "msg_" + string(make24(c)) }

func make24(c byte) []byte {
	b := make([]byte, 24)
	for i := range b {
		b[i] = c
	}
	return b
}

func refAt(id string, direction string, at time.Time) store.MessageRef {
	return store.MessageRef{ID: id, Direction: direction, At: at}
}

func refIDs(refs []store.MessageRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.ID)
	}
	return out
}

func TestSelectPage(t *testing.T) {
	a, b, c, d := mid('A'), mid('B'), mid('C'), mid('D')
	refs := []store.MessageRef{
		refAt(a, "in", t0),
		refAt(b, "out", t0.Add(time.Minute)),
		refAt(c, "in", t0.Add(time.Minute)), // same second as b: C sorts first (id descending)
		refAt(d, "out", t0.Add(-time.Hour)),
	}
	tests := []struct {
		name  string
		f     filter
		limit int
		want  []string
		more  bool
	}{
		{"newest first", filter{}, 10, []string{c, b, a, d}, false},
		{"limit", filter{}, 2, []string{c, b}, true},
		{"exactly the limit", filter{}, 4, []string{c, b, a, d}, false},
		{"after a cursor", filter{after: position{t0.Add(time.Minute), b}, hasAfter: true}, 10, []string{a, d}, false},
		{"after a cursor within a second", filter{after: position{t0.Add(time.Minute), c}, hasAfter: true}, 10, []string{b, a, d}, false},
		{"inbound only", filter{direction: "in"}, 10, []string{c, a}, false},
		{"outbound only", filter{direction: "out"}, 1, []string{b}, true},
		{"since (inclusive)", filter{since: t0}, 10, []string{c, b, a}, false},
		{"nothing after the last", filter{after: position{t0.Add(-time.Hour), d}, hasAfter: true}, 10, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, more := selectPage(refs, tc.f, tc.limit)
			if diff := cmp.Diff(tc.want, refIDs(got)); diff != "" || more != tc.more {
				t.Errorf("selectPage() more = %t, want %t; ids (-want +got):\n%s", more, tc.more, diff)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	p := position{at: t0, id: mid('Q')}
	got, ok, err := parseCursor(p.cursor())
	if err != nil || !ok || got != p {
		t.Fatalf("parseCursor(cursor()) = %v, %t, %v; want %v", got, ok, err, p)
	}
	if _, ok, err := parseCursor(""); ok || err != nil {
		t.Errorf("parseCursor(\"\") = %t, %v; want the start", ok, err)
	}
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{
		"x", "msg#in#abc", "1|5|" + mid('A'), enc("2|5|" + mid('A')), enc("1|-5|" + mid('A')), enc("1|05|" + mid('A')),
		enc("1|5|msg_short"), enc("1|5|" + mid('A') + "|x"), enc("1||" + mid('A')), enc("1|99999999999999999999|" + mid('A')),
		enc("1|5|" + mid('a')), base64.URLEncoding.EncodeToString([]byte("1|5|"+mid('A'))) + "==",
	} {
		if _, _, err := parseCursor(bad); !errors.Is(err, errBadCursor) {
			t.Errorf("parseCursor(%q) err = %v, want errBadCursor", bad, err)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	f.Add(position{at: t0, id: mid('Q')}.cursor())
	f.Add("")
	f.Add("MXwxfG1zZ18")
	f.Fuzz(func(t *testing.T, s string) {
		p, ok, err := parseCursor(s)
		if err != nil || !ok {
			return
		}
		if again := p.cursor(); again != s {
			t.Errorf("parseCursor(%q).cursor() = %q: not the same cursor", s, again)
		}
	})
}

func TestParseQuery(t *testing.T) {
	ct := "ct_" + string(make24('C')) + "CC"
	cur := position{at: t0, id: mid('Q')}.cursor()
	tests := []struct {
		name string
		body string
		want error
		by   string
	}{
		{"phone", `{"phone":"+14155550123"}`, nil, "phone"},
		{"user id", `{"user_id":"US.13491208655302741918"}`, nil, "user_id"},
		{"contact id", `{"contact_id":"` + ct + `","direction":"out","since":"2026-01-02T03:04:05Z","cursor":"` + cur + `"}`, nil, "contact_id"},
		{"neither", `{}`, errInvalidRequest, ""},
		{"phone and user id", `{"phone":"+14155550123","user_id":"US.13491208655302741918"}`, errInvalidRequest, ""},
		{"phone and contact id", `{"phone":"+14155550123","contact_id":"` + ct + `"}`, errInvalidRequest, ""},
		{"user id and contact id", `{"user_id":"US.13491208655302741918","contact_id":"` + ct + `"}`, errInvalidRequest, ""},
		{"malformed phone", `{"phone":"0044"}`, errInvalidPhone, ""},
		{"malformed user id", `{"user_id":"US."}`, errInvalidRequest, ""},
		{"malformed contact id", `{"contact_id":"ct_abc"}`, errInvalidRequest, ""},
		{"bad direction", `{"phone":"+14155550123","direction":"both"}`, errInvalidRequest, ""},
		{"bad since", `{"phone":"+14155550123","since":"yesterday"}`, errInvalidRequest, ""},
		{"bad cursor", `{"phone":"+14155550123","cursor":"msg#in#x"}`, errInvalidRequest, ""},
		{"unknown field", `{"phone":"+14155550123","limit":5}`, errInvalidRequest, ""},
		{"trailing data", `{"phone":"+14155550123"}{}`, errInvalidRequest, ""},
		{"not an object", `[]`, errInvalidRequest, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parseQuery([]byte(tc.body))
			if !errors.Is(err, tc.want) {
				t.Fatalf("parseQuery(%s) err = %v, want %v", tc.body, err, tc.want)
			}
			if err == nil && q.by() != tc.by {
				t.Errorf("parseQuery(%s).by() = %q, want %q", tc.body, q.by(), tc.by)
			}
		})
	}
}

func FuzzParseQuery(f *testing.F) {
	f.Add([]byte(`{"phone":"+14155550123","direction":"in","since":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"contact_id":"ct_AAAAAAAAAAAAAAAAAAAAAAAAAA","cursor":"` + position{at: t0, id: mid('Q')}.cursor() + `"}`))
	f.Add([]byte(`{"user_id":"US.13491208655302741918"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := parseQuery(body)
		if err != nil {
			if !errors.Is(err, errInvalidRequest) && !errors.Is(err, errInvalidPhone) {
				t.Errorf("parseQuery() err = %v, want a 400 problem", err)
			}
			return
		}
		named := 0
		for _, set := range []bool{q.contactID != "", !q.who.Phone.IsZero(), !q.who.User.IsZero()} {
			if set {
				named++
			}
		}
		if named != 1 {
			t.Errorf("parseQuery(%q) names %d identifiers, want exactly 1", body, named)
		}
	})
}

func TestOutboundKind(t *testing.T) {
	tmpl := []byte(`{"name":"order_update","language":"en_US"}`)
	tests := []struct {
		name, typ string
		body      []byte
		want      string
	}{
		{"recorded text", store.OutboundText, []byte("hello"), store.OutboundText},
		{"recorded text that looks like a template", store.OutboundText, tmpl, store.OutboundText},
		{"recorded template", store.OutboundTemplate, tmpl, store.OutboundTemplate},
		{"recorded template, not JSON (never answered as one)", store.OutboundTemplate, []byte("oops"), store.OutboundText},
		{"unrecorded template", "", tmpl, store.OutboundTemplate},
		{"unrecorded text", "", []byte("hello"), store.OutboundText},
		{"unrecorded JSON text without a name", "", []byte(`{"text":"x"}`), store.OutboundText},
		{"unrecorded JSON array", "", []byte(`["name"]`), store.OutboundText},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := outboundKind(tc.typ, tc.body); got != tc.want {
				t.Errorf("outboundKind(%q, %s) = %q, want %q", tc.typ, tc.body, got, tc.want)
			}
		})
	}
}

func TestView(t *testing.T) {
	in := store.Message{ID: mid('I'), Direction: "in", Type: "text", Class: "support", At: t0,
		Content: store.Content{Phone: "+14155550123", UserID: "US.1", Username: "ada", ProviderID: "wamid.X", ProfileName: "Ada", Body: []byte("hi")}}
	out := store.Message{ID: mid('O'), Direction: "out", Type: store.OutboundTemplate, Class: "marketing", Status: "failed", ErrorCode: 131026,
		Lookup: "l", At: t0, Content: store.Content{Phone: "+14155550123", ProviderID: "wamid.Y", Body: []byte(`{"name":"n","language":"en"}`)}}
	button := store.Message{ID: mid('B'), Direction: "in", Type: "interactive", Class: "support", At: t0,
		Content: store.Content{UserID: "US.1", ProviderID: "wamid.Z", Body: []byte(`{"reply_id":"yes-1","reply_title":"Yes"}`)}}
	typed := button
	typed.Type, typed.Content.Body = "text", []byte(`{"reply_id":"typed"}`)
	hist := []store.StatusEntry{{Status: "sent", At: t0}, {Status: "failed", ErrorCode: 131026, At: t0.Add(time.Minute)}}
	tests := []struct {
		name string
		got  messageView
		want string
	}{
		{"inbound", view(in, "ct_X", nil), `{"id":"` + in.ID + `","direction":"in","type":"text","purpose":"support","contact_id":"ct_X",` +
			`"phone":"+14155550123","user_id":"US.1","text":"hi","profile_name":"Ada","username":"ada","provider_message_id":"wamid.X",` +
			`"time":"2026-05-04T10:00:00Z","status":"received","statuses":[]}`},
		{"inbound reply", view(button, "ct_X", nil), `{"id":"` + button.ID + `","direction":"in","type":"interactive","purpose":"support",` +
			`"contact_id":"ct_X","user_id":"US.1","reply":{"id":"yes-1","title":"Yes"},"provider_message_id":"wamid.Z",` +
			`"time":"2026-05-04T10:00:00Z","status":"received","statuses":[]}`},
		{"inbound text that looks like a reply", view(typed, "ct_X", nil), `{"id":"` + button.ID + `","direction":"in","type":"text",` +
			`"purpose":"support","contact_id":"ct_X","user_id":"US.1","text":"{\"reply_id\":\"typed\"}","provider_message_id":"wamid.Z",` +
			`"time":"2026-05-04T10:00:00Z","status":"received","statuses":[]}`},
		{"outbound template", view(out, "ct_X", hist), `{"id":"` + out.ID + `","direction":"out","type":"template","purpose":"marketing",` +
			`"contact_id":"ct_X","phone":"+14155550123","template":{"name":"n","language":"en"},"provider_message_id":"wamid.Y",` +
			`"time":"2026-05-04T10:00:00Z","status":"failed","error_code":131026,"statuses":[{"status":"sent","time":"2026-05-04T10:00:00Z"},` +
			`{"status":"failed","time":"2026-05-04T10:01:00Z","error_code":131026}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.got)
			if err != nil || string(b) != tc.want {
				t.Errorf("view() = %s, %v\nwant %s", b, err, tc.want)
			}
		})
	}
}

func TestFilterKeep(t *testing.T) {
	f := filter{direction: "in", since: t0}
	for _, tc := range []struct {
		direction string
		at        time.Time
		want      bool
	}{{"in", t0, true}, {"out", t0, false}, {"in", t0.Add(-time.Second), false}, {"in", t0.Add(time.Hour), true}} {
		if got := f.keep(tc.direction, position{tc.at, mid('A')}); got != tc.want {
			t.Errorf("keep(%s, %v) = %t, want %t", tc.direction, tc.at, got, tc.want)
		}
	}
}
