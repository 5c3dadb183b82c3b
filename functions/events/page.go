package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/ids"
	"github.com/waguard/waguard/shared/store"
)

// The read API's rules, as pure functions over plain values: the order
// of a message query (newest first), its cursor, and the shape of a
// message as the API answers it (docs/api.md, "Read API").

// queryPage is the most messages one page of POST /v1/messages/query
// holds; httpapi.PageBudget bounds their size on the wire.
const queryPage = 100

// position is where a message sorts in a query: by time, newest first,
// then by id (descending) among messages of the same second.
type position struct {
	at time.Time
	id string
}

// before reports whether a comes before b in a query's order.
func (a position) before(b position) bool {
	if c := a.at.Compare(b.at); c != 0 {
		return c > 0
	}
	return a.id > b.id
}

// cursorVersion prefixes every cursor this code writes.
const cursorVersion = "1"

var errBadCursor = errors.New("events: malformed cursor")

// parseCursor reads a next_cursor: base64url (no padding) of
// "1|<unix seconds>|<message id>", the position of the last message of the
// previous page. "" is the start. It refuses anything it did not write.
func parseCursor(s string) (position, bool, error) {
	if s == "" {
		return position{}, false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 64 {
		return position{}, false, errBadCursor
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 3 || parts[0] != cursorVersion || !validMessageID(parts[2]) {
		return position{}, false, errBadCursor
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || sec < 0 || sec > 1<<40 || strconv.FormatInt(sec, 10) != parts[1] {
		return position{}, false, errBadCursor
	}
	return position{at: time.Unix(sec, 0).UTC(), id: parts[2]}, true, nil
}

// cursor is the next_cursor that continues after p.
func (p position) cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + "|" + strconv.FormatInt(p.at.Unix(), 10) + "|" + p.id))
}

// validMessageID reports whether id has the form of a message id:
// "msg_" and 24 base32 characters.
func validMessageID(id string) bool {
	return ids.Valid(id, "msg_")
}

// validContactID reports whether id has the form of a contact id: "ct_"
// and 26 base32 characters.
func validContactID(id string) bool {
	return ids.Shaped(id, "ct_", 26)
}

// filter is what a query keeps: a direction ("" both), messages at or
// after since (zero: all), and those after the cursor.
type filter struct {
	direction string
	since     time.Time
	after     position
	hasAfter  bool
}

// keep reports whether f keeps the message with this direction and
// position.
func (f filter) keep(direction string, p position) bool {
	return (f.direction == "" || f.direction == direction) && !p.at.Before(f.since) && (!f.hasAfter || f.after.before(p))
}

// selectPage returns the refs f keeps, newest first, at most limit of
// them, and whether more follow.
func selectPage(refs []store.MessageRef, f filter, limit int) ([]store.MessageRef, bool) {
	var kept []store.MessageRef
	for _, r := range refs {
		if f.keep(r.Direction, position{r.At, r.ID}) {
			kept = append(kept, r)
		}
	}
	slices.SortFunc(kept, func(a, b store.MessageRef) int {
		pa, pb := position{a.At, a.ID}, position{b.At, b.ID}
		switch {
		case pa.before(pb):
			return -1
		case pb.before(pa):
			return 1
		}
		return 0
	})
	if len(kept) > limit {
		return kept[:limit], true
	}
	return kept, false
}

// statusReceived is the status of every inbound message.
const statusReceived = "received"

// messageView is a message as the read API answers it.
type messageView struct {
	ID        string `json:"id"`
	Direction string `json:"direction"`
	// Type is the WhatsApp type of an inbound message, text or template
	// for an outbound one.
	Type      string `json:"type"`
	Purpose   string `json:"purpose"`
	ContactID string `json:"contact_id"`
	Phone     string `json:"phone,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	Text      string `json:"text,omitempty"`
	// Template is an outbound template as it was sent: name, language and
	// components.
	Template json.RawMessage `json:"template,omitempty"`
	// Reply is an inbound interactive or button reply.
	Reply             *replyView   `json:"reply,omitempty"`
	ProfileName       string       `json:"profile_name,omitempty"`
	Username          string       `json:"username,omitempty"`
	ProviderMessageID string       `json:"provider_message_id,omitempty"`
	Time              time.Time    `json:"time"`
	Status            string       `json:"status"`
	ErrorCode         int          `json:"error_code,omitempty"`
	Statuses          []statusView `json:"statuses"`
}

// replyView is an inbound reply: the payload id of the button or list
// row chosen and its title.
type replyView struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// statusView is one provider status of an outbound message.
type statusView struct {
	Status    string    `json:"status"`
	Time      time.Time `json:"time"`
	ErrorCode int       `json:"error_code,omitempty"`
}

// view is m as the API answers it, for the person with contactID, with
// its status history (outbound messages only).
func view(m store.Message, contactID string, hist []store.StatusEntry) messageView {
	v := messageView{ID: m.ID, Direction: m.Direction, Type: m.Type, Purpose: m.Class, ContactID: contactID,
		Phone: m.Content.Phone, UserID: m.Content.UserID, ProfileName: m.Content.ProfileName, Username: m.Content.Username,
		ProviderMessageID: m.Content.ProviderID, Time: m.At.UTC(), Status: m.Status, ErrorCode: m.ErrorCode, Statuses: []statusView{}}
	if m.Direction == "in" {
		v.Status = statusReceived
		if v.Reply = reply(m.Type, m.Content.Body); v.Reply == nil {
			v.Text = string(m.Content.Body)
		}
		return v
	}
	v.Type = outboundKind(m.Type, m.Content.Body)
	if v.Type == store.OutboundTemplate {
		v.Template = json.RawMessage(m.Content.Body)
	} else {
		v.Text = string(m.Content.Body)
	}
	for _, s := range hist {
		v.Statuses = append(v.Statuses, statusView{Status: s.Status, Time: s.At.UTC(), ErrorCode: s.ErrorCode})
	}
	return v
}

// reply reads the body of an inbound message of type typ as a reply:
// the webhook stores one as {"reply_id": …, "reply_title": …}. A text (of
// any content) is never a reply; nor is a body without those keys (a
// reply stored before, as its title alone).
func reply(typ string, body []byte) *replyView {
	var r struct {
		ID    *string `json:"reply_id"`
		Title *string `json:"reply_title"`
	}
	if typ == "text" || json.Unmarshal(body, &r) != nil || (r.ID == nil && r.Title == nil) {
		return nil
	}
	out := &replyView{}
	if r.ID != nil {
		out.ID = *r.ID
	}
	if r.Title != nil {
		out.Title = *r.Title
	}
	return out
}

// outboundKind is the kind of an outbound message: as recorded, or for a
// message written before kinds were (typ ""), a template when the body is
// a template document ({"name": …, "language": …}), else text. A body
// that is not a JSON object is never answered as a template.
func outboundKind(typ string, body []byte) string {
	var t struct {
		Name     string `json:"name"`
		Language string `json:"language"`
	}
	isObject := json.Valid(body) && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))
	switch {
	case typ == store.OutboundTemplate && isObject:
		return store.OutboundTemplate
	case typ != "":
		return store.OutboundText
	case isObject && json.Unmarshal(body, &t) == nil && t.Name != "" && t.Language != "":
		return store.OutboundTemplate
	}
	return store.OutboundText
}
