package main

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/store"
)

// ExportFormat names and versions the export document (GDPR Art. 15, 20).
const ExportFormat = "waguard.export/v1"

// exportPage is the most messages one response holds; their size on the
// wire is bounded by [httpapi.PageBudget] (the rest of the document, the
// ledger and suppressions, fits in the margin below Lambda's 6 MB). A
// larger subject is paged with next_cursor.
const (
	exportPage = 500
	exportRead = 100 // messages read from the table at a time
)

type exportMessage struct {
	ID                string         `json:"id"`
	Direction         string         `json:"direction"`
	Type              string         `json:"type,omitempty"`
	Purpose           string         `json:"purpose"`
	Status            string         `json:"status,omitempty"`
	ErrorCode         int            `json:"error_code,omitempty"`
	Statuses          []exportStatus `json:"statuses,omitempty"`
	Time              time.Time      `json:"time"`
	Phone             string         `json:"phone,omitempty"`
	UserID            string         `json:"user_id,omitempty"`
	Username          string         `json:"username,omitempty"`
	ProviderMessageID string         `json:"provider_message_id"`
	ProfileName       string         `json:"profile_name,omitempty"`
	Body              string         `json:"body,omitempty"`
}

// exportStatus is one provider status of an outbound message.
type exportStatus struct {
	Status    string    `json:"status"`
	Time      time.Time `json:"time"`
	ErrorCode int       `json:"error_code,omitempty"`
}

type exportConsent struct {
	Time          time.Time `json:"time"`
	Purpose       string    `json:"purpose"`
	Action        string    `json:"action"`
	Method        string    `json:"method"`
	PolicyVersion string    `json:"policy_version"`
	// NoticeSHA256 names the notice shown (GET /v1/notices/{id}).
	NoticeSHA256 string `json:"notice_sha256,omitempty"`
	Actor        string `json:"actor"`
	// ExpiresAt is a pending grant's deadline; Confirmed marks a grant
	// that confirms a pending one (double opt-in). The export shows no
	// ledger ids, so it does not name which.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Confirmed bool       `json:"confirmed,omitempty"`
}

// exportIdentifier is one identifier of the person: kind phone, user_id,
// parent_user_id or username.
type exportIdentifier struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

type exportErasure struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	RequestedAt time.Time `json:"requested_at"`
	DueBy       time.Time `json:"due_by"`
}

type exportDoc struct {
	Format      string          `json:"format"`
	GeneratedAt time.Time       `json:"generated_at"`
	Messages    []exportMessage `json:"messages"`
	Consents    []exportConsent `json:"consents"`
	Suppression struct {
		Purposes []string `json:"purposes"`
		Erased   bool     `json:"erased"`
	} `json:"suppression"`
	ErasureRequests []exportErasure `json:"erasure_requests"`
	// Identifiers lists every identifier held for the person (first page
	// only).
	Identifiers []exportIdentifier `json:"identifiers,omitempty"`
	NextCursor  string             `json:"next_cursor,omitempty"`
}

// postExport answers everything waguard holds about a number, decrypted.
// A number never seen gets the same document with empty lists, so the
// answer does not reveal whether it was known.
func (h *Handler) postExport(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, body []byte) (httpapi.Response, error) {
	var in struct {
		Phone  string `json:"phone,omitempty"`
		UserID string `json:"user_id,omitempty"`
		Cursor string `json:"cursor,omitempty"`
	}
	if httpapi.Decode(body, &in) != nil {
		return httpapi.Response{}, errInvalidRequest
	}
	cur, err := parseCursor(in.Cursor)
	if err != nil {
		return httpapi.Response{}, errInvalidRequest
	}
	sub, err := h.find(ctx, in.Phone, in.UserID)
	if err != nil {
		return httpapi.Response{}, err
	}
	subject, pseudonym := sub.Key, sub.Pseudonym
	doc := exportDoc{Format: ExportFormat, GeneratedAt: h.now().UTC(), Messages: []exportMessage{}, Consents: []exportConsent{},
		ErasureRequests: []exportErasure{}}
	doc.Suppression.Purposes = []string{}
	if err := h.exportMessages(ctx, subject, cur, &doc); err != nil {
		return httpapi.Response{}, err
	}
	if in.Cursor == "" {
		doc.Identifiers = []exportIdentifier{}
		if err := h.exportIdentifiers(ctx, subject, &doc); err != nil {
			return httpapi.Response{}, err
		}
		if err := h.exportState(ctx, subject, &doc); err != nil {
			return httpapi.Response{}, err
		}
	}
	if _, err := h.Audit.Append(ctx, audit.Event{Type: audit.EventDataExport, Subject: pseudonym, Actor: audit.Actor{Caller: p.ClientID},
		RequestID: req.RequestContext.RequestID, Details: map[string]string{"format": ExportFormat, "page_messages": strconv.Itoa(len(doc.Messages))}}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, doc), nil
}

