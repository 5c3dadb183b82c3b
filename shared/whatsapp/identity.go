package whatsapp

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/waguard/waguard/shared/bsuid"
)

// System message types waguard acts on ([System.Type]).
const (
	// SystemUserChangedUserID: the user's BSUID changed and Meta shares no
	// phone number; [System.PreviousUserID] and [System.UserID] are the
	// old and new BSUID of one person.
	SystemUserChangedUserID = "user_changed_user_id"
	// SystemUserChangedNumber: the user changed their phone number, which
	// also regenerates their BSUID; [System.WAID] is the new number.
	SystemUserChangedNumber = "user_changed_number"
)

// Marketing preferences ([Preference.Value]) and their category.
const (
	PreferenceStop            = "stop"
	PreferenceResume          = "resume"
	CategoryMarketingMessages = "marketing_messages"
)

// System is a change of a user's identifiers that Meta reports: a
// "system" message on the messages field, or an item of the retracted
// user_id_update field (reported as [SystemUserChangedUserID]). Every
// identifier is optional; a BSUID that is not valid is left zero. It
// prints and logs its type, time and field lengths only.
type System struct {
	// ID is the wamid of the system message, personal data; "" for a
	// user_id_update item, which has none.
	ID string
	// Time is when Meta reported the change; zero if a user_id_update
	// item had no valid timestamp.
	Time time.Time
	// Type is Meta's system type: [SystemUserChangedUserID],
	// [SystemUserChangedNumber], or another (such as
	// customer_identity_changed), which carries no identifiers here.
	Type string
	// From is the message's "from": the user's number before a
	// user_changed_number, as wa_id digits.
	From string
	// FromUserID is the message's from_user_id, if Meta sends one.
	FromUserID bsuid.ID
	// UserID and ParentUserID are the BSUID and parent BSUID after the
	// change.
	UserID, ParentUserID bsuid.ID
	// PreviousUserID and PreviousParentUserID are the ones before it.
	PreviousUserID, PreviousParentUserID bsuid.ID
	// WAID is the user's number after the change, as wa_id digits:
	// system.wa_id (or new_wa_id, its name before API v12) of a
	// user_changed_number, or the wa_id of a user_id_update item.
	WAID string
}

// Preference is a user's choice to stop or resume marketing messages
// from this business (the user_preferences field). It prints and logs its
// category, value and time only.
type Preference struct {
	// WAID is the user's number as wa_id digits, when Meta shares it.
	WAID string
	// UserID and ParentUserID are the user's BSUID and parent BSUID; zero
	// when absent or not valid.
	UserID, ParentUserID bsuid.ID
	// Category is [CategoryMarketingMessages] (Meta may add others).
	Category string
	// Value is [PreferenceStop] or [PreferenceResume] (Meta may add
	// others, such as signup).
	Value string
	// Time is when the user changed it; zero if the item had no valid
	// timestamp.
	Time time.Time
}

// optionalID returns s as a BSUID, or the zero ID when s is not one.
func optionalID(s string) bsuid.ID {
	id, _ := bsuid.Parse(s)
	return id
}

// system converts a "system" message.
func (m *wireMessage) system() System {
	sys := System{ID: m.ID, Time: m.Timestamp.t, From: m.From, FromUserID: optionalID(m.FromUserID)}
	if w := m.System; w != nil {
		sys.Type = w.Type
		sys.UserID, sys.ParentUserID = optionalID(w.UserID), optionalID(w.ParentUserID)
		sys.PreviousUserID, sys.PreviousParentUserID = optionalID(w.PreviousUserID), optionalID(w.PreviousParentUserID)
		sys.WAID = string(w.WAID)
		if sys.WAID == "" {
			sys.WAID = string(w.NewWAID)
		}
	}
	return sys
}

