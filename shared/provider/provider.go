// Package provider sends WhatsApp messages through the Meta Cloud API
// with the primary and fallback access tokens held in Secrets Manager:
// on 401 or 403 with the primary it retries once with the fallback and
// reports that it did (the caller audits api_key_fallback_used).
//
// [Config] is the one provider configuration, read once per cold start
// with [ConfigFromEnv]: Meta's Graph API with a bearer token, or a
// RapidAPI-style proxy with X-RapidAPI-Key and X-RapidAPI-Host. Every
// caller builds its clients with [Config.Client], so none authenticates
// differently.
//
// # Security properties
//
// Tokens are read through the secrets cache for each send (so a rotation
// applies within the cache TTL), live only inside whatsapp.Client values
// built per send, and never appear in errors or logs.
//
// # Non-goals
//
// Consent, suppression, rate limits and storage are the caller's: this
// package only talks to the provider.
package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/waguard/waguard/shared/bsuid"
	"github.com/waguard/waguard/shared/deadline"
	"github.com/waguard/waguard/shared/phone/e164"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/whatsapp"
)

// Sender sends messages. It is safe for concurrent use.
type Sender struct {
	secrets *secrets.Store
	cfg     Config
}

// New returns a sender reading tokens through store.
func New(store *secrets.Store, cfg Config) (*Sender, error) {
	if cfg.SecretID == "" || cfg.PhoneNumberID == "" {
		return nil, errors.New("provider: secret id and phone number id are required")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = whatsapp.NewHTTPClient()
	}
	return &Sender{secrets: store, cfg: cfg}, nil
}

// ErrCredentials wraps a failure to read the provider credentials from
// Secrets Manager: the caller answers dependency_unavailable, never sends.
var ErrCredentials = errors.New("provider credentials unavailable")

// Result is what a successful send returns.
type Result struct {
	// ProviderID is the wamid Meta assigned (personal data: it embeds the
	// recipient's number).
	ProviderID string
	// UsedFallback is set when the primary token was refused.
	UsedFallback bool
}

// Recipient is who a message goes to: a phone number, or a person known
// only by their business-scoped user id. The zero Recipient is invalid.
type Recipient struct {
	n    e164.Number
	user bsuid.ID
}

// ToPhone addresses a message to n.
func ToPhone(n e164.Number) Recipient { return Recipient{n: n} }

// ToUser addresses a message to a business-scoped user id; Meta takes
// it when the phone number is unknown (usernames).
func ToUser(id bsuid.ID) Recipient { return Recipient{user: id} }

// IsZero reports whether r addresses nobody.
func (r Recipient) IsZero() bool { return r.n.IsZero() && r.user.IsZero() }

// wire is the recipient as the client takes it.
func (r Recipient) wire() string {
	if !r.user.IsZero() {
		return r.user.Reveal()
	}
	return r.n.Digits()
}

// SendText sends a free-form text to r. Errors from Meta are
// *whatsapp.APIError (wrapped); a Secrets Manager failure wraps
// [ErrCredentials].
func (s *Sender) SendText(ctx context.Context, r Recipient, text string, opts ...whatsapp.SendOption) (Result, error) {
	return s.send(ctx, func(ctx context.Context, c *whatsapp.Client) (string, error) {
		return c.SendText(ctx, r.wire(), text, opts...)
	})
}

// SendTemplate sends a template message to r.
func (s *Sender) SendTemplate(ctx context.Context, r Recipient, t whatsapp.Template, opts ...whatsapp.SendOption) (Result, error) {
	return s.send(ctx, func(ctx context.Context, c *whatsapp.Client) (string, error) {
		return c.SendTemplate(ctx, r.wire(), t, opts...)
	})
}

// call is one request to the provider with a client built for a token.
type call func(context.Context, *whatsapp.Client) (string, error)

func (s *Sender) send(ctx context.Context, call call) (Result, error) {
	creds, err := s.secrets.Get(ctx, s.cfg.SecretID, secrets.StageCurrent)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	res, err := s.attempt(ctx, creds, call)
	if !refused(err) {
		return res, err
	}
	// Both cached tokens were refused: the secret may have been rotated
	// and the old tokens revoked since it was cached. Read it again (the
	// store drops its cache at most every few seconds) and retry once
	// if the primary changed. A refused call sent nothing.
	s.secrets.Refresh(s.cfg.SecretID)
	fresh, ferr := s.secrets.Get(ctx, s.cfg.SecretID, secrets.StageCurrent)
	if ferr != nil || fresh.Get("primary").Equal(creds.Get("primary").Reveal()) {
		return res, err
	}
	return s.attempt(ctx, fresh, call)
}

// attempt calls with the primary token and, if Meta refuses it, with the
// fallback.
func (s *Sender) attempt(ctx context.Context, creds secrets.Fields, call call) (Result, error) {
	id, err := s.with(ctx, creds.Get("primary"), call)
	if !refused(err) || creds.Get("fallback").Empty() {
		return Result{ProviderID: id}, err
	}
	id, err = s.with(ctx, creds.Get("fallback"), call)
	return Result{ProviderID: id, UsedFallback: err == nil}, err
}

// with makes the call with token, under the provider's call deadline
// (shared/deadline): it ends with the reserve to record its outcome
// still left in ctx, and is not made (nothing is sent) when ctx has no
// more than that reserve left.
func (s *Sender) with(ctx context.Context, token secrets.Value, call call) (string, error) {
	c, err := s.cfg.Client(string(token.Reveal()))
	if err != nil {
		return "", fmt.Errorf("provider client: %w: %w", whatsapp.ErrNotSent, err)
	}
	ctx, cancel := deadline.For(ctx, deadline.Provider)
	defer cancel()
	return call(ctx, c)
}

// refused reports whether the provider refused the token itself (401 or
// 403) in an answer that proves the message was not accepted
// (whatsapp.Classify): only then may another token send it.
func refused(err error) bool {
	var api *whatsapp.APIError
	return errors.As(err, &api) && (api.Status == http.StatusUnauthorized || api.Status == http.StatusForbidden) &&
		whatsapp.Classify(err).NotSent()
}
