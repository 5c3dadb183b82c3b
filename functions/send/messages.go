package main

import (
	"context"
	crand "crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/idempotency"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/ratelimit"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
)

var (
	errSuppressed       = &httpapi.Problem{Status: 403, Code: "recipient_suppressed", Message: "the recipient must not be messaged"}
	errConsentRequired  = &httpapi.Problem{Status: 403, Code: "consent_required", Message: "there is no live consent for this purpose"}
	errTemplateRequired = &httpapi.Problem{Status: 422, Code: "template_required", Message: "free-form text needs an open customer service window; send a template"}
	errConflict         = &httpapi.Problem{Status: 409, Code: "idempotency_conflict", Message: "the idempotency key was used with a different request"}
	errInProgress       = &httpapi.Problem{Status: 409, Code: "request_in_progress", Message: "a request with this idempotency key is still in progress"}
)

// postMessage sends one message after every check, in the documented
// order: validation, suppression, consent, service window, rate limits,
// provider. With an Idempotency-Key the whole decision runs once.
func (h *Handler) postMessage(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, body []byte) (httpapi.Response, error) {
	r, n, canonical, err := parseMessage(body)
	if err != nil {
		return httpapi.Response{}, err
	}
	key, ok := req.Headers["idempotency-key"]
	if !ok {
		return h.send(ctx, req, p, r, n)
	}
	if !idempotency.ValidKey(key) {
		return httpapi.Response{}, errInvalidRequest
	}
	resp, replayed, err := h.Idempotency.Do(ctx, p.ClientID, key, canonical, func(ctx context.Context) (idempotency.Response, error) {
		out, err := h.send(ctx, req, p, r, n)
		var ae *httpapi.Problem
		switch {
		case errors.As(err, &ae) && ae.Transient:
			// Nothing was sent (Meta refused or throttled): free the key so
			// the client retries with it.
			return idempotency.Response{}, idempotency.Retryable(err)
		case errors.As(err, &ae):
			out = httpapi.ErrorResponse(err) // a decided refusal is replayed like a success
		case err != nil:
			return idempotency.Response{}, idempotency.Retryable(err)
		}
		return storable(out), nil
	})
	switch {
	case errors.Is(err, idempotency.ErrConflict):
		return httpapi.Response{}, errConflict
	case errors.Is(err, idempotency.ErrInProgress):
		return httpapi.Response{}, errInProgress
	case err != nil && !errors.Is(err, idempotency.ErrNotRecorded):
		return httpapi.Response{}, err // a released transient refusal keeps its own answer
	}
	return h.answer(ctx, n, resp, replayed)
}

// sent is the 202 body. Only the ids are stored with an idempotency key:
// the provider message id embeds the recipient's number, so a replay reads
// it back from the (encrypted) message.
type sent struct {
	ID                string `json:"id"`
	Status            string `json:"status"`
	ProviderMessageID string `json:"provider_message_id,omitempty"`
}

func storable(r httpapi.Response) idempotency.Response {
	if r.StatusCode == http.StatusAccepted {
		var s sent
		_ = json.Unmarshal([]byte(r.Body), &s)
		s.ProviderMessageID = ""
		b, _ := json.Marshal(s)
		r.Body = string(b)
	}
	return idempotency.Response{Status: r.StatusCode, Body: []byte(r.Body), Headers: r.Headers}
}

// answer turns a stored or fresh outcome into the response, restoring the
// provider message id of an accepted message.
func (h *Handler) answer(ctx context.Context, n phone.Number, r idempotency.Response, replayed bool) (httpapi.Response, error) {
	resp := httpapi.Response{StatusCode: r.Status, Headers: r.Headers, Body: string(r.Body)}
	if r.Status != http.StatusAccepted {
		return resp, nil
	}
	var s sent
	if err := json.Unmarshal(r.Body, &s); err != nil {
		return resp, err
	}
	subject, err := h.Keys.Index(n)
	if err != nil {
		return resp, err
	}
	c, err := h.Store.OutboundContent(ctx, subject, s.ID)
	if err != nil {
		return resp, err
	}
	s.ProviderMessageID = c.ProviderID
	out := httpapi.JSON(http.StatusAccepted, s)
	if replayed {
		out.Headers["Idempotent-Replayed"] = "true"
	}
	return out, nil
}

