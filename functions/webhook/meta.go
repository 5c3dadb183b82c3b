package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/signature"
	"github.com/waguard/waguard/shared/whatsapp"
)

// Refusals of a delivery, each answer with its own Headers map.
func errBadSignature() httpapi.Response {
	return httpapi.Error(http.StatusUnauthorized, "invalid_signature", "the request signature is missing or invalid")
}

func errStale() httpapi.Response {
	return httpapi.Error(http.StatusUnauthorized, "stale_timestamp", "the request timestamp is outside the allowed window")
}

func errMalformed() httpapi.Response {
	return httpapi.Error(http.StatusBadRequest, "malformed_payload", "the payload is not a valid webhook event")
}

// postMeta receives Meta's signed event deliveries: size check, signature
// over the exact raw body (current, pending and, within the overlap,
// previous app secret), parse, then every event idempotently.
func (h *Handler) postMeta(ctx context.Context, req events.APIGatewayV2HTTPRequest, out *outcome) (httpapi.Response, error) {
	body, ok := h.rawBody(req)
	if !ok {
		return errTooLarge(), nil
	}
	keys, err := h.secretKeys(ctx, h.Config.MetaSecretID)
	if err != nil {
		return errUnavailable(), err
	}
	if err := signature.VerifyMeta(body, req.Headers[signature.HeaderMeta], keys...); err != nil {
		// A secret rotated in moments ago may not be cached yet: read once
		// more (Refresh allows it at most every few seconds per secret).
		if !h.Secrets.Refresh(h.Config.MetaSecretID) {
			return h.rejected(ctx, req, errBadSignature(), "invalid_signature")
		}
		if keys, err = h.secretKeys(ctx, h.Config.MetaSecretID); err != nil {
			return errUnavailable(), err
		}
		if signature.VerifyMeta(body, req.Headers[signature.HeaderMeta], keys...) != nil {
			return h.rejected(ctx, req, errBadSignature(), "invalid_signature")
		}
	}
	env, err := whatsapp.Parse(body)
	if err != nil {
		return errMalformed(), nil
	}
	if err := h.process(ctx, req, "meta", whatsapp.Events(env), out); err != nil {
		return errUnavailable(), err
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

// secretKeys returns the HMAC keys of every accepted version of a webhook
// secret. Any failure to read the current version fails closed.
func (h *Handler) secretKeys(ctx context.Context, id string) ([][]byte, error) {
	versions, err := h.Secrets.Accepted(ctx, id, h.Config.SecretOverlap)
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	for _, v := range versions {
		if k, err := signature.Key(string(v.Get("secret").Reveal())); err == nil {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("webhook secret has no usable value")
	}
	return keys, nil
}

// rejected answers a failed verification: it counts the failure for the
// source's flood control and writes one aggregated audit event per source
// and minute (on the first failure, and when the source crosses the flood
// limit), so an attacker cannot fill the audit table.
func (h *Handler) rejected(ctx context.Context, req events.APIGatewayV2HTTPRequest, resp httpapi.Response, reason string) (httpapi.Response, error) {
	h.Metrics.Add(metrics.SignatureFailures, 1)
	ip := req.RequestContext.HTTP.SourceIP
	n, err := h.Flood.RecordFailure(ctx, ip)
	if err != nil {
		return resp, err
	}
	if !h.Flood.Audited(n) {
		return resp, nil
	}
	_, err = h.Audit.Append(ctx, audit.Event{Type: audit.EventWebhookValidationFailed,
		Actor: audit.Actor{Caller: "internet"}, RequestID: req.RequestContext.RequestID,
		Details: map[string]string{"route": req.RouteKey, "reason": reason, "source": h.Flood.Source(ip),
			"failures_this_minute": strconv.Itoa(n)}})
	return resp, err
}
