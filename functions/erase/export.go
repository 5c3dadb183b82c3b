package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/store"
)

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
	doc := newExportDoc(h.now())
	if err := h.exportMessages(ctx, subject, cur, &doc); err != nil {
		return httpapi.Response{}, err
	}
	if in.Cursor == "" {
		if err := h.exportIdentifiers(ctx, subject, &doc); err != nil {
			return httpapi.Response{}, err
		}
		if err := h.exportState(ctx, subject, &doc); err != nil {
			return httpapi.Response{}, err
		}
	}
	if _, err := h.Audit.Append(ctx, exportEvent(pseudonym, p.ClientID, req.RequestContext.RequestID, len(doc.Messages))); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, doc), nil
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
				if pageFull(len(doc.Messages), used, size) {
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
	names, err := h.Store.Usernames(ctx, subject)
	if err != nil {
		return err
	}
	doc.Identifiers = exportIdentifiersOf(ids, names)
	return nil
}

// exportMessage is one message as exported, with its status history.
func (h *Handler) exportMessage(ctx context.Context, subject string, m store.Message) (exportMessage, error) {
	if m.Lookup == "" {
		return toExportMessage(m, nil), nil
	}
	hist, err := h.Store.StatusHistory(ctx, subject, m.Lookup)
	if err != nil {
		return exportMessage{}, err
	}
	return toExportMessage(m, hist), nil
}

// exportState adds the consent ledger, suppressions and the open erasure
// request (first page only).
func (h *Handler) exportState(ctx context.Context, subject string, doc *exportDoc) error {
	prof, err := h.Store.Profile(ctx, subject)
	if err != nil {
		return err
	}
	doc.Consents = exportConsents(prof.Ledger)
	doc.Suppression.Purposes, doc.Suppression.Erased = suppressedPurposes(prof.Suppressed), prof.Erased
	r, err := h.Store.OpenErasureOf(ctx, subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	doc.ErasureRequests = append(doc.ErasureRequests, exportErasureOf(r))
	return nil
}
