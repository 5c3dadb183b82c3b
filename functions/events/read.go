package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	waevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// getMessage answers GET /v1/messages/{id}: the message, decrypted, with
// its status history. An unknown, expired or erased message answers 404
// alike. The read is audited (data_access) before it is answered.
func (h *Handler) getMessage(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, _ []byte) (httpapi.Response, error) {
	id := req.PathParameters["id"]
	if !validMessageID(id) {
		return httpapi.Response{}, errNoMessage
	}
	r, err := h.Store.MessageByID(ctx, id)
	if err != nil {
		return httpapi.Response{}, notFound(err)
	}
	m, err := h.Store.OpenMessage(ctx, r)
	if err != nil {
		return httpapi.Response{}, notFound(err)
	}
	sub, pseudonym, err := h.Store.SubjectOf(ctx, m.Partition)
	if err != nil {
		return httpapi.Response{}, err
	}
	if pseudonym == "" {
		pseudonym = h.pseudonymOf(sub, m.Content)
	}
	v, err := h.view(ctx, m, h.contactID(sub))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := h.disclosed(ctx, req, p, sub, pseudonym, 1, map[string]string{"message": id}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, v), nil
}

// notFound maps the store's ErrNotFound to 404, and passes anything else.
func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNoMessage
	}
	return err
}

