package consent

import (
	"testing"
	"time"
)

func TestErasure(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		e             Erasure
		t             time.Time
		inForce, with bool
	}{
		{"never erased", Erasure{}, at, false, false},
		{"being erased: from before", Erasure{Suppressed: true, At: at}, at.Add(-time.Hour), true, true},
		{"being erased: the same second", Erasure{Suppressed: true, At: at}, at, true, true},
		{"being erased: from after (a new message)", Erasure{Suppressed: true, At: at}, at.Add(time.Hour), true, true},
		{"being erased, time not recorded", Erasure{Suppressed: true}, at, true, true},
		{"lifted: from before the erasure", Erasure{Suppressed: true, Lifted: true, At: at}, at.Add(-time.Hour), false, true},
		{"lifted: the erasure's second", Erasure{Suppressed: true, Lifted: true, At: at}, at, false, true},
		{"lifted: from after the erasure", Erasure{Suppressed: true, Lifted: true, At: at}, at.Add(time.Second), false, false},
		{"lifted: no time (a legacy item)", Erasure{Suppressed: true, Lifted: true, At: at}, time.Unix(0, 0), false, true},
		{"grant of a subject never erased", Erasure{Suppressed: true, Lifted: true}, at, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.e.InForce(); got != tc.inForce {
				t.Errorf("%+v.InForce() = %t, want %t", tc.e, got, tc.inForce)
			}
			if got := tc.e.Withholds(tc.t); got != tc.with {
				t.Errorf("%+v.Withholds(%v) = %t, want %t", tc.e, tc.t, got, tc.with)
			}
		})
	}
}
