package sandbox

import (
	"fmt"
	"time"
)

// System message types ([SystemEvent.Type]) the sandbox builds.
const (
	SystemUserChangedUserID = "user_changed_user_id"
	SystemUserChangedNumber = "user_changed_number"
)

// SystemEvent describes a system message: Meta's notice, on the messages
// field, that a user's identifiers changed. A changed number also
// regenerates the BSUID.
type SystemEvent struct {
	// Type is SystemUserChangedUserID or SystemUserChangedNumber.
	Type  string
	WAMID string    // message id
	Name  string    // the user's profile name, quoted in the body
	Time  time.Time // when Meta reported the change
	// UserID and PreviousUserID are the new and old BSUIDs; both are
	// required for SystemUserChangedUserID, optional otherwise.
	UserID, PreviousUserID string
	// ParentUserID and PreviousParentUserID are the new and old parent
	// BSUIDs; optional.
	ParentUserID, PreviousParentUserID string
	// From and NewNumber are the old and new wa_id digits, required for
	// SystemUserChangedNumber and not sent otherwise.
	From, NewNumber string
}

// PreferenceEvent describes a user's stop or resume of marketing messages
// (the user_preferences field).
type PreferenceEvent struct {
	// Value is "stop" or "resume".
	Value string
	// WAID, UserID and ParentUserID name the user: digits, a BSUID, or
	// both, and an optional parent BSUID.
	WAID, UserID, ParentUserID string
	Name                       string    // contacts[].profile.name
	Time                       time.Time // when the user changed it
}

// UserIDUpdateEvent describes an item of the user_id_update field, which
// Meta documented in 2026 and retracted on 11 August 2026 in favour of
// [SystemEvent]; the sandbox builds it so that receivers can be tested
// against deliveries that still carry it.
type UserIDUpdateEvent struct {
	WAID                   string    // the user's wa_id digits; optional
	Name                   string    // contacts[].profile.name and the detail text
	PreviousUserID, UserID string    // old and new BSUIDs, both required
	Time                   time.Time // when the BSUID changed
}

// Wire shapes of system messages and the user_preferences and
// user_id_update fields, in the field order of Meta's references.
type (
	systemContent struct {
		Body                 string `json:"body"`
		WAID                 string `json:"wa_id,omitempty"`
		UserID               string `json:"user_id,omitempty"`
		ParentUserID         string `json:"parent_user_id,omitempty"`
		PreviousUserID       string `json:"previous_user_id,omitempty"`
		PreviousParentUserID string `json:"previous_parent_user_id,omitempty"`
		Type                 string `json:"type"`
	}
	preferenceItem struct {
		WAID         string `json:"wa_id,omitempty"`
		UserID       string `json:"user_id,omitempty"`
		ParentUserID string `json:"parent_user_id,omitempty"`
		Detail       string `json:"detail"`
		Category     string `json:"category"`
		Value        string `json:"value"`
		Timestamp    int64  `json:"timestamp"`
	}
	userIDUpdateItem struct {
		WAID      string   `json:"wa_id,omitempty"`
		Detail    string   `json:"detail"`
		UserID    idChange `json:"user_id"`
		Timestamp string   `json:"timestamp"`
	}
	idChange struct {
		Previous string `json:"previous"`
		Current  string `json:"current"`
	}
)

// BuildSystemEvent returns the webhook body Meta posts when a user's BSUID
// or number changed: a type "system" message without contacts. It returns
// an error wrapping [ErrBadEvent] for an unknown type, an empty WAMID, or
// identifiers the type requires missing or malformed.
func BuildSystemEvent(b Business, ev SystemEvent) ([]byte, error) {
	if !ev.valid() {
		return nil, fmt.Errorf("build system event: %w", ErrBadEvent)
	}
	sys := &systemContent{Type: ev.Type, UserID: ev.UserID, ParentUserID: ev.ParentUserID,
		PreviousUserID: ev.PreviousUserID, PreviousParentUserID: ev.PreviousParentUserID}
	msg := inboundMsg{ID: ev.WAMID, Timestamp: unixString(ev.Time), Type: "system", System: sys}
	if ev.Type == SystemUserChangedNumber {
		sys.Body = "User " + ev.Name + " changed from " + ev.From + " to " + ev.NewNumber
		sys.WAID, msg.From = ev.NewNumber, ev.From
	} else {
		sys.Body = "User " + ev.Name + " changed from " + ev.PreviousUserID + " to " + ev.UserID
	}
	v := b.value()
	v.Messages = []inboundMsg{msg}
	return b.encode(v)
}

// valid checks a SystemEvent for its type.
func (ev SystemEvent) valid() bool {
	optional := func(s string, parent bool) bool { return s == "" || isBSUID(s, parent) }
	if ev.WAMID == "" || !optional(ev.UserID, false) || !optional(ev.PreviousUserID, false) ||
		!optional(ev.ParentUserID, true) || !optional(ev.PreviousParentUserID, true) {
		return false
	}
	switch ev.Type {
	case SystemUserChangedUserID:
		return ev.UserID != "" && ev.PreviousUserID != "" && ev.From == "" && ev.NewNumber == ""
	case SystemUserChangedNumber:
		return isDigits(ev.From) && isDigits(ev.NewNumber)
	}
	return false
}

// BuildPreferenceEvent returns the user_preferences webhook body Meta posts
// when a user stops or resumes marketing messages. It returns an error
// wrapping [ErrBadEvent] for a value other than stop or resume, or a user
// not named by digits, a BSUID, or both.
func BuildPreferenceEvent(b Business, ev PreferenceEvent) ([]byte, error) {
	if ev.Value != "stop" && ev.Value != "resume" || !validUser(ev.WAID, ev.UserID, ev.ParentUserID) {
		return nil, fmt.Errorf("build preference event: %w", ErrBadEvent)
	}
	v := b.value()
	v.Contacts = []contact{newContact(ev.Name, "", ev.WAID, ev.UserID, "")}
	v.UserPreferences = []preferenceItem{{
		WAID: ev.WAID, UserID: ev.UserID, ParentUserID: ev.ParentUserID,
		Detail: "User requested to " + ev.Value + " marketing messages", Category: "marketing_messages",
		Value: ev.Value, Timestamp: ev.Time.Unix(),
	}}
	return b.encodeField(v, "user_preferences")
}

// BuildUserIDUpdateEvent returns a body of the retracted user_id_update
// field, as Meta documented it until August 2026. It returns an error
// wrapping [ErrBadEvent] unless both BSUIDs are valid and WAID is empty or
// digits.
func BuildUserIDUpdateEvent(b Business, ev UserIDUpdateEvent) ([]byte, error) {
	if !isBSUID(ev.UserID, false) || !isBSUID(ev.PreviousUserID, false) || ev.WAID != "" && !isDigits(ev.WAID) {
		return nil, fmt.Errorf("build user_id_update event: %w", ErrBadEvent)
	}
	v := b.value()
	if ev.WAID != "" {
		v.Contacts = []contact{newContact(ev.Name, "", ev.WAID, "", "")}
	}
	v.UserIDUpdate = []userIDUpdateItem{{
		WAID: ev.WAID, Detail: "User id for " + ev.Name + " has been updated.",
		UserID: idChange{Previous: ev.PreviousUserID, Current: ev.UserID}, Timestamp: unixString(ev.Time),
	}}
	return b.encodeField(v, "user_id_update")
}
