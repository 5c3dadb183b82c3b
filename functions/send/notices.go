package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/notice"
	"github.com/waguard/waguard/shared/store"
)

// noticeReadTimeout bounds the read of a notice, below the invocation's deadline.
const noticeReadTimeout = 3 * time.Second

var errNoNotice = &httpapi.Problem{Status: 404, Code: "not_found", Message: "no notice has this id"}

// noticeView is the answer of GET /v1/notices/{id}.
type noticeView struct {
	SHA256     string    `json:"sha256"`
	Text       string    `json:"text"`
	RecordedAt time.Time `json:"recorded_at"`
}

// getNotice answers GET /v1/notices/{id}: the registered notice whose id
// (its SHA-256 in lowercase hex) a ledger entry names. A notice is the
// business's own text, not a person's data, so reading it is not a
// disclosure to audit.
func (h *Handler) getNotice(ctx context.Context, req events.APIGatewayV2HTTPRequest, _ apiauth.Principal, _ []byte) (httpapi.Response, error) {
	id := req.PathParameters["id"]
	if !notice.ValidID(id) {
		return httpapi.Response{}, errInvalidRequest
	}
	ctx, cancel := context.WithTimeout(ctx, noticeReadTimeout)
	defer cancel()
	n, err := h.Store.Notice(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.Response{}, errNoNotice
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, noticeView{SHA256: n.SHA256, Text: n.Text, RecordedAt: n.RecordedAt}), nil
}
