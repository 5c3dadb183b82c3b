package main

import "time"

// retrySchedule is the wait before each retry of a failed delivery, close
// to common webhook services (Standard Webhooks' reference schedule):
// about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, eight attempts in
// about 28 hours. The retry run starts every minute, so the first retry
// comes within a minute.
var retrySchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// nextAttempt returns when a delivery that has failed made attempts,
// the last at last, is due again, with jitter (in [0, 1)) spreading it by
// ±20 %; false once the schedule is exhausted (a dead letter).
func nextAttempt(made int, last time.Time, jitter float64) (time.Time, bool) {
	if made < 1 || made > len(retrySchedule) {
		return time.Time{}, false
	}
	wait := retrySchedule[made-1]
	spread := time.Duration((jitter*0.4 - 0.2) * float64(wait))
	return last.Add(wait + spread), true
}
