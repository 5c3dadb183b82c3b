package store

import (
	"testing"
)

func TestInboundMessageID(t *testing.T) {
	a, b := InboundMessageID("lookup-a"), InboundMessageID("lookup-b")
	if a != InboundMessageID("lookup-a") {
		t.Errorf("InboundMessageID is not deterministic")
	}
	if a == b {
		t.Errorf("InboundMessageID(a) = InboundMessageID(b) = %s", a)
	}
	for _, id := range []string{a, b} {
		if len(id) != 28 || id[:4] != "msg_" {
			t.Errorf("InboundMessageID() = %q, want msg_ and 24 characters", id)
		}
		for _, c := range id[4:] {
			if (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
				t.Errorf("InboundMessageID() = %q: %q is not base32", id, c)
			}
		}
	}
}
