package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/signature"
	"github.com/waguard/waguard/shared/whatsapp"
)

// postSigned receives the timestamped HMAC scheme (the seed's
// X-Webhook-* headers or Standard Webhooks' webhook-* headers) with
// either Meta's envelope or the normalised single-message object.
// Replays inside the window are acknowledged as duplicates.
func (h *Handler) postSigned(ctx context.Context, req events.APIGatewayV2HTTPRequest, out *outcome) (httpapi.Response, error) {
	body, ok := h.rawBody(req)
	if !ok {
		return errTooLarge(), nil
	}
	keys, err := h.secretKeys(ctx, h.Config.SignedSecretID)
	if err != nil {
		return errUnavailable(), err
	}
	hdr := signature.HeadersFrom(func(name string) string { return req.Headers[name] })
	res, err := signature.VerifySigned(hdr, body, h.now(), h.Config.Tolerance, keys...)
	if errors.Is(err, signature.ErrBadSignature) && h.Secrets.Refresh(h.Config.SignedSecretID) {
		if keys, err = h.secretKeys(ctx, h.Config.SignedSecretID); err != nil {
			return errUnavailable(), err
		}
		res, err = signature.VerifySigned(hdr, body, h.now(), h.Config.Tolerance, keys...)
	}
	switch {
	case errors.Is(err, signature.ErrStaleTimestamp):
		return h.rejected(ctx, req, errStale(), "stale_timestamp")
	case err != nil:
		return h.rejected(ctx, req, errBadSignature(), "invalid_signature")
	}
	evs, err := whatsapp.ParseAny(body)
	if err != nil {
		return errMalformed(), nil
	}
	replay := h.Keys.Lookup("replay", res.ReplayKey)
	seen, err := h.Store.Seen(ctx, "signed", replay)
	if err != nil {
		return errUnavailable(), err
	}
	if seen {
		out.Duplicates = len(evs)
		return httpapi.JSON(http.StatusOK, out), nil
	}
	if err := h.process(ctx, req, "signed", evs, out); err != nil {
		return errUnavailable(), err
	}
	// Remembered after processing: a delivery that failed halfway must be
	// retried, and every event is idempotent on its own id anyway.
	if err := h.Store.Remember(ctx, "signed", replay, h.now().Add(2*h.Config.Tolerance)); err != nil {
		return errUnavailable(), err
	}
	return httpapi.JSON(http.StatusOK, out), nil
}
