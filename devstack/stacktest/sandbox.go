package stacktest

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// SandboxSends counts the messages the WhatsApp sandbox accepted for a
// recipient (wa_id digits or E.164), so tests can assert how many
// provider calls a request made.
func (s Stack) SandboxSends(t testing.TB, to string) int {
	t.Helper()
	if s.SandboxURL == "" {
		t.Fatal("no sandbox in the stack environment")
	}
	resp, err := http.Get(s.SandboxURL + "/_sandbox/messages")
	if err != nil {
		t.Fatalf("sandbox messages: %v", err)
	}
	defer resp.Body.Close()
	var recs []struct {
		Request struct {
			To        string `json:"to"`
			Recipient string `json:"recipient"`
		} `json:"request"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil {
		t.Fatalf("decode sandbox messages: %v", err)
	}
	n := 0
	for _, r := range recs {
		if a := cmp.Or(r.Request.To, r.Request.Recipient); strings.TrimPrefix(a, "+") == strings.TrimPrefix(to, "+") {
			n++
		}
	}
	return n
}
