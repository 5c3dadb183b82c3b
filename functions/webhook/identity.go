package main

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/bsuid"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
	"github.com/waguard/waguard/shared/whatsapp"
)

// person is who an event is about: the subject its identifiers lead to
// (keyed hashes), the identifiers themselves (to reply, and to store
// sealed), and the identity change the event brings, committed with what
// it stores.
type person struct {
	index, pseudonym string
	// keys are the blind indexes of every identifier of the event.
	keys   []string
	who    subject.Who
	attach store.Attachment
}

// whoOf reads an event's identifiers: a wa_id that is no valid number
// is dropped (the BSUID may still name the person).
func whoOf(waID string, user, parent bsuid.ID) subject.Who {
	w := subject.Who{User: user, Parent: parent}
	if n, err := phone.ParseWAID(waID); err == nil {
		w.Phone = n
	}
	return w
}

// personOf finds the subject of who for a write. It returns false when
// who holds no identifier: the event cannot be attributed.
func (h *Handler) personOf(ctx context.Context, who subject.Who) (person, bool, error) {
	if who.Empty() {
		return person{}, false, nil
	}
	sub, a, err := h.Subjects.ForWrite(ctx, who)
	if err != nil {
		return person{}, false, err
	}
	return person{index: sub.Key, pseudonym: sub.Pseudonym, keys: sub.Keys, who: who, attach: a}, true, nil
}

// recipient is where a reply to p goes: their number, else their BSUID.
func (p person) recipient() provider.Recipient {
	if !p.who.Phone.IsZero() {
		return provider.ToPhone(p.who.Phone)
	}
	return provider.ToUser(p.who.User)
}

// linkEvent is the identity_linked audit event of an event that links
// identifiers ("" type when it links none): kinds and counts only.
func (p person) linkEvent(req events.APIGatewayV2HTTPRequest, caller, reason string) (audit.Event, bool) {
	if !p.attach.Links() {
		return audit.Event{}, false
	}
	var kinds []string
	if !p.who.Phone.IsZero() {
		kinds = append(kinds, "phone")
	}
	if !p.who.User.IsZero() {
		kinds = append(kinds, "user_id")
	}
	if !p.who.Parent.IsZero() {
		kinds = append(kinds, "parent_user_id")
	}
	for range p.who.Also {
		kinds = append(kinds, "user_id")
	}
	return audit.Event{Type: audit.EventIdentityLinked, Subject: p.pseudonym, Actor: audit.Actor{Caller: caller},
		RequestID: req.RequestContext.RequestID, Details: map[string]string{"identifiers": strings.Join(kinds, ","),
			"merged_subjects": strconv.Itoa(p.attach.Merges()), "reason": reason}}, true
}

// system applies a change of a user's identifiers that Meta reports (a
// user_changed_user_id or user_changed_number system message, or the
// retracted user_id_update): the new BSUID (and number) join the subject
// of the previous BSUID, so consent, suppressions and erasure follow the
// person. A notice without a previous BSUID cannot be linked: ignored.
func (h *Handler) system(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string, s whatsapp.System, out *outcome) error {
	if (s.Type != whatsapp.SystemUserChangedUserID && s.Type != whatsapp.SystemUserChangedNumber) || s.PreviousUserID.IsZero() || s.UserID.IsZero() {
		out.Ignored++
		return nil
	}
	who := subject.Who{User: s.PreviousUserID, Parent: s.PreviousParentUserID}
	who.Also = append(who.Also, s.UserID)
	if !s.ParentUserID.IsZero() {
		who.Also = append(who.Also, s.ParentUserID)
	}
	if s.Type == whatsapp.SystemUserChangedNumber {
		if n, err := phone.ParseWAID(s.WAID); err == nil {
			who.Phone = n
		}
	}
	for attempt := 0; ; attempt++ {
		p, _, err := h.personOf(ctx, who)
		if err != nil {
			return err
		}
		ev, links := p.linkEvent(req, caller, s.Type)
		if !links {
			out.Duplicates++ // already linked: a redelivery
			return nil
		}
		err = h.Store.AttachNow(ctx, p.attach, store.Unit{Audit: []audit.Event{ev}})
		if errors.Is(err, store.ErrConflict) && attempt == 0 {
			continue
		}
		if err == nil {
			out.Received++
		}
		return err
	}
}
