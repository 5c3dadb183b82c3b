package whatsapp

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/bsuid"
)

// addSeeds adds every testdata file matching pattern to the corpus.
func addSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("glob %s = %d files, %v", pattern, len(files), err)
	}
	for _, file := range files {
		rel, _ := filepath.Rel("testdata", file)
		f.Add(readTestdata(f, rel))
	}
}

// FuzzParse checks that Parse never panics, fails only with ErrMalformed,
// and that what it accepts flattens into well-formed events, agrees with
// ParseAny, stays within the limits and prints by lengths only.
func FuzzParse(f *testing.F) {
	addSeeds(f, "webhook/*.json")
	addSeeds(f, "bsuid/*.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := Parse(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || env != nil {
				t.Fatalf("Parse() = %v, %v; want nil and ErrMalformed", env, err)
			}
			return
		}
		evs := Events(env)
		if len(evs) > DefaultMaxEvents {
			t.Fatalf("Parse() gave %d events, over the limit %d", len(evs), DefaultMaxEvents)
		}
		for i, ev := range evs {
			checkEvent(t, i, ev)
		}
		anyEvs, err := ParseAny(body)
		if err != nil || !cmp.Equal(anyEvs, evs) {
			t.Fatalf("ParseAny() = %d events, %v; want Events(Parse()) (%d)", len(anyEvs), err, len(evs))
		}
		_ = fmt.Sprint(env)
	})
}

// checkEvent checks the invariants of a parsed event.
func checkEvent(t *testing.T, i int, ev Event) {
	t.Helper()
	switch ev.Kind {
	case KindMessage:
		m := ev.Message
		if m.ID == "" || m.Type == "" || m.Type == "system" || m.Time.IsZero() || ev.PhoneNumberID == "" {
			t.Fatalf("event %d: message %v lacks a required field", i, ev)
		}
	case KindStatus:
		if ev.Status.ID == "" || ev.Status.Status == "" || ev.Status.Time.IsZero() {
			t.Fatalf("event %d: status %v lacks a required field", i, ev)
		}
	case KindSystem:
		if ev.System.ID != "" && ev.System.Time.IsZero() {
			t.Fatalf("event %d: system message %v has no time", i, ev)
		}
	case KindError, KindPreference:
	default:
		t.Fatalf("event %d has kind %v", i, ev.Kind)
	}
	if got, want := sprintAll(ev)+logged(ev), sprintAll(masked(ev))+logged(masked(ev)); got != want {
		t.Fatalf("event %d prints content, not just lengths:\n%s\n%s", i, got, want)
	}
}

// masked replaces every personal field of ev by 'x's of the same length,
// and every BSUID by another of the same length.
func masked(ev Event) Event {
	x := func(s string) string { return strings.Repeat("x", len(s)) }
	m, s, sys, p := &ev.Message, &ev.Status, &ev.System, &ev.Preference
	ev.PhoneNumberID = x(ev.PhoneNumberID)
	m.ID, m.From, m.ProfileName, m.Username, m.Text, m.ReplyID, m.ReplyTitle = x(m.ID), x(m.From), x(m.ProfileName), x(m.Username), x(m.Text), x(m.ReplyID), x(m.ReplyTitle)
	m.FromUserID, m.FromParentUserID = maskID(m.FromUserID), maskID(m.FromParentUserID)
	s.ID, s.RecipientID, s.Username, s.CallbackData = x(s.ID), x(s.RecipientID), x(s.Username), x(s.CallbackData)
	s.RecipientUserID, s.RecipientParentUserID = maskID(s.RecipientUserID), maskID(s.RecipientParentUserID)
	sys.ID, sys.From, sys.WAID = x(sys.ID), x(sys.From), x(sys.WAID)
	sys.FromUserID, sys.UserID, sys.ParentUserID = maskID(sys.FromUserID), maskID(sys.UserID), maskID(sys.ParentUserID)
	sys.PreviousUserID, sys.PreviousParentUserID = maskID(sys.PreviousUserID), maskID(sys.PreviousParentUserID)
	p.WAID, p.UserID, p.ParentUserID = x(p.WAID), maskID(p.UserID), maskID(p.ParentUserID)
	return ev
}

// maskID returns a BSUID of another country and content, as long as id
// and as much a parent.
func maskID(id bsuid.ID) bsuid.ID {
	if id.IsZero() {
		return id
	}
	prefix := "ZZ."
	if id.IsParent() {
		prefix = "ZZ.ENT."
	}
	out, _ := bsuid.Parse(prefix + strings.Repeat("0", len(id.Reveal())-len(prefix)))
	return out
}

// FuzzParseNormalized checks that ParseNormalized never panics, and that
// what it accepts round-trips through MarshalNormalized to the same
// event and, from then on, to identical bytes.
func FuzzParseNormalized(f *testing.F) {
	addSeeds(f, "normalized/*.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseNormalized(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || ev != (Event{}) {
				t.Fatalf("ParseNormalized() = %v, %v; want zero and ErrMalformed", ev, err)
			}
			return
		}
		checkEvent(t, 0, ev)
		if ev.Message.From == "" && ev.Message.FromUserID.IsZero() {
			t.Fatalf("ParseNormalized() = %v, a message from nobody", ev)
		}
		b1, err := MarshalNormalized(ev)
		if err != nil {
			t.Fatalf("MarshalNormalized(parsed event) err = %v, want nil", err)
		}
		ev2, err := ParseNormalized(b1)
		if err != nil || !cmp.Equal(ev, ev2) {
			t.Fatalf("ParseNormalized(MarshalNormalized(ev)) = %v, %v; want ev", ev2, err)
		}
		if b2, err := MarshalNormalized(ev2); err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("MarshalNormalized round trip = %s, %v; want %s", b2, err, b1)
		}
		if evs, err := ParseAny(body); err != nil || len(evs) != 1 || !cmp.Equal(evs[0], ev) {
			t.Fatalf("ParseAny(normalized) = %v, %v; want [ev]", evs, err)
		}
	})
}

// FuzzParseSendResponse checks that any Graph answer gives an id or a
// classified error, never a panic, and that an error's text holds no
// more of the body than a printable trace id.
func FuzzParseSendResponse(f *testing.F) {
	f.Add(200, []byte(okBody))
	f.Add(429, []byte(`{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"error_subcode":2494055,"fbtrace_id":"AbC"}}`))
	f.Add(500, []byte(`<html>`))
	f.Add(200, []byte(`{"messages":[{"id":""}]}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		id, err := parseSendResponse(status, body)
		var apiErr *APIError
		switch {
		case status >= 200 && status <= 299:
			if (err == nil) == (id == "") || (err != nil && !errors.Is(err, ErrBadResponse)) {
				t.Fatalf("parseSendResponse(%d) = %q, %v; want an id or ErrBadResponse", status, id, err)
			}
		case !errors.As(err, &apiErr) || apiErr.Status != status || id != "":
			t.Fatalf("parseSendResponse(%d) = %q, %v; want an *APIError with that status", status, id, err)
		case apiErr.Permanent() && apiErr.Retryable() || apiErr.Throttled() && !apiErr.Retryable() ||
			Classify(err) != apiErr.Outcome() || apiErr.Outcome() == OutcomeSent:
			t.Fatalf("%v: inconsistent classification", apiErr)
		case strings.Contains(err.Error(), "message"):
			t.Fatalf("error %q carries Meta's message", err)
		}
	})
}
