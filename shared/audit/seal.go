package audit

import "time"

// DigestGrace is how long after a UTC day ends its digest may be made and
// still be on time. The digest runs at 00:15 UTC; six hours cover
// Lambda's retries of a failed scheduled run (an asynchronous event is
// kept for up to six hours) and a manual run by whoever the alarm wakes.
// A digest made later is marked [Digest.Late]: until then the day was
// open to changes no digest can reveal. [SealedThrough] uses the same
// grace, so the digester and the verifier agree on when a day is due.
const DigestGrace = 6 * time.Hour

// DigestDue returns when the digest of day (YYYY-MM-DD, UTC) is due: the
// end of the day plus [DigestGrace]. It returns false if day is not a day.
func DigestDue(day string) (time.Time, bool) {
	if !validDay(day) {
		return time.Time{}, false
	}
	t, _ := parseDay(day)
	return t.Add(24*time.Hour + DigestGrace), true
}

// DigestDay returns the day a daily digest run at now digests: the UTC
// day before now's (YYYY-MM-DD), the last day that has ended.
func DigestDay(now time.Time) string {
	return now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1).Format(dayLayout)
}

// DigestLate reports whether a digest of day made at made is late: made
// after [DigestDue]. An invalid day is late.
func DigestLate(day string, made time.Time) bool {
	due, ok := DigestDue(day)
	return !ok || made.After(due)
}

// SealedThrough returns the last UTC day whose digest is due at now: the
// day before yesterday until [DigestGrace] after midnight, then
// yesterday. Every day of the trail up to it must have a digest; pass it
// as [VerifyOptions.SealedThrough] when verifying a live table.
func SealedThrough(now time.Time) string {
	return now.UTC().Add(-DigestGrace).Truncate(24*time.Hour).AddDate(0, 0, -1).Format(dayLayout)
}
