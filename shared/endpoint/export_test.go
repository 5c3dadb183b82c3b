package endpoint

import "time"

// Hooks for the external stack test (package endpoint_test, which can
// import devstack/stacktest without an import cycle).

// SetRefreshPeriod sets l's refresh period.
func SetRefreshPeriod(l *Loader, d time.Duration) { l.period = d }

// Doc is the test helper doc.
var Doc = doc

// Names is the test helper names.
var Names = names

// SetClock sets l's clock.
func SetClock(l *Loader, now func() time.Time) { l.now = now }
