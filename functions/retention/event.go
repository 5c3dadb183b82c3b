package main

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Event is what a schedule sends the function (template.yaml): the job to
// run, as {"action":"sweep"} or {"action":"audit_digest"}.
type Event struct {
	Action Action `json:"action"`
}

// Action names a job.
type Action string

// The jobs. The zero value is no job.
const (
	ActionUnknown Action = ""
	// ActionSweep deletes expired items and applies a shortened policy.
	ActionSweep Action = "sweep"
	// ActionAuditDigest signs yesterday's audit digest.
	ActionAuditDigest Action = "audit_digest"
)

// errBadEvent is returned for a payload that is not an [Event]. It names
// nothing from the payload.
var errBadEvent = errors.New(`retention event: want {"action": a job name}`)

// UnmarshalJSON reads an event strictly: one object whose only field is
// action, a string (JSON null reads as no event). Anything else fails the
// invocation before the handler runs, with [errBadEvent]; the Lambda
// Errors alarm watches that. Which actions are jobs is the handler's
// concern: it refuses and records any other.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	var p plain
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil || d.More() {
		return errBadEvent
	}
	*e = Event(p)
	return nil
}
