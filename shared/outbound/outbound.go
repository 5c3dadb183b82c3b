// Package outbound is the one way waguard sends a WhatsApp message, for
// every sender: the send API, keyword replies and erasure confirmations.
//
// The protocol never lets a message out without its record, and never
// sends one twice on an unknown outcome:
//
//  1. Intend: the message is stored encrypted with status sending, with
//     its message_sent audit event (outcome submitted), in one
//     transaction, before the provider can see it.
//  2. Call: the provider gets the message, with waguard's message id as
//     callback data. Only answers that prove the provider did not accept
//     it are retried.
//  3. Then one of:
//     - Confirm: the provider accepted it (status sent, provider id).
//     - Withdraw: the provider's answer proves nothing was sent; the
//     record is deleted with a message_status event (failed).
//     - nothing, when the outcome is unknown (no answer, or one that
//     proves nothing, such as a gateway's 502): the record stays sending
//     until Meta's status for it arrives and [Sender.ConfirmLost]
//     completes it, or retention removes it.
//
// Each step's writes, audit events and any caller's items (an
// idempotency key's mark) commit in one transaction through a
// [store.Unit]; callers map the outcome to their own answers only.
package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/deadline"
	"github.com/waguard/waguard/shared/ids"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
)

// Store is what the protocol needs of the data table ([store.Store]).
type Store interface {
	PutOutbound(ctx context.Context, m store.Outbound, u store.Unit) error
	PrepareConfirm(ctx context.Context, m store.Outbound) (store.Confirmation, error)
	Confirm(ctx context.Context, c store.Confirmation, u store.Unit) error
	WithdrawOutbound(ctx context.Context, subject, id string, u store.Unit) error
	SendingOutbound(ctx context.Context, subject, id string) (store.Outbound, error)
}

// Provider sends messages ([provider.Sender]).
type Provider interface {
	SendText(ctx context.Context, r provider.Recipient, text string, opts ...whatsapp.SendOption) (provider.Result, error)
	SendTemplate(ctx context.Context, r provider.Recipient, t whatsapp.Template, opts ...whatsapp.SendOption) (provider.Result, error)
}

// Sender runs the protocol. Build it once per cold start; it is safe for
// concurrent use.
type Sender struct {
	Store Store
	// Provider sends; nil for a function that only confirms lost answers.
	Provider Provider
	// Lookup is the keyed hash of a provider message id
	// (blindindex.Keys.Lookup("wamid", id)): wamids are personal data.
	Lookup func(providerMessageID string) string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Retries bounds the provider calls after a retryable refusal
	// (default 3).
	Retries int
}

// Message is one message to send.
type Message struct {
	// Record is the message as stored: Subject (the blind index), ID
	// (from [NewID]), Phone or UserID, Purpose, ClientID and, with an
	// idempotency key, IdempotencyRef. Intend sets Body, Type, Status and
	// At (when zero); Confirm sets ProviderID and Lookup.
	Record store.Outbound
	// To is where it goes.
	To provider.Recipient
	// Text or Template is what is sent.
	Text     *string
	Template *whatsapp.Template
	// Audit says who sends it and why: Subject (the audit pseudonym),
	// Actor and RequestID; Details are added to each event's own.
	Audit audit.Event
}

// Errors of the protocol.
var (
	// ErrNoContent: a message with neither text nor template.
	ErrNoContent = errors.New("outbound: a message needs a text or a template")
	// ErrNoProvider: the sender has no provider configured.
	ErrNoProvider = errors.New("outbound: no provider configured")
	// ErrNotRecorded wraps the store's error when [Sender.Send] could not
	// record the message: nothing was recorded and nothing sent.
	ErrNotRecorded = errors.New("outbound: not recorded, so not sent")
	// ErrNotConfirmed wraps the store's error when a message the provider
	// accepted could not be confirmed: it was sent, and stays recorded as
	// sending until Meta's status confirms it.
	ErrNotConfirmed = errors.New("outbound: sent, but the confirmation was not recorded")
)

// NewID returns a new message id: "msg_" and 24 characters of base32
// (shared/ids).
func NewID() string { return ids.New("msg_") }

