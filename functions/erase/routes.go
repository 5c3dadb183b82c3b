package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/ids"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// postErasure opens (or finds) the subject's erasure request and
// processes it as far as this invocation allows; the schedule resumes the
// rest. It answers 202 with the request's state.
func (h *Handler) postErasure(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, body []byte) (httpapi.Response, error) {
	var in struct {
		Phone  string `json:"phone,omitempty"`
		UserID string `json:"user_id,omitempty"`
		Reason string `json:"reason"`
	}
	if httpapi.Decode(body, &in) != nil || !validReason(in.Reason) {
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
	// A failed step leaves the request to the schedule; the answer is the
	// request as opened, never the zero value a failed read returns.
	if cur, err := h.process(ctx, r.ID); err != nil {
		h.Log.WarnContext(ctx, "erasure continues on the schedule", "erasure_request", r.ID, "err", err)
	} else {
		r = cur
	}
	return httpapi.JSON(http.StatusAccepted, acceptedBody(r)), nil
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
	if awaitingNotices(r) { // every endpoint may have settled since: the state as of now
		if done, err := h.Store.FinishErasure(ctx, id, h.now()); err != nil {
			return httpapi.Response{}, err
		} else if done {
			if r, err = h.Store.ErasureRequest(ctx, id); err != nil {
				return httpapi.Response{}, err
			}
		}
	}
	return httpapi.JSON(http.StatusOK, statusBody(r)), nil
}

// find returns the subject a request names by exactly one of phone and
// userID (400 invalid_phone or invalid_request otherwise). A person
// nothing is stored about gets the key a first write would create, so
// that an erasure still suppresses them and an export answers empty lists.
func (h *Handler) find(ctx context.Context, phoneNumber, userID string) (subject.Subject, error) {
	who, err := parseWho(phoneNumber, userID)
	if err != nil {
		return subject.Subject{}, err
	}
	return h.Subjects.Find(ctx, who)
}
