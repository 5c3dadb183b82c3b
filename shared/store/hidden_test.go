package store

import (
	"testing"
	"time"
)

func TestHiddenByErasure(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		e       erasure
		written time.Time
		want    bool
	}{
		{"never erased", erasure{}, at, false},
		{"being erased: written before", erasure{exists: true, at: at}, at.Add(-time.Hour), true},
		{"being erased: written the same second", erasure{exists: true, at: at}, at, true},
		{"suppressed, written after (cannot happen): still hidden", erasure{exists: true, at: at}, at.Add(time.Hour), true},
		{"lifted: written before the erasure", erasure{exists: true, at: at, lifted: true}, at.Add(-time.Hour), true},
		{"lifted: written after the erasure", erasure{exists: true, at: at, lifted: true}, at.Add(time.Second), false},
		{"no written_at (zero time)", erasure{exists: true, at: at, lifted: true}, time.Unix(0, 0), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hiddenByErasure(tc.e, tc.written); got != tc.want {
				t.Errorf("hiddenByErasure(%+v, %v) = %t, want %t", tc.e, tc.written, got, tc.want)
			}
		})
	}
}

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
