package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/admit"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/idempotency"
	"github.com/waguard/waguard/shared/ids"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/outbound"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/ratelimit"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
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
	r, n, canonical, err := parseMessage(body) // n: the recipient
	if err != nil {
		return httpapi.Response{}, err
	}
	key, ok := req.Headers["idempotency-key"]
	if !ok {
		return h.send(ctx, req, p, r, n, nil)
	}
	if !idempotency.ValidKey(key) {
		return httpapi.Response{}, errInvalidRequest
	}
	lease, prior, err := h.Idempotency.Claim(ctx, p.ClientID, key, canonical)
	switch {
	case errors.Is(err, idempotency.ErrConflict):
		return httpapi.Response{}, errConflict
	case errors.Is(err, idempotency.ErrInProgress):
		return httpapi.Response{}, errInProgress
	case err != nil:
		return httpapi.Response{}, err
	case prior != nil:
		return h.replay(ctx, n, *prior)
	}
	out, err := h.send(ctx, req, p, r, n, lease)
	var ae *httpapi.Problem
	switch {
	case err == nil:
		return out, nil // send completed the lease with the message's record
	case errors.As(err, &ae) && !ae.Transient:
		// A decided refusal is replayed like a success.
		out = httpapi.ErrorResponse(err)
		if cerr := lease.Complete(ctx, storable(out)); cerr != nil {
			h.Log.WarnContext(ctx, "idempotency record not completed", "err", cerr)
		}
		return out, nil
	}
	// Nothing was sent (a transient provider refusal, or a failure before
	// the provider call): free the key so the client retries with it.
	if rerr := lease.Release(ctx); rerr != nil {
		h.Log.WarnContext(ctx, "idempotency record not released", "err", rerr)
	}
	return httpapi.Response{}, err
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

// replay answers with a stored outcome, restoring the provider message
// id of an accepted message from the (encrypted) message: absent when the
// message was erased or has passed its retention since.
func (h *Handler) replay(ctx context.Context, n recipient, r idempotency.Response) (httpapi.Response, error) {
	resp := stored(r)
	if r.Status != http.StatusAccepted {
		return resp, nil
	}
	var s sent
	if err := json.Unmarshal(r.Body, &s); err != nil {
		return resp, err
	}
	sub, err := h.Subjects.Find(ctx, n.who)
	if err != nil {
		return resp, err
	}
	c, err := h.Store.OutboundContent(ctx, sub.Key, s.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Erased, or past its retention: the ids alone.
	case err != nil:
		return resp, err
	default:
		s.ProviderMessageID = c.ProviderID
	}
	out := httpapi.JSON(http.StatusAccepted, s)
	out.Headers["Idempotent-Replayed"] = "true"
	return out, nil
}

// stored is a stored outcome as the API answers it: the headers of every
// JSON answer (an outcome stored at the point of no return keeps none,
// [idempotency.Lease.Irreversible]), then the stored ones (Retry-After).
func stored(r idempotency.Response) httpapi.Response {
	resp := httpapi.Error(r.Status, "", "") // a fresh map of the JSON headers
	resp.Body = string(r.Body)
	maps.Copy(resp.Headers, r.Headers)
	return resp
}

// send runs the checks, then the outbound protocol (shared/outbound):
// the message and its message_sent event are recorded before the
// provider call (status sending), so that a message can never go out
// without its record and audit event; the provider's answer then confirms
// it (status sent, provider id) or withdraws it (nothing was sent). With a
// lease, the intent marks the key's point of no return and the
// confirmation completes it.
func (h *Handler) send(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, r messageRequest, n recipient, lease keyLease) (httpapi.Response, error) {
	sub, err := h.Subjects.Find(ctx, n.who)
	if err != nil {
		return httpapi.Response{}, err
	}
	subject := sub.Key
	ev := audit.Event{Subject: sub.Pseudonym, Actor: audit.Actor{Caller: p.ClientID}, RequestID: req.RequestContext.RequestID}
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
	// A failing KMS refuses here, before a rate-limit slot is taken.
	if err := h.Store.Ready(ctx, subject); err != nil {
		return httpapi.Response{}, err
	}
	if err := h.limit(ctx, ev, subject, r.Purpose); err != nil {
		return httpapi.Response{}, err
	}
	id := outbound.NewID()
	m := &outbound.Message{Record: store.Outbound{Subject: subject, ID: id, Phone: n.who.Phone.E164(), UserID: n.who.User.Reveal(),
		Purpose: retention.Class(r.Purpose), ClientID: p.ClientID, At: h.now()}, To: n.to, Text: r.Text, Audit: ev}
	if r.Template != nil {
		t := r.template()
		m.Template = &t
	}
	var mark []types.TransactWriteItem
	if lease != nil {
		m.Record.IdempotencyRef = lease.Ref() // lets Meta's status webhook complete the key
		item, err := lease.Irreversible(storable(httpapi.ErrorResponse(errOutcomeUnknown)))
		if err != nil {
			return httpapi.Response{}, err
		}
		mark = append(mark, item)
	}
	// Fail closed: the message is stored encrypted and audited, and the
	// key marked past its point of no return, before it can go out.
	if err := h.Outbound.Intend(ctx, m, mark...); errors.Is(err, store.ErrErased) {
		return httpapi.Response{}, errSuppressed // erased since the check above: nothing is sent
	} else if err != nil {
		return httpapi.Response{}, err
	}
	res, err := h.Outbound.Call(ctx, m)
	if err != nil {
		perr := h.providerError(ctx, ev, subject, err)
		if _, werr := h.Outbound.Withdraw(ctx, m, err); werr != nil {
			return httpapi.Response{}, werr // a dependency failure: the key is freed, nothing was sent
		}
		return httpapi.Response{}, perr
	}
	out := httpapi.JSON(http.StatusAccepted, sent{ID: id, Status: "sent", ProviderMessageID: res.ProviderID})
	h.confirm(ctx, m, res, lease, storable(out))
	h.Metrics.Add(metrics.MessagesSent, 1)
	return out, nil
}

