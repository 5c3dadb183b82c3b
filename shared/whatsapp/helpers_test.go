package whatsapp

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/waguard/waguard/devstack/stacktest"
)

// Synthetic ids (Ofcom drama range, sandbox-built wamids).
const (
	testPNID   = "100000000000001"
	otherPNID  = "100000000000003"
	testWAID   = "447700900123"
	secondWAID = "447700900456"
	usWAID     = "15550100123"
	inWAMID    = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUQUM3ODRFNDdGQUU5M0M2NTVCMzIA"
	inWAMID2   = "wamid.HBgMNDQ3NzAwOTAwNDU2FQIAEhgUNjdCRjQzRDQ4OUU3NTM0MTU4MEYA"
	inWAMIDUS  = "wamid.HBgLMTU1NTAxMDAxMjMVAgASGBQ1MDMzOEQwRTVGRUM0NzY5QUJGQwA="
	outWAMID   = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSRDAwMDA1QzY5MkIxNTQ2NkVGAA=="
	outWAMID2  = "wamid.HBgMNDQ3NzAwOTAwNDU2FQIAERgSNUUzOUI4OEM0QkJENTNBRUNEAA=="
	outWAMIDUS = "wamid.HBgLMTU1NTAxMDAxMjMVAgARGBI1NjIyRENGQjIxNzNCRjQxN0YA"
)

// readTestdata returns the bytes of testdata/name.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

// unix is a UTC time from Unix seconds.
func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }

// msgEvent builds an expected message event.
func msgEvent(pnid string, m Message) Event {
	return Event{Kind: KindMessage, PhoneNumberID: pnid, Message: m}
}

// statusEvent builds an expected status event.
func statusEvent(pnid string, s Status) Event {
	return Event{Kind: KindStatus, PhoneNumberID: pnid, Status: s}
}

func TestMain(m *testing.M) {
	stacktest.RestrictToLoopback()
	os.Exit(m.Run())
}

// loopbackClient is an http.Client that can only reach loopback, with
// the redirect policy of NewHTTPClient.
func loopbackClient() *http.Client {
	c := NewHTTPClient()
	c.Transport = stacktest.LoopbackOnly(c.Transport)
	return c
}