// cursor is where an export page goes on: a partition of the subject
// (0 its own, then its members in order) and the last message key read
// there. On the wire it is "msg#…" for the subject's own partition (as
// before subjects had members) and "<partition>|msg#…" for the others.
type cursor struct {
	part int
	sk   string
}

func parseCursor(s string) (cursor, error) {
	if s == "" || strings.HasPrefix(s, "msg#") {
		return cursor{sk: s}, nil
	}
	p, sk, ok := strings.Cut(s, "|")
	n, err := strconv.Atoi(p)
	if !ok || err != nil || n < 1 || n > 99 || !strings.HasPrefix(sk, "msg#") {
		return cursor{}, errors.New("malformed cursor")
	}
	return cursor{part: n, sk: sk}, nil
}

func (c cursor) String() string {
	if c.part == 0 {
		return c.sk
	}
	return strconv.Itoa(c.part) + "|" + c.sk
}

// exportMessages adds the subject's messages after cur to doc, partition
// by partition, until exportPage messages or httpapi.PageBudget bytes on the
// wire, and sets next_cursor when more may follow. A page holds at least
// one message.
func (h *Handler) exportMessages(ctx context.Context, subject string, cur cursor, doc *exportDoc) error {
	parts, err := h.Store.Partitions(ctx, subject)
	if err != nil {
		return err
	}
	used := 0
	for ; cur.part < len(parts); cur = (cursor{part: cur.part + 1}) {
		part := parts[cur.part]
		for {
			msgs, next, err := h.Store.Messages(ctx, part, cur.sk, exportRead)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				em, err := h.exportMessage(ctx, part, m)
				if err != nil {
					return err
				}
				size := httpapi.WireSize(em)
				if len(doc.Messages) == exportPage || (len(doc.Messages) > 0 && used+size > httpapi.PageBudget) {
					doc.NextCursor = cur.String()
					return nil
				}
				doc.Messages, used, cur.sk = append(doc.Messages, em), used+size, m.SK
			}
			if next == "" {
				break
			}
			cur.sk = next
		}
	}
	return nil
}

// exportIdentifiers adds every identifier held for the subject,
// decrypted: the phone numbers and business-scoped user ids attached to
// it, and the latest WhatsApp username (display data) of each partition.
func (h *Handler) exportIdentifiers(ctx context.Context, subject string, doc *exportDoc) error {
	ids, err := h.Store.Identifiers(ctx, subject)
	if err != nil {
		return err
	}
	for _, id := range ids {
		doc.Identifiers = append(doc.Identifiers, exportIdentifier{Kind: string(id.Kind), Value: id.Value})
	}
	names, err := h.Store.Usernames(ctx, subject)
	if err != nil {
		return err
	}
	for _, u := range names {
		doc.Identifiers = append(doc.Identifiers, exportIdentifier{Kind: "username", Value: u})
	}
	return nil
}

// exportMessage is one message as exported, with its status history.
func (h *Handler) exportMessage(ctx context.Context, subject string, m store.Message) (exportMessage, error) {
	em := exportMessage{ID: m.ID, Direction: m.Direction, Type: m.Type,
		Purpose: m.Class, Status: m.Status, ErrorCode: m.ErrorCode, Time: m.At, Phone: m.Content.Phone,
		UserID: m.Content.UserID, Username: m.Content.Username,
		ProviderMessageID: m.Content.ProviderID, ProfileName: m.Content.ProfileName, Body: string(m.Content.Body)}
	if m.Lookup == "" {
		return em, nil
	}
	hist, err := h.Store.StatusHistory(ctx, subject, m.Lookup)
	if err != nil {
		return exportMessage{}, err
	}
	for _, s := range hist {
		em.Statuses = append(em.Statuses, exportStatus{Status: s.Status, Time: s.At, ErrorCode: s.ErrorCode})
	}
	return em, nil
}

// exportState adds the consent ledger, suppressions and the open erasure
// request (first page only).
func (h *Handler) exportState(ctx context.Context, subject string, doc *exportDoc) error {
	prof, err := h.Store.Profile(ctx, subject)
	if err != nil {
		return err
	}
	for _, ev := range prof.Ledger {
		c := exportConsent{Time: ev.At, Purpose: ev.Purpose, Action: ev.Action, Method: ev.Method,
			PolicyVersion: ev.PolicyVersion, NoticeSHA256: ev.NoticeSHA256, Actor: ev.Actor, Confirmed: ev.Confirms != ""}
		if !ev.ConfirmBy.IsZero() {
			c.ExpiresAt = &ev.ConfirmBy
		}
		doc.Consents = append(doc.Consents, c)
	}
	for purpose := range prof.Suppressed {
		doc.Suppression.Purposes = append(doc.Suppression.Purposes, purpose)
	}
	sort.Strings(doc.Suppression.Purposes)
	doc.Suppression.Erased = prof.Erased
	r, err := h.Store.OpenErasureOf(ctx, subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	doc.ErasureRequests = append(doc.ErasureRequests, exportErasure{ID: r.ID, Status: r.Status, RequestedAt: r.RequestedAt, DueBy: r.DueBy})
	return nil
}