// queryRequest is the body of POST /v1/messages/query.
type queryRequest struct {
	Phone     string `json:"phone,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	ContactID string `json:"contact_id,omitempty"`
	Direction string `json:"direction,omitempty"`
	Since     string `json:"since,omitempty"`
	Cursor    string `json:"cursor,omitempty"`
}

// query is a parsed queryRequest: the person (who, or a contact id) and
// the filter.
type query struct {
	who       subject.Who
	contactID string
	filter    filter
}

// by names what the query named the person by, for the audit trail: the
// kind, never the value.
func (q query) by() string {
	switch {
	case q.contactID != "":
		return "contact_id"
	case !q.who.Phone.IsZero():
		return "phone"
	}
	return "user_id"
}

// parseQuery validates a POST /v1/messages/query body: exactly one of
// phone, user_id and contact_id (400 invalid_request, or invalid_phone
// for a malformed number), direction in or out, since in RFC 3339, and a
// cursor this function wrote.
func parseQuery(body []byte) (query, error) {
	var r queryRequest
	if httpapi.Decode(body, &r) != nil || (r.Direction != "" && r.Direction != "in" && r.Direction != "out") {
		return query{}, errInvalidRequest
	}
	q := query{filter: filter{direction: r.Direction}}
	var err error
	if q.filter.after, q.filter.hasAfter, err = parseCursor(r.Cursor); err != nil {
		return query{}, errInvalidRequest
	}
	if r.Since != "" {
		if q.filter.since, err = time.Parse(time.RFC3339, r.Since); err != nil {
			return query{}, errInvalidRequest
		}
	}
	if r.ContactID != "" {
		if r.Phone != "" || r.UserID != "" || !validContactID(r.ContactID) {
			return query{}, errInvalidRequest
		}
		q.contactID = r.ContactID
		return q, nil
	}
	q.who, err = subject.Parse(r.Phone, r.UserID)
	switch {
	case errors.Is(err, subject.ErrInvalidPhone):
		return query{}, errInvalidPhone
	case err != nil:
		return query{}, errInvalidRequest
	}
	return q, nil
}

// messagePage is the answer of POST /v1/messages/query.
type messagePage struct {
	Messages   []messageView `json:"messages"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// queryMessages answers POST /v1/messages/query: the person's messages
// across every partition of their subject, newest first, one page
// bounded by count and by size on the wire. A person nothing is stored
// about, or a contact id never handed out, gets an empty page. Every
// answer is audited (data_access, with the count) before it is sent.
func (h *Handler) queryMessages(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, body []byte) (httpapi.Response, error) {
	q, err := parseQuery(body)
	if err != nil {
		return httpapi.Response{}, err
	}
	sub, pseudonym, known, err := h.resolve(ctx, q)
	if err != nil {
		return httpapi.Response{}, err
	}
	page := messagePage{Messages: []messageView{}}
	if known {
		var first *store.Message
		if page, first, err = h.page(ctx, sub, q.filter); err != nil {
			return httpapi.Response{}, err
		}
		if pseudonym == "" && first != nil {
			pseudonym = h.pseudonymOf(sub, first.Content)
		}
	}
	if err := h.disclosed(ctx, req, p, sub, pseudonym, len(page.Messages), map[string]string{"by": q.by()}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, page), nil
}

// resolve finds the subject a query names and its pseudonym ("" when the
// pseudonym must come from a message: a subject written before
// identities, found by contact id). known is false for nobody.
func (h *Handler) resolve(ctx context.Context, q query) (sub, pseudonym string, known bool, err error) {
	if q.contactID == "" {
		s, err := h.Subjects.Find(ctx, q.who)
		return s.Key, s.Pseudonym, s.Known, err
	}
	part, err := h.Store.ContactSubject(ctx, q.contactID)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	sub, pseudonym, err = h.Store.SubjectOf(ctx, part)
	return sub, pseudonym, err == nil, err
}

// page reads one page of sub's messages that f keeps, and returns it with
// the first message opened (for its identifiers).
func (h *Handler) page(ctx context.Context, sub string, f filter) (messagePage, *store.Message, error) {
	parts, err := h.Store.Partitions(ctx, sub)
	if err != nil {
		return messagePage{}, nil, err
	}
	var refs []store.MessageRef
	for _, part := range parts {
		r, err := h.Store.MessageRefs(ctx, part)
		if err != nil {
			return messagePage{}, nil, err
		}
		refs = append(refs, r...)
	}
	sel, more := selectPage(refs, f, queryPage)
	page, contact := messagePage{Messages: []messageView{}}, h.contactID(sub)
	var first *store.Message
	used, budget := 0, h.budget()
	for i, r := range sel {
		m, err := h.Store.OpenMessage(ctx, r)
		if errors.Is(err, store.ErrNotFound) {
			continue // erased meanwhile: the cursor moves past it
		}
		if err != nil {
			return messagePage{}, nil, err
		}
		v, err := h.view(ctx, m, contact)
		if err != nil {
			return messagePage{}, nil, err
		}
		size := httpapi.WireSize(v)
		if len(page.Messages) > 0 && used+size > budget {
			more, sel = true, sel[:i]
			break
		}
		if first == nil {
			first = &m
		}
		page.Messages, used = append(page.Messages, v), used+size
	}
	if more && len(sel) > 0 {
		last := sel[len(sel)-1]
		page.NextCursor = position{last.At, last.ID}.cursor()
	}
	return page, first, nil
}

// view is m as answered, with its status history and the person's
// contact id, which it records (once) so that a query by it finds them.
func (h *Handler) view(ctx context.Context, m store.Message, contact string) (messageView, error) {
	var hist []store.StatusEntry
	if m.Direction == "out" && m.Lookup != "" {
		var err error
		if hist, err = h.Store.StatusHistory(ctx, m.Partition, m.Lookup); err != nil {
			return messageView{}, err
		}
	}
	return view(m, contact, hist), nil
}

// contactID is the contact id of subject sub.
func (h *Handler) contactID(sub string) string {
	return waevents.ContactID(h.ContactKey, sub)
}

// disclosed records that the answer about sub discloses count records:
// the contact id it carries (so a query by it finds sub) and the
// data_access audit event. Either failing fails the answer.
func (h *Handler) disclosed(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, sub, pseudonym string,
	count int, extra map[string]string) error {
	if count > 0 {
		if err := h.Store.RecordContact(ctx, sub, h.contactID(sub)); err != nil {
			return err
		}
	}
	_, err := h.Audit.Append(ctx, audit.DataAccess(p.ClientID, pseudonym, req.RequestContext.RequestID, req.RouteKey, count, extra))
	return err
}

// pseudonymOf derives the audit pseudonym of a subject no alias records
// (data written before identities: the partition is its home
// identifier's) from the identifier in one of its messages that keys it.
// It returns "" when none does.
func (h *Handler) pseudonymOf(sub string, c store.Content) string {
	if n, err := phone.Parse(c.Phone); err == nil {
		if k, p, err := h.Keys.ForPhone(n); err == nil && k == sub {
			return p
		}
	}
	if c.UserID != "" {
		if k, p, err := h.Keys.ForUser(c.UserID); err == nil && k == sub {
			return p
		}
	}
	return ""
}

// budget is the most bytes a page's messages may take on the wire.
func (h *Handler) budget() int {
	if h.pageBudget > 0 {
		return h.pageBudget
	}
	return httpapi.PageBudget
}
