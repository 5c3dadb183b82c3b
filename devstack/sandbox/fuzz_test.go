package sandbox

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/bsuid"
)

// addSendSeeds adds every testdata/send payload to the corpus.
func addSendSeeds(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "send", "*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("Glob(testdata/send) = %d files, %v, want some", len(paths), err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatalf("ReadFile(%s) err = %v, want nil", p, err)
		}
		f.Add(b)
	}
}

// FuzzParseSendRequest checks that the parser never panics, that every
// rejection is a Graph 400 error, and that an accepted request of a
// checked type survives a marshal/parse round trip unchanged.
func FuzzParseSendRequest(f *testing.F) {
	addSendSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseSendRequest(body)
		if err != nil {
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.HTTPStatus != 400 || req != nil || len(apiErr.Message) > 300 {
				t.Fatalf("ParseSendRequest err = %#v, req = %v, want a short 400 *APIError and nil", err, req)
			}
			return
		}
		if !req.IsMarkRead() && !messageTypes[req.Type] {
			return // media objects are kept only in the raw body
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("json.Marshal(parsed) err = %v, want nil", err)
		}
		req2, err := ParseSendRequest(again)
		if err != nil {
			t.Fatalf("ParseSendRequest(re-marshalled %s) err = %v, want nil", again, err)
		}
		if diff := cmp.Diff(req, req2, cmp.Comparer(jsonEqual)); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

// FuzzParseWAMID checks that the wamid parser never panics and that
// every id it accepts re-encodes to the identical string.
func FuzzParseWAMID(f *testing.F) {
	f.Add(goldenInbound)
	f.Add(goldenOutbound)
	f.Add("wamid.HBgBMRUCABIYAUEAAA==")
	f.Add("wamid.")
	f.Fuzz(func(t *testing.T, id string) {
		w, err := ParseWAMID(id)
		if err != nil {
			return
		}
		if got := EncodeWAMID(w); got != id {
			t.Fatalf("EncodeWAMID(ParseWAMID(%q)) = %q, want identical", id, got)
		}
	})
}

// FuzzBuildTextEvent checks that any text survives Meta-style escaping:
// the payload is valid JSON and decodes back to the same body.
func FuzzBuildTextEvent(f *testing.F) {
	f.Add("hello", "Zoë")
	f.Add("a/b \\ \"q\" 👍 \u2028 <&>", "")
	f.Add("\xff\xfe invalid utf-8", "\x00")
	f.Fuzz(func(t *testing.T, body, name string) {
		if body == "" {
			return
		}
		b, err := BuildTextEvent(goldenBusiness, TextEvent{From: "447700900123", Name: name, Body: body,
			WAMID: goldenInbound, Time: testNow})
		if err != nil {
			t.Fatalf("BuildTextEvent err = %v, want nil", err)
		}
		var v webhookValue
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("json.Unmarshal(payload) err = %v, want nil", err)
		}
		for i, c := range b {
			if c >= 0x80 || (c == '/' && (i == 0 || b[i-1] != '\\')) {
				t.Fatalf("payload byte %d is a raw non-ASCII byte or an unescaped slash, want Meta's escapes", i)
			}
		}
		got := v.Entry[0].Changes[0].Value.Messages[0].Text.Body
		if want := toValidUTF8(body); got != want {
			t.Fatalf("decoded body = %q, want %q", got, want)
		}
	})
}

// toValidUTF8 mirrors encoding/json, which replaces invalid UTF-8 with U+FFFD.
func toValidUTF8(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// FuzzBuildIdentity checks that the sender of a text and the recipient of a
// status are accepted exactly when Meta could name them so (digits, a
// BSUID, or both; a parent BSUID only with a BSUID), and that whatever is
// accepted arrives intact under Meta's escaping.
func FuzzBuildIdentity(f *testing.F) {
	f.Add("447700900123", "", "", "")
	f.Add("", goldenBSUID, goldenParent, "zoë.test")
	f.Add("447700900123", goldenBSUID, "", "a/b")
	f.Add("", goldenParent, "", "")
	f.Add("", "", goldenParent, "x")
	f.Fuzz(func(t *testing.T, from, userID, parentUserID, username string) {
		_, userErr := bsuid.Parse(userID)
		parent, parentErr := bsuid.Parse(parentUserID)
		valid := (from != "" || userID != "") && (from == "" || isDigits(from)) &&
			(userID == "" || userErr == nil && !strings.HasPrefix(userID[3:], "ENT.")) &&
			(parentUserID == "" || userID != "" && parentErr == nil && parent.IsParent())
		b, err := BuildTextEvent(goldenBusiness, TextEvent{From: from, UserID: userID, ParentUserID: parentUserID,
			Username: username, Body: "hi", WAMID: goldenInbound, Time: testNow})
		if valid != (err == nil) || err != nil && !errors.Is(err, ErrBadEvent) {
			t.Fatalf("BuildTextEvent(%q, %q, %q) err = %v, want valid %v", from, userID, parentUserID, err, valid)
		}
		if _, err := BuildStatusEvent(goldenBusiness, StatusEvent{RecipientID: from, UserID: userID, ParentUserID: parentUserID,
			Username: username, Status: "read", WAMID: goldenOutbound, Time: testNow}); valid != (err == nil) {
			t.Fatalf("BuildStatusEvent(%q, %q, %q) err = %v, want valid %v", from, userID, parentUserID, err, valid)
		}
		if err != nil {
			return
		}
		var v webhookValue
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("json.Unmarshal(payload) err = %v, want nil", err)
		}
		val := v.Entry[0].Changes[0].Value
		m, c := val.Messages[0], val.Contacts[0]
		if m.From != from || m.FromUserID != userID || m.FromParentUserID != parentUserID || c.WAID != from ||
			c.UserID != userID || c.Profile.Username != toValidUTF8(username) {
			t.Fatalf("decoded sender = %+v %+v, want %q %q %q %q", m, c, from, userID, parentUserID, username)
		}
	})
}
