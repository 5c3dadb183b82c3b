package sandbox

import "errors"

// buildSystem builds a system message (kind "system"): by default a
// user_changed_user_id from PreviousUserID to UserID.
func (s *Sandbox) buildSystem(dr DeliverRequest) ([]byte, string, error) {
	from, newFrom := digitsOf(dr.From), digitsOf(dr.NewFrom)
	ev := SystemEvent{
		Type: or(dr.SystemType, SystemUserChangedUserID), Name: dr.Name, Time: s.opts.Now(),
		UserID: dr.UserID, PreviousUserID: dr.PreviousUserID,
		ParentUserID: dr.ParentUserID, PreviousParentUserID: dr.PreviousParentUserID,
		From: from, NewNumber: newFrom, WAMID: NewWAMID(or(from, "0"), false),
	}
	b, err := BuildSystemEvent(s.Business(), ev)
	if err != nil {
		return nil, "", errors.New("deliver: system needs previous_user_id and user_id " +
			"(user_changed_user_id), or from and new_from (user_changed_number)")
	}
	return b, ev.WAMID, nil
}

// buildPreference builds a user_preferences change (kind "preference").
func (s *Sandbox) buildPreference(dr DeliverRequest) ([]byte, string, error) {
	b, err := BuildPreferenceEvent(s.Business(), PreferenceEvent{
		Value: dr.Preference, WAID: digitsOf(dr.From), UserID: dr.UserID, ParentUserID: dr.ParentUserID,
		Name: dr.Name, Time: s.opts.Now(),
	})
	if err != nil {
		return nil, "", errors.New(`deliver: preference needs "stop" or "resume" and a valid from or user_id`)
	}
	return b, "", nil
}

// buildUserIDUpdate builds a change of the retracted user_id_update field
// (kind "user_id_update").
func (s *Sandbox) buildUserIDUpdate(dr DeliverRequest) ([]byte, string, error) {
	b, err := BuildUserIDUpdateEvent(s.Business(), UserIDUpdateEvent{
		WAID: digitsOf(dr.From), Name: dr.Name, PreviousUserID: dr.PreviousUserID, UserID: dr.UserID, Time: s.opts.Now(),
	})
	if err != nil {
		return nil, "", errors.New("deliver: user_id_update needs previous_user_id and user_id")
	}
	return b, "", nil
}

// or returns a, or b when a is empty.
func or(a, b string) string {
	if a == "" {
		return b
	}
	return a
}
