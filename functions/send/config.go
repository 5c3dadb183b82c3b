package main

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/apiauth"

	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/ratelimit"
	"github.com/waguard/waguard/shared/whatsapp"
)

// Config is the send function's configuration, from the environment that
// template.yaml sets; it holds secret ids, never secret values.
type Config struct {
	// Provider is the provider configuration (provider.ConfigFromEnv);
	// PhoneNumberID is its business number, the global limit's key.
	Provider           provider.Config
	PhoneNumberID      string
	ClientSecretPrefix string
	KeyOverlap         time.Duration
	// PerRecipient is the default per-recipient limit; PerPurpose overrides
	// it (otp: 5 per 15 minutes by default).
	PerRecipient ratelimit.Limit
	PerPurpose   map[string]ratelimit.Limit
	// Global is the limit per sending phone number (Meta's throughput).
	Global ratelimit.Limit
	// ConfirmTemplate is the double opt-in's confirmation template, with
	// a quick-reply button at index 0 (empty: double opt-in refused);
	// ConfirmWindow how long a pending grant waits for its answer.
	ConfirmTemplate whatsapp.Template
	ConfirmWindow   time.Duration
}

func configFromEnv(getenv func(string) string) (Config, error) {
	prov, err := provider.ConfigFromEnv(getenv)
	if err != nil {
		return Config{}, err
	}
	c := Config{
		Provider:           prov,
		PhoneNumberID:      prov.PhoneNumberID,
		ClientSecretPrefix: getenv("CLIENT_SECRET_PREFIX"),
	}
	if c.ClientSecretPrefix == "" || prov.SecretID == "" {
		return Config{}, errors.New("config: CLIENT_SECRET_PREFIX and PROVIDER_SECRET_ID are required")
	}
	n := func(name string, def int) int {
		v, err := strconv.Atoi(strings.TrimSpace(getenv(name)))
		if err != nil || v <= 0 {
			return def
		}
		return v
	}
	if c.KeyOverlap, err = apiauth.OverlapFromEnv(getenv); err != nil {
		return Config{}, err
	}
	c.PerRecipient = ratelimit.Limit{Count: n("RATE_LIMIT_PER_RECIPIENT", 10), Per: time.Duration(n("RATE_LIMIT_PER_RECIPIENT_WINDOW_SECONDS", 3600)) * time.Second}
	c.PerPurpose = map[string]ratelimit.Limit{
		"otp": {Count: n("RATE_LIMIT_OTP", 5), Per: time.Duration(n("RATE_LIMIT_OTP_WINDOW_SECONDS", 900)) * time.Second},
	}
	c.Global = ratelimit.Limit{Count: n("RATE_LIMIT_GLOBAL_PER_SECOND", 80), Per: time.Second}
	if c.ConfirmTemplate, c.ConfirmWindow, err = confirmConfig(getenv); err != nil {
		return Config{}, err
	}
	return c, nil
}

// confirmConfig reads the double opt-in's settings: CONSENT_CONFIRM_TEMPLATE
// ("name:language", or empty) and CONSENT_CONFIRM_HOURS (1 to 168, default
// [consent.DefaultConfirmWindow]). A malformed value refuses the cold start.
func confirmConfig(getenv func(string) string) (whatsapp.Template, time.Duration, error) {
	window := consent.DefaultConfirmWindow
	if v := strings.TrimSpace(getenv("CONSENT_CONFIRM_HOURS")); v != "" {
		h, err := strconv.Atoi(v)
		if err != nil || h < 1 || time.Duration(h)*time.Hour > consent.MaxConfirmWindow {
			return whatsapp.Template{}, 0, errors.New("config: CONSENT_CONFIRM_HOURS must be 1 to 168")
		}
		window = time.Duration(h) * time.Hour
	}
	v := strings.TrimSpace(getenv("CONSENT_CONFIRM_TEMPLATE"))
	if v == "" {
		return whatsapp.Template{}, window, nil
	}
	name, lang, ok := strings.Cut(v, ":")
	if !ok || !token(name, 512) || !token(lang, 16) {
		return whatsapp.Template{}, 0, errors.New("config: CONSENT_CONFIRM_TEMPLATE must be name:language")
	}
	return whatsapp.Template{Name: name, Language: lang}, window, nil
}

// recipientLimit is the per-recipient limit of a purpose.
func (c Config) recipientLimit(purpose string) ratelimit.Limit {
	if l, ok := c.PerPurpose[purpose]; ok {
		return l
	}
	return c.PerRecipient
}
