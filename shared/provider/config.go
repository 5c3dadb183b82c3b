package provider

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

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

var (
	graphVersion = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,2}$`)
	digitsOnly   = regexp.MustCompile(`^[0-9]{1,20}$`)
	// hostName is a DNS name, as X-RapidAPI-Host carries it.
	hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$`)
)

// ConfigFromEnv reads the provider configuration from the environment
// template.yaml sets (getenv is os.Getenv in main), with one default per
// setting, and refuses malformed values:
//
//   - PHONE_NUMBER_ID: required, digits;
//   - WHATSAPP_API_BASE_URL: default [whatsapp.DefaultBaseURL]; https, or
//     http on 127.0.0.1 (the local sandbox), without a path;
//   - GRAPH_API_VERSION: default [whatsapp.DefaultVersion]; such as v21.0;
//   - PROVIDER_RAPIDAPI_HOST: empty for Meta's Graph API, else the
//     proxy's host name;
//   - PROVIDER_SECRET_ID: the credentials secret, where one is used.
//
// The configuration holds the HTTP client ([whatsapp.NewHTTPClient]) its
// clients share. The error names settings, never values.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		SecretID:      strings.TrimSpace(getenv("PROVIDER_SECRET_ID")),
		BaseURL:       strings.TrimSuffix(strings.TrimSpace(getenv("WHATSAPP_API_BASE_URL")), "/"),
		Version:       strings.TrimSpace(getenv("GRAPH_API_VERSION")),
		PhoneNumberID: strings.TrimSpace(getenv("PHONE_NUMBER_ID")),
		RapidAPIHost:  strings.TrimSpace(getenv("PROVIDER_RAPIDAPI_HOST")),
		HTTP:          whatsapp.NewHTTPClient(),
	}
	if c.BaseURL == "" {
		c.BaseURL = whatsapp.DefaultBaseURL
	}
	if c.Version == "" {
		c.Version = whatsapp.DefaultVersion
	}
	var err error
	if !digitsOnly.MatchString(c.PhoneNumberID) {
		err = errors.Join(err, errors.New("config: PHONE_NUMBER_ID must be digits"))
	}
	if !validBaseURL(c.BaseURL) {
		err = errors.Join(err, errors.New("config: WHATSAPP_API_BASE_URL must be https://host, or http://127.0.0.1:port for the sandbox"))
	}
	if !graphVersion.MatchString(c.Version) {
		err = errors.Join(err, errors.New("config: GRAPH_API_VERSION must look like v21.0"))
	}
	if c.RapidAPIHost != "" && !hostName.MatchString(c.RapidAPIHost) {
		err = errors.Join(err, errors.New("config: PROVIDER_RAPIDAPI_HOST must be a host name"))
	}
	if err != nil {
		return Config{}, err
	}
	return c, nil
}

// validBaseURL accepts what template.yaml's WhatsAppApiBaseUrl allows:
// https with a host, or http on 127.0.0.1 with a port; no path, query,
// fragment or credentials.
func validBaseURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	return u.Scheme == "https" || (u.Scheme == "http" && u.Hostname() == "127.0.0.1" && u.Port() != "")
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
