package main

import (
	"errors"
	"time"

	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/ratelimit"
	"github.com/waguard/waguard/shared/settings"
	"github.com/waguard/waguard/shared/whatsapp"
)

// Config is the send function's configuration, read once per cold start
// by [configFromEnv] from the environment that template.yaml sets; it
// holds secret ids, never secret values.
type Config struct {
	// Core is what every function reads (tables, keys, retention).
	Core coldstart.Config
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

// configFromEnv reads every setting of the send function once, through
// getenv (os.Getenv in main), with their declarations in shared/settings.
// The error names each setting that is missing, malformed or out of
// range, never its value; main then exits, failing the cold start.
func configFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	var recipients, otp, global int
	var recipientWindow, otpWindow time.Duration
	err := settings.Join(
		settings.Read(&c.Core, coldstart.ConfigFromEnv, getenv),
		settings.Read(&c.Provider, provider.ConfigFromEnv, getenv),
		settings.Read(&c.ClientSecretPrefix, settings.ClientSecretPrefix.Get, getenv),
		settings.Read(&c.KeyOverlap, settings.APIKeyOverlapHours.Get, getenv),
		settings.Read(&recipients, settings.RateLimitPerRecipient.Get, getenv),
		settings.Read(&recipientWindow, settings.RateLimitPerRecipientWindow.Get, getenv),
		settings.Read(&otp, settings.RateLimitOTP.Get, getenv),
		settings.Read(&otpWindow, settings.RateLimitOTPWindow.Get, getenv),
		settings.Read(&global, settings.RateLimitGlobalPerSecond.Get, getenv),
	)
	if err == nil && c.Provider.SecretID == "" {
		err = settings.ProviderSecretID.Missing() // send always sends through the provider
	}
	tmpl, window, cerr := confirmConfig(getenv)
	if err = errors.Join(err, cerr); err != nil {
		return Config{}, err
	}
	c.PhoneNumberID = c.Provider.PhoneNumberID
	c.PerRecipient = ratelimit.Limit{Count: recipients, Per: recipientWindow}
	c.PerPurpose = map[string]ratelimit.Limit{"otp": {Count: otp, Per: otpWindow}}
	c.Global = ratelimit.Limit{Count: global, Per: time.Second}
	c.ConfirmTemplate, c.ConfirmWindow = tmpl, window
	return c, nil
}

// confirmConfig reads the double opt-in's settings: CONSENT_CONFIRM_TEMPLATE
// ("name:language", or empty) and CONSENT_CONFIRM_HOURS (1 to 168, default
// 24, [consent.DefaultConfirmWindow]). A malformed value refuses the cold
// start.
func confirmConfig(getenv func(string) string) (whatsapp.Template, time.Duration, error) {
	window, werr := settings.ConsentConfirmHours.Get(getenv)
	ref, terr := settings.ConsentConfirmTemplate.Get(getenv)
	if err := errors.Join(werr, terr); err != nil {
		return whatsapp.Template{}, 0, err
	}
	return whatsapp.Template{Name: ref.Name, Language: ref.Language}, window, nil
}

// recipientLimit is the per-recipient limit of a purpose.
func (c Config) recipientLimit(purpose string) ratelimit.Limit {
	if l, ok := c.PerPurpose[purpose]; ok {
		return l
	}
	return c.PerRecipient
}
