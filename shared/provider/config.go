package provider

import (
	"net/http"
	"strings"

	"github.com/waguard/waguard/shared/settings"
	"github.com/waguard/waguard/shared/whatsapp"
)

// Config is the one provider configuration: where the Cloud API is, how
// to authenticate to it, and which secret holds the tokens. Every
// function that talks to the provider (send, the webhook's keyword
// replies, erase's final confirmation, rotate's testSecret) reads it
// once per cold start with [ConfigFromEnv] and builds its clients with
// [Config.Client], so all of them authenticate the same way.
type Config struct {
	// SecretID names the provider-credentials secret (primary, fallback).
	// [New] requires it; rotate, which checks a staged token, does not.
	SecretID string
	// BaseURL and Version locate the Graph API (the sandbox locally).
	BaseURL, Version string
	// PhoneNumberID is the business number messages are sent from.
	PhoneNumberID string
	// HTTP is the client (default whatsapp.NewHTTPClient()).
	HTTP *http.Client
	// RapidAPIHost selects the second provider: a RapidAPI-style proxy of
	// the Cloud API, authenticated with X-RapidAPI-Key and X-RapidAPI-Host
	// (the seed's provider). Empty means Meta's Graph API with a bearer.
	RapidAPIHost string
}

// ConfigFromEnv reads the provider configuration through getenv (os.Getenv
// in main) with the declarations of shared/settings, which hold each
// setting's one default and valid values:
//
//   - PHONE_NUMBER_ID: required, digits;
//   - WHATSAPP_API_BASE_URL: https, or http on 127.0.0.1 (the local
//     sandbox), without a path;
//   - GRAPH_API_VERSION: such as v21.0;
//   - PROVIDER_RAPIDAPI_HOST: empty for Meta's Graph API, else the
//     proxy's host name;
//   - PROVIDER_SECRET_ID: the credentials secret, where one is used.
//
// The configuration holds the HTTP client ([whatsapp.NewHTTPClient]) its
// clients share. The error names settings, never values.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{HTTP: whatsapp.NewHTTPClient()}
	err := settings.Join(
		settings.Read(&c.SecretID, settings.ProviderSecretID.Get, getenv),
		settings.Read(&c.BaseURL, settings.WhatsAppAPIBaseURL.Get, getenv),
		settings.Read(&c.Version, settings.GraphAPIVersion.Get, getenv),
		settings.Read(&c.PhoneNumberID, settings.PhoneNumberID.Get, getenv),
		settings.Read(&c.RapidAPIHost, settings.ProviderRapidAPIHost.Get, getenv),
	)
	if err != nil {
		return Config{}, err
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	return c, nil
}

// Client returns a Cloud API client that authenticates with token the
// way the configuration says: an Authorization bearer for Meta, or
// X-RapidAPI-Key and X-RapidAPI-Host for the RapidAPI-style proxy. The
// error never contains the token.
func (c Config) Client(token string) (*whatsapp.Client, error) {
	wc, err := whatsapp.NewClient(token, c.PhoneNumberID)
	if err != nil {
		return nil, err
	}
	if c.HTTP != nil {
		wc.HTTP = c.HTTP
	}
	if c.BaseURL != "" {
		wc.BaseURL = c.BaseURL
	}
	if c.Version != "" {
		wc.Version = c.Version
	}
	wc.RapidAPIHost = c.RapidAPIHost
	return wc, nil
}
