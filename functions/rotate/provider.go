package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ProviderCheck is how testSecret checks a staged provider access token:
// one authenticated Graph call that sends nothing, a mark-as-read of a
// message ID that does not exist. Meta answers an invalid token with 401
// before looking at the message.
type ProviderCheck struct {
	HTTP *http.Client
	// BaseURL, Version and PhoneNumberID are WHATSAPP_API_BASE_URL,
	// GRAPH_API_VERSION and PHONE_NUMBER_ID.
	BaseURL, Version, PhoneNumberID string
}

// markRead is the body of the check: it marks a fictitious message read.
const markRead = `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.test"}`

// check returns nil when the provider accepts token.
func (p ProviderCheck) check(ctx context.Context, token string) error {
	if p.HTTP == nil || p.BaseURL == "" || p.Version == "" || p.PhoneNumberID == "" {
		return errors.New("provider check not configured (WHATSAPP_API_BASE_URL, GRAPH_API_VERSION, PHONE_NUMBER_ID)")
	}
	u := strings.TrimSuffix(p.BaseURL, "/") + "/" + url.PathEscape(p.Version) + "/" + url.PathEscape(p.PhoneNumberID) + "/messages"
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader([]byte(markRead)))
	if err != nil {
		return errors.New("provider check: bad URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := p.HTTP.Do(req)
	if err != nil {
		return errors.New("provider check: request failed") // the URL error is not worth the risk
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("provider check: HTTP %d", resp.StatusCode)
	}
	return nil
}

// createProvider never invents a token: the operator (or the process that
// obtains Meta tokens) stages the new value, normally with the old
// primary as its fallback, as the AWSPENDING version of the rotation's
// token. Without it createSecret fails and the rotation stops.
func createProvider(ctx context.Context, h *Handler, r *rotation) error {
	if _, err := mustPending(ctx, h, r); err != nil {
		return fmt.Errorf("%w: stage the new provider credentials as AWSPENDING with this version ID first", err)
	}
	return nil
}

// testProvider checks that the provider accepts the pending primary token.
func testProvider(ctx context.Context, h *Handler, r *rotation) error {
	f, err := mustPending(ctx, h, r)
	if err != nil {
		return err
	}
	if f.Get("primary").Empty() {
		return fmt.Errorf("rotate: secret %s: pending value has no primary", r.name)
	}
	if err := h.Provider.check(ctx, string(f.Get("primary").Reveal())); err != nil {
		return fmt.Errorf("rotate: secret %s: pending primary: %w", r.name, err)
	}
	return nil
}
