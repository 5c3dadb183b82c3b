package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/ids"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

var reasons = map[string]bool{"user_request": true, "whatsapp_keyword": true, "contract_end": true, "other": true}

// postErasure opens (or finds) the subject's erasure request and
// processes it as far as this invocation allows; the schedule resumes the
// rest. It answers 202 with the request's state.
func (h *Handler) postErasure(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, body []byte) (httpapi.Response, error) {
	var in struct {
		Phone  string `json:"phone,omitempty"`
		UserID string `json:"user_id,omitempty"`
		Reason string `json:"reason"`
	}
	if httpapi.Decode(body, &in) != nil || !reasons[in.Reason] {
		return httpapi.Response{}, errInvalidRequest
	}
	sub, err := h.find(ctx, in.Phone, in.UserID)
	if err != nil {
		return httpapi.Response{}, err
	}
	subject, pseudonym := sub.Key, sub.Pseudonym
	id := ids.New("er_")
	r, err := h.Store.OpenErasure(ctx, store.ErasureRequest{ID: id, Subject: subject, Pseudonym: pseudonym, Reason: in.Reason,
		RequestedAt: h.now()}, store.Unit{Audit: []audit.Event{{Type: audit.EventErasureRequested, Subject: pseudonym,
		Actor: audit.Actor{Caller: p.ClientID}, RequestID: req.RequestContext.RequestID,
		Details: map[string]string{"erasure_request": id, "reason": in.Reason}}}})
	if err != nil && !errors.Is(err, store.ErrDuplicate) {
		return httpapi.Response{}, err
	}
	if r, err = h.process(ctx, r.ID); err != nil {
		h.Log.WarnContext(ctx, "erasure continues on the schedule", "erasure_request", r.ID, "err", err)
	}
	return httpapi.JSON(http.StatusAccepted, map[string]string{"id": r.ID, "status": r.Status, "due_by": r.DueBy.Format(time.RFC3339)}), nil
}

// getErasure answers a request's state and proof; no phone number.
func (h *Handler) getErasure(ctx context.Context, req events.APIGatewayV2HTTPRequest, _ apiauth.Principal, _ []byte) (httpapi.Response, error) {
	id := req.PathParameters["id"]
	r, err := h.Store.ErasureRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.Response{}, errNotFound
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	if r.Step == stepNotified { // every endpoint may have settled since: the state as of now
		if done, err := h.Store.FinishErasure(ctx, id, h.now()); err != nil {
			return httpapi.Response{}, err
		} else if done {
			if r, err = h.Store.ErasureRequest(ctx, id); err != nil {
				return httpapi.Response{}, err
			}
		}
	}
	out := map[string]any{"id": r.ID, "status": r.Status, "reason": r.Reason, "requested_at": r.RequestedAt.Format(time.RFC3339),
		"due_by": r.DueBy.Format(time.RFC3339), "step": r.Step,
		"counts": map[string]any{"messages": r.Counts.Messages, "statuses": r.Counts.Statuses, "consent_events": r.Counts.ConsentEvents,
			"other_items": r.Counts.Other, "rate_and_idempotency_records": r.Counts.RateRecords, "subject_key": r.KeyDeleted}}
	if !r.CompletedAt.IsZero() {
		out["completed_at"] = r.CompletedAt.Format(time.RFC3339)
	}
	if r.AuditEvent != "" {
		out["audit_event"] = r.AuditEvent
	}
	if len(r.Recipients) > 0 {
		recipients := make([]map[string]string, 0, len(r.Recipients))
		for _, rc := range r.Recipients {
			e := map[string]string{"destination": rc.Destination}
			for k, t := range map[string]time.Time{"notified_at": rc.NotifiedAt, "acknowledged_at": rc.AcknowledgedAt, "failed_at": rc.FailedAt} {
				if !t.IsZero() {
					e[k] = t.Format(time.RFC3339)
				}
			}
			recipients = append(recipients, e)
		}
		out["recipients"] = recipients
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

// find returns the subject a request names by exactly one of phone and
// userID (400 invalid_phone or invalid_request otherwise). A person
// nothing is stored about gets the key a first write would create, so
// that an erasure still suppresses them and an export answers empty lists.
func (h *Handler) find(ctx context.Context, phoneNumber, userID string) (subject.Subject, error) {
	who, err := subject.Parse(phoneNumber, userID)
	switch {
	case errors.Is(err, subject.ErrInvalidPhone):
		return subject.Subject{}, errInvalidPhone
	case err != nil:
		return subject.Subject{}, errInvalidRequest
	}
	return h.Subjects.Find(ctx, who)
}