// confirm records the provider's acceptance and completes the lease, in
// one transaction. The message has gone out whatever happens here: when
// DynamoDB fails, the write is queued for a later invocation of this
// instance ([repairs]) and the client still gets its 202.
func (h *Handler) confirm(ctx context.Context, m *outbound.Message, res provider.Result, lease keyLease, resp idempotency.Response) {
	var extra []types.TransactWriteItem
	if lease != nil {
		done, err := lease.CompleteWrite(resp)
		if err != nil {
			h.Log.ErrorContext(ctx, "sent message not confirmed", "err", err)
			return
		}
		extra = append(extra, done)
	}
	c, err := h.Outbound.PrepareConfirm(ctx, m, res, extra...)
	if err != nil {
		h.Log.ErrorContext(ctx, "sent message not confirmed", "err", err)
		return
	}
	commit := func(ctx context.Context) error {
		err := c.Commit(ctx)
		if errors.Is(err, store.ErrNotFound) {
			// No longer sending: erased meanwhile (nothing of the message
			// is kept, and the key still replays its 202), or already
			// confirmed by Meta's status webhook (which completed the key).
			if lease != nil {
				if cerr := lease.Complete(ctx, resp); cerr != nil {
					h.Log.InfoContext(ctx, "idempotency record already settled", "err", cerr)
				}
			}
			return nil
		}
		return err
	}
	if err := commit(ctx); err != nil {
		// The client still gets its 202; DependencyFailures (graphed on the
		// dashboard) and this line are what show the failure.
		h.Metrics.Add(metrics.DependencyFailures, 1)
		h.Log.ErrorContext(ctx, "sent message not confirmed; queued for the next invocation", "err", err)
		h.repairs.add(commit)
	}
}

// refusals maps shared/admit's verdicts to the API's answers.
var refusals = map[admit.Verdict]error{
	admit.Suppressed:       errSuppressed,
	admit.ConsentRequired:  errConsentRequired,
	admit.TemplateRequired: errTemplateRequired,
}

// admissible reads the recipient's state and asks shared/admit whether
// the message may be sent: suppression, consent, the service window and
// the template rule.
func (h *Handler) admissible(ctx context.Context, subject string, r messageRequest) error {
	prof, err := h.Store.Profile(ctx, subject)
	if err != nil {
		return err
	}
	_, suppressed := prof.Suppressed[r.Purpose]
	v := admit.Check(admit.Recipient{Erased: prof.Erased, Suppressed: suppressed, Consent: prof.State(r.Purpose), LastInbound: prof.LastInbound},
		admit.Message{Purpose: r.Purpose, FreeForm: r.Text != nil}, h.now())
	if v == admit.Admitted {
		return nil
	}
	if err, ok := refusals[v]; ok {
		return err
	}
	return fmt.Errorf("admit: unexpected verdict %v", v) // fail closed
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

// providerError answers a failed provider call ([providerAnswer]);
// Meta's 131050 (the user stopped marketing messages) first revokes
// marketing consent and suppresses the purpose.
func (h *Handler) providerError(ctx context.Context, ev audit.Event, subject string, err error) error {
	answer, stop := providerAnswer(err)
	if stop {
		if err := h.stopMarketing(ctx, ev, subject); err != nil {
			return err
		}
	}
	return answer
}

// stopMarketing records Meta's 131050 as a marketing revocation, audited,
// with the suppression shared/consent decides on the reason held now (a
// person's own STOP stays the reason; WhatsApp's setting is lifted by its
// resume).
func (h *Handler) stopMarketing(ctx context.Context, ev audit.Event, subject string) error {
	id := ids.New("cev_")
	for attempt := 0; ; attempt++ {
		prof, err := h.Store.Profile(ctx, subject)
		if err != nil {
			return err
		}
		c := consent.Decide(consent.Provider131050, prof.Suppressed["marketing"])
		entry := store.Entry(id, c)
		err = h.Store.RecordChange(ctx, subject, store.ConsentEvent{ID: id, Actor: "send", At: h.now()}, c,
			store.Unit{Audit: []audit.Event{store.ConsentAudit(entry, ev.Subject, ev.Actor, ev.RequestID)},
				Events: []store.EventRecord{store.ConsentRecord(subject, entry, h.now())}})
		switch {
		case errors.Is(err, store.ErrSuppressionChanged) && attempt == 0:
			continue
		case errors.Is(err, store.ErrErased):
			return nil
		}
		return err
	}
}
