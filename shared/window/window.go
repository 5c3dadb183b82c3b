// Package window computes WhatsApp's customer service window: for 24
// hours after a person's last message, a business may reply with
// free-form messages; outside it, only with an approved template.
//
// It also bounds the time an inbound event counts from. An event carries
// the time its sender claims (Meta's `timestamp`); a time in the future
// (a skewed or forged clock) must not hold the window open, nor sort a
// consent entry after everything that comes later, so [Bound] caps it at
// the time waguard received the event.
//
// # Non-goals
//
// It keeps no state: the last inbound time lives in the data table
// (shared/store), which only ever moves it forward.
package window

import "time"

// Length is how long the window stays open after the last inbound
// message.
const Length = 24 * time.Hour

// Open reports whether the window opened by a message at last is still
// open at now. A zero last (no message yet) is closed.
func Open(last, now time.Time) bool {
	return !last.IsZero() && !last.After(now) && now.Sub(last) < Length
}

// Bound returns the time an event that claims to have happened at at
// counts from, seen at now: at, or now if at lies in the future.
func Bound(at, now time.Time) time.Time {
	if at.After(now) {
		return now
	}
	return at
}
