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
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/store"
)

// ExportFormat names and versions the export document (GDPR Art. 15, 20).
const ExportFormat = "waguard.export/v1"

// exportPage is how many messages one response holds; a larger subject is
// paged with next_cursor, so an answer stays far below Lambda's 6 MB.
const exportPage = 500

type exportMessage struct {
	ID                string    `json:"id"`
	Direction         string    `json:"direction"`
	Type              string    `json:"type,omitempty"`
	Purpose           string    `json:"purpose"`
	Status            string    `json:"status,omitempty"`
	Time              time.Time `json:"time"`
	Phone             string    `json:"phone"`
	ProviderMessageID string    `json:"provider_message_id"`
	ProfileName       string    `json:"profile_name,omitempty"`
	Body              string    `json:"body,omitempty"`
}

type exportConsent struct {
	Time          time.Time `json:"time"`
	Purpose       string    `json:"purpose"`
	Action        string    `json:"action"`
	Method        string    `json:"method"`
	PolicyVersion string    `json:"policy_version"`
	Actor         string    `json:"actor"`
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
	NextCursor      string          `json:"next_cursor,omitempty"`
}

// postExport answers everything waguard holds about a number, decrypted.
// A number never seen gets the same document with empty lists, so the
// answer does not reveal whether it was known.
func (h *Handler) postExport(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, body []byte) (httpapi.Response, error) {
	var in struct {
		Phone  string `json:"phone"`
		Cursor string `json:"cursor,omitempty"`
	}
	if strict(body, &in) != nil || (in.Cursor != "" && !strings.HasPrefix(in.Cursor, "msg#")) {
		return httpapi.Response{}, errInvalidRequest
	}
	n, err := phone.Parse(in.Phone)
	if err != nil {
		return httpapi.Response{}, errInvalidPhone
	}
	subject, _ := h.Keys.Index(n)
	pseudonym, _ := h.Keys.Pseudonym(n)
	doc := exportDoc{Format: ExportFormat, GeneratedAt: h.now().UTC(), Messages: []exportMessage{}, Consents: []exportConsent{},
		ErasureRequests: []exportErasure{}}
	doc.Suppression.Purposes = []string{}
	msgs, next, err := h.Store.Messages(ctx, subject, in.Cursor, exportPage)
	if err != nil {
		return httpapi.Response{}, err
	}
	for _, m := range msgs {
		doc.Messages = append(doc.Messages, exportMessage{ID: m.SK[strings.LastIndex(m.SK, "#")+1:], Direction: m.Direction, Type: m.Type,
			Purpose: m.Class, Status: m.Status, Time: m.At, Phone: m.Content.Phone, ProviderMessageID: m.Content.ProviderID,
			ProfileName: m.Content.ProfileName, Body: string(m.Content.Body)})
	}
	doc.NextCursor = next
	if in.Cursor == "" {
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

// exportState adds the consent ledger, suppressions and the open erasure
// request (first page only).
func (h *Handler) exportState(ctx context.Context, subject string, doc *exportDoc) error {
	prof, err := h.Store.Profile(ctx, subject)
	if err != nil {
		return err
	}
	for _, ev := range prof.Ledger {
		doc.Consents = append(doc.Consents, exportConsent{Time: ev.At, Purpose: ev.Purpose, Action: ev.Action, Method: ev.Method,
			PolicyVersion: ev.PolicyVersion, Actor: ev.Actor})
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
