package audit

import "strconv"

// DataAccess is the [EventDataAccess] event of one answer that disclosed
// a person's data through the API: caller is the API client, subject the
// person's pseudonym ("" when the request named nobody known), route the
// API route ("POST /v1/messages/query") and count how many records the
// answer held (0 too: the caller learned there were none). extra adds
// non-personal details (the message id read, what the person was named
// by).
func DataAccess(caller, subject, requestID, route string, count int, extra map[string]string) Event {
	d := map[string]string{"route": route, "count": strconv.Itoa(count)}
	for k, v := range extra {
		d[k] = v
	}
	return Event{Type: EventDataAccess, Subject: subject, Actor: Actor{Caller: caller}, RequestID: requestID, Details: d}
}