// send runs the checks and the provider call for one message.
func (h *Handler) send(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, r messageRequest, n phone.Number) (httpapi.Response, error) {
	subject, err := h.Keys.Index(n)
	if err != nil {
		return httpapi.Response{}, err
	}
	pseudonym, err := h.Keys.Pseudonym(n)
	if err != nil {
		return httpapi.Response{}, err
	}
	ev := audit.Event{Subject: pseudonym, Actor: audit.Actor{Caller: p.ClientID}, RequestID: req.RequestContext.RequestID}
	if err := h.admissible(ctx, subject, r); err != nil {
		var ae *httpapi.Problem
		if errors.As(err, &ae) && (ae == errSuppressed || ae == errConsentRequired) {
			h.Metrics.Add(metrics.SendRefused, 1)
			ev.Type, ev.Details = audit.EventMessageSent, map[string]string{"outcome": "refused", "reason": ae.Code, "purpose": r.Purpose}
			if _, aerr := h.Audit.Append(ctx, ev); aerr != nil {
				return httpapi.Response{}, aerr
			}
		}
		return httpapi.Response{}, err
	}
	// Encryption must be possible before the provider call: a message sent
	// but not stored (and audited) is what fail-closed forbids.
	if err := h.Store.Ready(ctx, subject); err != nil {
		return httpapi.Response{}, err
	}
	if err := h.limit(ctx, ev, subject, r.Purpose); err != nil {
		return httpapi.Response{}, err
	}
	res, err := h.deliver(ctx, r, n)
	if err != nil {
		return httpapi.Response{}, h.providerError(ctx, ev, subject, r, err)
	}
	id, err := newID("msg_")
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := h.record(ctx, ev, subject, id, r, n, res, p.ClientID); err != nil {
		return httpapi.Response{}, err
	}
	h.Metrics.Add(metrics.MessagesSent, 1)
	return httpapi.JSON(http.StatusAccepted, sent{ID: id, Status: "sent", ProviderMessageID: res.ProviderID}), nil
}

// admissible checks suppression, consent and the service window.
func (h *Handler) admissible(ctx context.Context, subject string, r messageRequest) error {
	prof, err := h.Store.Profile(ctx, subject)
	if err != nil {
		return err
	}
	if _, stopped := prof.Suppressed[r.Purpose]; prof.Erased || stopped {
		return errSuppressed
	}
	inWindow := !prof.LastInbound.IsZero() && h.now().Sub(prof.LastInbound) < h.Config.Window
	if !prof.Consented(r.Purpose) && !(r.Purpose == "support" && inWindow) {
		return errConsentRequired
	}
	if r.Text != nil && !inWindow {
		return errTemplateRequired
	}
	return nil
}

// limit applies the per-recipient and the global limit together; a
// refusal is audited once per key and window.
func (h *Handler) limit(ctx context.Context, ev audit.Event, subject, purpose string) error {
	d, err := h.Limits.AllowAll(ctx,
		ratelimit.Check{Key: "to-" + purpose + "-" + subject, Limit: h.Config.recipientLimit(purpose)},
		ratelimit.Check{Key: "from-" + h.Config.PhoneNumberID, Limit: h.Config.Global})
	if err != nil {
		return err
	}
	if d.Allowed {
		return nil
	}
	h.Metrics.Add(metrics.RateLimited, 1)
	first, err := h.Limits.FirstRefusals(ctx, d)
	if err != nil {
		return err
	}
	if len(first) > 0 {
		ev.Type, ev.Details = audit.EventRateLimitExceeded, map[string]string{"purpose": purpose, "limit": limitName(first[0].Key)}
		if _, err := h.Audit.Append(ctx, ev); err != nil {
			return err
		}
	}
	return &httpapi.Problem{Status: 429, Code: "rate_limited", Message: "the rate limit for this recipient or sender is reached",
		RetryAfter: int((d.RetryAfter + time.Second - 1) / time.Second)}
}

func limitName(key string) string {
	if len(key) > 5 && key[:5] == "from-" {
		return "global"
	}
	return "recipient"
}