// sideChange parses a "user_preferences" or "user_id_update" change.
// These fields are read defensively: a value that does not decode is an
// ignored change and an item that does not decode is skipped, so neither
// refuses the delivery. Their items count against the event limit.
func (p *parser) sideChange(field string, raw json.RawMessage) error {
	var v wireSideValue
	if err := decodeJSON(raw, &v, false); err != nil {
		p.env.ignored++
		return nil
	}
	items := v.UserPreferences
	if field == FieldUserIDUpdate {
		items = v.UserIDUpdate
	}
	if p.budget -= len(items); p.budget < 0 {
		return malformed("more than %d events", p.limits.MaxEvents)
	}
	pid := v.Metadata.PhoneNumberID
	for _, item := range items {
		if ev, ok := sideEvent(field, item); ok {
			ev.PhoneNumberID = pid
			p.env.events = append(p.env.events, ev)
		}
	}
	return nil
}

// sideEvent decodes one user_preferences or user_id_update item.
func sideEvent(field string, item json.RawMessage) (Event, bool) {
	if field == FieldUserPreferences {
		var w wirePreference
		if json.Unmarshal(item, &w) != nil {
			return Event{}, false
		}
		return Event{Kind: KindPreference, Preference: Preference{
			WAID: string(w.WAID), UserID: optionalID(w.UserID), ParentUserID: optionalID(w.ParentUserID),
			Category: w.Category, Value: w.Value, Time: w.Timestamp.t,
		}}, true
	}
	var w wireUserIDUpdate
	if json.Unmarshal(item, &w) != nil {
		return Event{}, false
	}
	return Event{Kind: KindSystem, System: System{
		Type: SystemUserChangedUserID, Time: w.Timestamp.t, WAID: string(w.WAID),
		UserID: optionalID(w.UserID.Current), PreviousUserID: optionalID(w.UserID.Previous),
		ParentUserID: optionalID(w.ParentUserID.Current), PreviousParentUserID: optionalID(w.ParentUserID.Previous),
	}}, true
}

// String reports the type, time and lengths only.
func (s System) String() string {
	return fmt.Sprintf("{type=%q time=%s id_len=%d from_len=%d wa_id_len=%d user_id_len=%d previous_user_id_len=%d parent_user_id_len=%d previous_parent_user_id_len=%d}",
		token(s.Type), formatTime(s.Time), len(s.ID), len(s.From), len(s.WAID), idLen(s.UserID),
		idLen(s.PreviousUserID), idLen(s.ParentUserID), idLen(s.PreviousParentUserID))
}

// Format writes [System.String] for every verb.
func (s System) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "whatsapp.System"+s.String()) }

// LogValue logs the type, time and which identifiers are present.
func (s System) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", token(s.Type)), slog.String("time", formatTime(s.Time)),
		slog.Bool("has_phone", s.WAID != ""), slog.Bool("has_user_id", !s.UserID.IsZero()),
		slog.Bool("has_previous_user_id", !s.PreviousUserID.IsZero()))
}

// MarshalJSON encodes the redacted view of [System.LogValue].
func (s System) MarshalJSON() ([]byte, error) { return redactedJSON(s.LogValue()) }

// String reports the category, value, time and lengths only.
func (p Preference) String() string {
	return fmt.Sprintf("{category=%q value=%q time=%s wa_id_len=%d user_id_len=%d parent_user_id_len=%d}",
		token(p.Category), token(p.Value), formatTime(p.Time), len(p.WAID), idLen(p.UserID), idLen(p.ParentUserID))
}

// Format writes [Preference.String] for every verb.
func (p Preference) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "whatsapp.Preference"+p.String())
}

// LogValue logs the category, value, time and which identifiers are
// present.
func (p Preference) LogValue() slog.Value {
	return slog.GroupValue(slog.String("category", token(p.Category)), slog.String("value", token(p.Value)),
		slog.String("time", formatTime(p.Time)), slog.Bool("has_phone", p.WAID != ""),
		slog.Bool("has_user_id", !p.UserID.IsZero()))
}

// MarshalJSON encodes the redacted view of [Preference.LogValue].
func (p Preference) MarshalJSON() ([]byte, error) { return redactedJSON(p.LogValue()) }

// idLen is the length of a BSUID, 0 for none.
func idLen(id bsuid.ID) int { return len(id.Reveal()) }