// Intend records m as sending, with its message_sent audit event and
// extra (an idempotency key's point of no return), in one transaction.
// It returns [store.ErrErased] when the recipient was erased meanwhile:
// nothing may be sent then.
func (s *Sender) Intend(ctx context.Context, m *Message, extra ...types.TransactWriteItem) error {
	body, kind, err := m.content()
	if err != nil {
		return err
	}
	m.Record.Body, m.Record.Type, m.Record.Status = body, kind, store.StatusSending
	m.Record.ProviderID, m.Record.Lookup = "", ""
	if m.Record.At.IsZero() {
		m.Record.At = s.now()
	}
	ev := m.event(audit.EventMessageSent, map[string]string{"message": m.Record.ID, "purpose": string(m.Record.Purpose), "outcome": "submitted"})
	return s.Store.PutOutbound(ctx, m.Record, store.Unit{Audit: []audit.Event{ev}, Items: extra})
}

// Call sends m through the provider with its id as callback data (so
// Meta's statuses can confirm a message whose answer was lost). It
// retries, with jittered exponential backoff while the deadline allows,
// only answers that prove the provider did not accept the message and
// may later (whatsapp.OutcomeRefusedRetryable). An unknown outcome is
// never retried: the message may have gone out.
func (s *Sender) Call(ctx context.Context, m *Message) (provider.Result, error) {
	if s.Provider == nil {
		return provider.Result{}, ErrNoProvider
	}
	if m.Text == nil && m.Template == nil {
		return provider.Result{}, ErrNoContent
	}
	retries := s.Retries
	if retries == 0 {
		retries = 3
	}
	opts := []whatsapp.SendOption{whatsapp.WithCallbackData(m.Record.ID)}
	wait := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		var res provider.Result
		var err error
		if m.Text != nil {
			res, err = s.Provider.SendText(ctx, m.To, *m.Text, opts...)
		} else {
			res, err = s.Provider.SendTemplate(ctx, m.To, *m.Template, opts...)
		}
		if whatsapp.Classify(err) != whatsapp.OutcomeRefusedRetryable || attempt >= retries {
			return res, err
		}
		sleep := time.Duration(mrand.Int64N(int64(wait))) + wait/2
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < sleep+deadline.Provider.Reserve() {
			return res, err // keep the reserve to record the outcome and answer
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(sleep):
		}
		wait *= 2
	}
}

// Confirmation is a prepared confirmation of a sent message. It holds
// ciphertext, keyed hashes and pseudonyms only, so it may be kept and
// committed again after a failure.
type Confirmation struct {
	s     *Sender
	c     store.Confirmation
	audit []audit.Event
	items []types.TransactWriteItem
}

// PrepareConfirm seals m's confirmation after the provider accepted it
// with res (status sent, provider id; the fallback key's use audited),
// to commit with extra (an idempotency key's completion).
func (s *Sender) PrepareConfirm(ctx context.Context, m *Message, res provider.Result, extra ...types.TransactWriteItem) (*Confirmation, error) {
	m.Record.Status, m.Record.ProviderID, m.Record.Lookup = "sent", res.ProviderID, s.Lookup(res.ProviderID)
	c, err := s.Store.PrepareConfirm(ctx, m.Record)
	if err != nil {
		return nil, err
	}
	out := &Confirmation{s: s, c: c, items: extra}
	if res.UsedFallback {
		fb := m.event(audit.EventAPIKeyFallbackUsed, map[string]string{"secret": "provider-credentials"})
		fb.Subject = ""
		out.audit = []audit.Event{fb}
	}
	return out, nil
}

// Commit records the confirmation. [store.ErrNotFound] means the message
// is no longer sending: erased meanwhile, or already confirmed by Meta's
// status. When the extra items' condition fails (the idempotency key was
// settled otherwise: completed, or its record expired), the message is
// confirmed alone.
func (c *Confirmation) Commit(ctx context.Context) error {
	err := c.s.Store.Confirm(ctx, c.c, store.Unit{Audit: c.audit, Items: c.items})
	if len(c.items) > 0 && errors.Is(err, store.ErrItemCondition) {
		err = c.s.Store.Confirm(ctx, c.c, store.Unit{Audit: c.audit})
	}
	return err
}