// record stores the sent message encrypted, with its audit events, in one
// transaction.
func (h *Handler) record(ctx context.Context, ev audit.Event, subject, id string, r messageRequest, n phone.Number, res provider.Result, client string) error {
	ev.Type, ev.Details = audit.EventMessageSent, map[string]string{"message": id, "purpose": r.Purpose}
	evs := []audit.Event{ev}
	if res.UsedFallback {
		fb := ev
		fb.Subject, fb.Type, fb.Details = "", audit.EventAPIKeyFallbackUsed, map[string]string{"secret": "provider-credentials"}
		evs = append(evs, fb)
	}
	pending, err := h.Audit.Prepare(ctx, evs[0], evs[1:]...)
	if err != nil {
		return err
	}
	err = h.Store.PutOutbound(ctx, store.Outbound{Subject: subject, ID: id, Lookup: h.Keys.Lookup("wamid", res.ProviderID),
		Phone: n.E164(), ProviderID: res.ProviderID, Body: r.content(), Purpose: retention.Class(r.Purpose), Status: "sent",
		ClientID: client, At: h.now()}, pending.TransactItems()...)
	pending.Commit(err)
	return err
}

// deliver calls the provider, retrying throttling and server errors with
// jittered exponential backoff while the deadline allows.
func (h *Handler) deliver(ctx context.Context, r messageRequest, n phone.Number) (provider.Result, error) {
	wait := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		var res provider.Result
		var err error
		if r.Text != nil {
			res, err = h.Provider.SendText(ctx, n, *r.Text)
		} else {
			res, err = h.Provider.SendTemplate(ctx, n, r.template())
		}
		if err == nil || !retryable(err) || attempt == 3 {
			return res, err
		}
		sleep := time.Duration(rand.Int64N(int64(wait))) + wait/2
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < sleep+2*time.Second {
			return res, err // keep a reserve to answer and audit
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(sleep):
		}
		wait *= 2
	}
}

// retryable reports provider errors worth another attempt: throttling
// and server errors (never 4xx client errors).
func retryable(err error) bool {
	var api *whatsapp.APIError
	return errors.As(err, &api) && (api.Throttled() || api.Retryable())
}

// providerError maps a provider failure to waguard's error; 131050 (the
// user stopped marketing messages) revokes marketing consent and suppresses
// the purpose first.
func (h *Handler) providerError(ctx context.Context, ev audit.Event, subject string, r messageRequest, err error) error {
	if errors.Is(err, provider.ErrCredentials) {
		return err // Secrets Manager: dependency_unavailable
	}
	var api *whatsapp.APIError
	if !errors.As(err, &api) {
		// Unreachable or timed out: the message may have been accepted, so
		// the idempotency key is not freed (no risk of a second send).
		return &httpapi.Problem{Status: 502, Code: "provider_error", Message: "the provider could not be reached"}
	}
	switch api.Code {
	case 131047:
		return errTemplateRequired
	case 131050:
		if err := h.stopMarketing(ctx, ev, subject); err != nil {
			return err
		}
		return errSuppressed
	case 131026:
		return &httpapi.Problem{Status: 422, Code: "undeliverable", Message: "the message cannot be delivered to this recipient"}
	case 131049:
		return &httpapi.Problem{Status: 422, Code: "not_delivered", Message: "the provider did not deliver the message (per-user marketing limit)"}
	case 130429, 131056:
		return &httpapi.Problem{Status: 429, Code: "upstream_rate_limited", Message: "the provider is rate limiting; retry later", RetryAfter: 60, Transient: true}
	}
	return &httpapi.Problem{Status: 502, Code: "provider_error", Message: "the provider refused the message (code " + strconv.Itoa(api.Code) + ")",
		Transient: api.Retryable()}
}

// stopMarketing records Meta's 131050 as a marketing revocation with a
// suppression, audited.
func (h *Handler) stopMarketing(ctx context.Context, ev audit.Event, subject string) error {
	id, err := newID("cev_")
	if err != nil {
		return err
	}
	ev.Type, ev.Details = audit.EventConsentRevoked, map[string]string{"purpose": "marketing", "method": "provider_131050", "consent_event": id}
	pending, err := h.Audit.Prepare(ctx, ev)
	if err != nil {
		return err
	}
	err = h.Store.RecordConsent(ctx, subject, store.ConsentEvent{ID: id, Purpose: "marketing", Action: store.ActionRevoke,
		Method: "provider_131050", PolicyVersion: "provider", Actor: "send", At: h.now()}, store.SuppressionAdd, "meta_131050",
		pending.TransactItems()...)
	pending.Commit(err)
	if errors.Is(err, store.ErrErased) {
		return nil
	}
	return err
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID(prefix string) (string, error) {
	b := make([]byte, 15)
	if _, err := crand.Read(b); err != nil {
		return "", err
	}
	return prefix + idEncoding.EncodeToString(b), nil
}
