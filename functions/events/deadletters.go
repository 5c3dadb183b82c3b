package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	wgevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/store"
)

var (
	errNoDeadLetter     = &httpapi.Problem{Status: http.StatusNotFound, Code: "not_found", Message: "no such dead letter"}
	errBadDeadLetterReq = &httpapi.Problem{Status: http.StatusBadRequest, Code: "invalid_request", Message: "the request is not valid"}
)

// deadLetter is one undelivered event for one destination, as listed.
type deadLetter struct {
	// ID is "<event id>.<destination>", the redrive route's {id}.
	ID          string    `json:"id"`
	EventID     string    `json:"event_id"`
	Destination string    `json:"destination"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	FailedAt    time.Time `json:"failed_at"`
}

// listDeadLetters answers GET /v1/dead-letters (scope events:manage): a
// page of dead letters and the cursor of the next. Ids and error
// summaries only.
func (h *Handler) listDeadLetters(ctx context.Context, req events.APIGatewayV2HTTPRequest, _ apiauth.Principal, _ []byte) (httpapi.Response, error) {
	page := store.PageKey(req.QueryStringParameters["cursor"])
	dead, next, err := h.Store.DeadLetters(ctx, page)
	if err != nil {
		if page != "" {
			return httpapi.Response{}, errBadDeadLetterReq
		}
		return httpapi.Response{}, err
	}
	out := struct {
		DeadLetters []deadLetter `json:"dead_letters"`
		NextCursor  string       `json:"next_cursor,omitempty"`
	}{DeadLetters: []deadLetter{}, NextCursor: string(next)}
	for _, d := range dead {
		if d.State != store.DeliveryDead {
			continue
		}
		id, err := wgevents.IDFromAudit(d.AuditID)
		if err != nil {
			continue
		}
		out.DeadLetters = append(out.DeadLetters, deadLetter{ID: id + "." + d.Destination, EventID: id, Destination: d.Destination,
			Attempts: d.Attempts, LastError: d.LastError, FailedAt: d.UpdatedAt})
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

// redrive answers POST /v1/dead-letters/{id}/redrive (scope
// events:manage): the delivery is attempted now and, if that fails, put
// back on the retry schedule from its start. 200 with its new state.
func (h *Handler) redrive(ctx context.Context, req events.APIGatewayV2HTTPRequest, _ apiauth.Principal, _ []byte) (httpapi.Response, error) {
	eventID, dest, ok := strings.Cut(req.PathParameters["id"], ".")
	auditID, found := strings.CutPrefix(eventID, "evt_")
	if !ok || !found || dest == "" {
		return httpapi.Response{}, errNoDeadLetter
	}
	auditID = "ev_" + auditID
	d, err := h.Store.GetDelivery(ctx, auditID, dest)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.State != store.DeliveryDead) {
		return httpapi.Response{}, errNoDeadLetter
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	d.State, d.Attempts, d.NextAt = store.DeliveryPending, 0, h.now()
	if err := h.Store.SaveDelivery(ctx, d); err != nil {
		return httpapi.Response{}, err
	}
	state, err := h.retryOne(ctx, h.newRun(), d)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, map[string]string{"id": req.PathParameters["id"], "state": state}), nil
}