// Withdraw settles a failed call: when callErr proves the provider sent
// nothing (whatsapp.Classify, or missing credentials), the record is
// deleted with a message_status audit event (failed, with Meta's code or
// the reason) and Withdraw reports true. When the outcome is unknown it
// writes nothing and reports false: the record stays sending.
func (s *Sender) Withdraw(ctx context.Context, m *Message, callErr error) (bool, error) {
	details := map[string]string{"message": m.Record.ID, "status": "failed"}
	var api *whatsapp.APIError
	switch {
	case errors.Is(callErr, provider.ErrCredentials) || errors.Is(callErr, ErrNoProvider):
		details["reason"] = "credentials_unavailable"
	case !whatsapp.Classify(callErr).NotSent():
		return false, nil
	case errors.As(callErr, &api):
		details["error_code"] = strconv.Itoa(api.Code)
	case errors.Is(callErr, whatsapp.ErrNotSent):
		details["reason"] = "unreachable"
	default:
		details["reason"] = "invalid_message"
	}
	ev := m.event(audit.EventMessageStatus, details)
	if err := s.Store.WithdrawOutbound(ctx, m.Record.Subject, m.Record.ID, store.Unit{Audit: []audit.Event{ev}}); err != nil {
		return false, err
	}
	return true, nil
}

// Send runs the whole protocol for a sender without an idempotency key
// of its own (keyword replies, erasure confirmations): intent, call, then
// confirmation or withdrawal. It returns the call's error when the
// provider did not accept the message (withdrawn, or the outcome unknown:
// the record stays sending, and the message is never sent again by this
// protocol), and an error wrapping [ErrNotConfirmed] with the result when
// it was sent but its confirmation failed; one wrapping [ErrNotRecorded]
// when the intent could not be recorded (nothing was sent).
func (s *Sender) Send(ctx context.Context, m *Message) (provider.Result, error) {
	if s.Provider == nil {
		return provider.Result{}, ErrNoProvider
	}
	if err := s.Intend(ctx, m); err != nil {
		return provider.Result{}, fmt.Errorf("%w: %w", ErrNotRecorded, err)
	}
	res, err := s.Call(ctx, m)
	if err != nil {
		if _, werr := s.Withdraw(ctx, m, err); werr != nil {
			return res, errors.Join(err, werr)
		}
		return res, err
	}
	c, err := s.PrepareConfirm(ctx, m, res)
	if err == nil {
		err = c.Commit(ctx)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return res, fmt.Errorf("%w: %w", ErrNotConfirmed, err)
	}
	return res, nil
}

// ConfirmLost completes a message still recorded as sending when a
// provider status names it (its callback data is the message id): the
// sender never recorded the provider's answer. extra, if not nil, gives
// items to commit with it (the send's idempotency key's completion),
// which the message does not wait for ([Confirmation.Commit]). It returns
// [store.ErrNotFound] when no such message is sending.
func (s *Sender) ConfirmLost(ctx context.Context, subject, id, providerMessageID string, extra func(store.Outbound) []types.TransactWriteItem) error {
	rec, err := s.Store.SendingOutbound(ctx, subject, id)
	if err != nil {
		return err
	}
	m := &Message{Record: rec}
	var items []types.TransactWriteItem
	if extra != nil {
		items = extra(rec)
	}
	c, err := s.PrepareConfirm(ctx, m, provider.Result{ProviderID: providerMessageID}, items...)
	if err != nil {
		return err
	}
	return c.Commit(ctx)
}

// content returns what is stored of m (the text, or the template's
// request object as JSON) and its kind.
func (m *Message) content() ([]byte, string, error) {
	switch {
	case m.Text != nil:
		return []byte(*m.Text), store.OutboundText, nil
	case m.Template != nil:
		b, err := json.Marshal(struct {
			Name       string          `json:"name"`
			Language   string          `json:"language"`
			Components json.RawMessage `json:"components,omitempty"`
		}{m.Template.Name, m.Template.Language, m.Template.Components})
		return b, store.OutboundTemplate, err
	}
	return nil, "", ErrNoContent
}

// event is m's audit event of type t with details (m.Audit's added).
func (m *Message) event(t audit.EventType, details map[string]string) audit.Event {
	ev := m.Audit
	ev.Type = t
	d := make(map[string]string, len(details)+len(m.Audit.Details))
	for k, v := range m.Audit.Details {
		d[k] = v
	}
	for k, v := range details {
		d[k] = v
	}
	ev.Details = d
	return ev
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
