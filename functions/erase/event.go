package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// Event is one invocation of the erase function: an API Gateway HTTP API
// request (payload format 2.0, RouteKey set) or a scheduled run (Action
// set; template.yaml's rule sends {"action":"resume_pending_erasures"}).
type Event struct {
	events.APIGatewayV2HTTPRequest
	// Action is the scheduled run's action; see [actionResume].
	Action string `json:"action,omitempty"`
}

// actionResume is the schedule's action: resume every pending erasure.
const actionResume = "resume_pending_erasures"

// scheduled reports whether ev is a scheduled run rather than an API
// request.
func (ev Event) scheduled() bool { return ev.RouteKey == "" }

// errUnreadableEvent: the invocation's payload is not an [Event].
var errUnreadableEvent = errors.New("erase: unreadable event")

// decodeEvent reads an invocation's payload. An unreadable one is an
// error wrapping [errUnreadableEvent] that names at most the field and the
// type expected, never a value from the payload, so that it can be logged.
func decodeEvent(raw []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return Event{}, fmt.Errorf("%w: field %q is not a %s", errUnreadableEvent, te.Field, te.Type)
		case errors.As(err, &se):
			return Event{}, fmt.Errorf("%w: not JSON at offset %d", errUnreadableEvent, se.Offset)
		}
		return Event{}, errUnreadableEvent
	}
	return ev, nil
}
