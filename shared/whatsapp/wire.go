package whatsapp

import (
	"encoding/json"
	"time"
)

// Wire shapes of the parts of the webhook this package reads.
// encoding/json ignores every other field.
type (
	wireEnvelope struct {
		Object *string `json:"object"`
		Entry  []struct {
			ID      string `json:"id"`
			Changes []struct {
				Field string          `json:"field"`
				Value json.RawMessage `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	wireMetadata struct {
		PhoneNumberID string `json:"phone_number_id"`
	}
	// wireValue is the value of a "messages" change.
	wireValue struct {
		MessagingProduct string        `json:"messaging_product"`
		Metadata         wireMetadata  `json:"metadata"`
		Contacts         []wireContact `json:"contacts"`
		Messages         []wireMessage `json:"messages"`
		Statuses         []wireStatus  `json:"statuses"`
		Errors           []wireError   `json:"errors"`
	}
	// wireContact is a contacts[] element: who a message is from or a
	// status is about. wa_id is omitted for a user whose number Meta
	// withholds; user_id (the BSUID) is always there since April 2026.
	wireContact struct {
		Profile struct {
			Name     string `json:"name"`
			Username string `json:"username"`
		} `json:"profile"`
		WAID         string `json:"wa_id"`
		UserID       string `json:"user_id"`
		ParentUserID string `json:"parent_user_id"`
	}
	wireMessage struct {
		From             string   `json:"from"`
		FromUserID       string   `json:"from_user_id"`
		FromParentUserID string   `json:"from_parent_user_id"`
		ID               string   `json:"id"`
		Timestamp        unixTime `json:"timestamp"`
		Type             string   `json:"type"`
		Text             *struct {
			Body string `json:"body"`
		} `json:"text"`
		Interactive *struct {
			Type        string     `json:"type"`
			ButtonReply *wireReply `json:"button_reply"`
			ListReply   *wireReply `json:"list_reply"`
		} `json:"interactive"`
		Button *struct {
			Payload string `json:"payload"`
			Text    string `json:"text"`
		} `json:"button"`
		System *wireSystem `json:"system"`
	}
	wireReply struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	// wireSystem is the system object of a type "system" message. body
	// is not read: it repeats the fields in prose, with the profile name.
	wireSystem struct {
		Type                 string `json:"type"`
		UserID               string `json:"user_id"`
		PreviousUserID       string `json:"previous_user_id"`
		ParentUserID         string `json:"parent_user_id"`
		PreviousParentUserID string `json:"previous_parent_user_id"`
		// WAID is the new number of user_changed_number; NewWAID is its
		// name before API v12, which some SDKs type as a number.
		WAID    flexString `json:"wa_id"`
		NewWAID flexString `json:"new_wa_id"`
	}
	wireStatus struct {
		ID                    string      `json:"id"`
		Status                string      `json:"status"`
		Timestamp             unixTime    `json:"timestamp"`
		RecipientID           string      `json:"recipient_id"`
		RecipientUserID       string      `json:"recipient_user_id"`
		RecipientParentUserID string      `json:"recipient_parent_user_id"`
		Errors                []wireError `json:"errors"`
		// CallbackData is what the send set as biz_opaque_callback_data.
		CallbackData string `json:"biz_opaque_callback_data"`
	}
	wireError struct {
		Code int `json:"code"`
	}
	// wireSideValue is the value of a "user_preferences" or
	// "user_id_update" change. Items stay raw so that one that does not
	// decode is skipped alone.
	wireSideValue struct {
		Metadata        wireMetadata      `json:"metadata"`
		UserPreferences []json.RawMessage `json:"user_preferences"`
		UserIDUpdate    []json.RawMessage `json:"user_id_update"`
	}
	// wirePreference is a user_preferences[] item.
	wirePreference struct {
		WAID         flexString `json:"wa_id"`
		UserID       string     `json:"user_id"`
		ParentUserID string     `json:"parent_user_id"`
		Category     string     `json:"category"`
		Value        string     `json:"value"`
		Timestamp    looseTime  `json:"timestamp"`
	}
	// wireUserIDUpdate is a user_id_update[] item (documented by Meta
	// until August 2026, then retracted).
	wireUserIDUpdate struct {
		WAID         string       `json:"wa_id"`
		UserID       wireIDChange `json:"user_id"`
		ParentUserID wireIDChange `json:"parent_user_id"`
		Timestamp    looseTime    `json:"timestamp"`
	}
	wireIDChange struct {
		Previous string `json:"previous"`
		Current  string `json:"current"`
	}
)

// unixTime is a webhook timestamp: Unix seconds, which Meta sends as a
// decimal string. A JSON number is accepted too.
type unixTime struct{ t time.Time }

// maxUnixSeconds is 9999-12-31; later timestamps are nonsense.
const maxUnixSeconds = 253402300799

// UnmarshalJSON decodes "1767225600" or 1767225600.
func (u *unixTime) UnmarshalJSON(b []byte) error {
	t, ok := parseUnix(b)
	if !ok {
		return ErrMalformed
	}
	u.t = t
	return nil
}

// looseTime is a timestamp of an item that must not fail its delivery:
// what [unixTime] accepts, and the zero time for anything else.
type looseTime struct{ t time.Time }

// UnmarshalJSON decodes what unixTime does and never fails.
func (u *looseTime) UnmarshalJSON(b []byte) error {
	u.t, _ = parseUnix(b)
	return nil
}

// parseUnix parses a JSON number or string of Unix seconds.
func parseUnix(b []byte) (time.Time, bool) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	n, ok := parseDigits(b)
	if !ok || n <= 0 || n > maxUnixSeconds {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// parseDigits parses 1 to 18 ASCII digits, with no sign or space.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// flexString is a string that Meta may send as a JSON number (a wa_id):
// a string is kept, a number becomes its digits, anything else "".
type flexString string

// UnmarshalJSON decodes "447700900123" or 447700900123 and never fails.
func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	if _, ok := parseDigits(b); ok {
		*f = flexString(b)
		return nil
	}
	*f = ""
	return nil
}
