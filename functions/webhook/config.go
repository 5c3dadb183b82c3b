package main

import (
	"errors"
	"time"

	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/settings"
)

// Config is the webhook's configuration, read from the environment that
// template.yaml sets. It holds no secret values, only their ids.
type Config struct {
	// Core is what every function reads (tables, keys, retention).
	Core coldstart.Config
	// PhoneNumberID is our Meta business phone number id; events addressed
	// to any other are acknowledged and ignored.
	PhoneNumberID string
	// MetaSecretID and SignedSecretID name the two webhook secrets.
	MetaSecretID, SignedSecretID string
	// MaxBodyBytes is refused with 413 before any HMAC work.
	MaxBodyBytes int
	// Horizon is how old an event may be (Meta redelivers for 7 days).
	Horizon time.Duration
	// Tolerance is the signed scheme's timestamp window.
	Tolerance time.Duration
	// SecretOverlap is how long the previous webhook secret is accepted
	// after a rotation.
	SecretOverlap time.Duration
	// Keywords turns whole-message keywords into consent changes.
	Keywords Keywords
	// InboundClass is the retention class of inbound messages.
	InboundClass retention.Class
	// Replies are the confirmations sent for keywords; a keyword without
	// one is not answered. None by default.
	Replies map[Keyword]string
	// Provider is the provider configuration replies are sent with
	// (provider.ConfigFromEnv); PhoneNumberID is its business number.
	Provider provider.Config
}

// configFromEnv reads every setting of the webhook once, through getenv
// (os.Getenv in main), with their declarations in shared/settings. The
// error names each setting that is missing, malformed or out of range,
// never its value; main then exits, failing the cold start.
func configFromEnv(getenv func(string) string) (Config, error) {
	c := Config{Replies: map[Keyword]string{}}
	var phrase, class string
	var labels []string
	replies := map[Keyword]string{}
	err := settings.Join(
		settings.Read(&c.Core, coldstart.ConfigFromEnv, getenv),
		settings.Read(&c.Provider, provider.ConfigFromEnv, getenv),
		settings.Read(&c.MetaSecretID, settings.MetaWebhookSecretID.Get, getenv),
		settings.Read(&c.SignedSecretID, settings.SignedWebhookSecretID.Get, getenv),
		settings.Read(&c.MaxBodyBytes, settings.WebhookMaxBodyBytes.Get, getenv),
		settings.Read(&c.Horizon, settings.WebhookRedeliveryHorizonHours.Get, getenv),
		settings.Read(&c.Tolerance, settings.SignedWebhookToleranceSeconds.Get, getenv),
		settings.Read(&c.SecretOverlap, settings.WebhookSecretOverlapHours.Get, getenv),
		settings.Read(&phrase, settings.ErasurePhrase.Get, getenv),
		settings.Read(&labels, settings.StopPromotionsLabels.Get, getenv),
		settings.Read(&class, settings.InboundRetentionClass.Get, getenv),
		readReplies(replies, getenv),
	)
	if err != nil {
		return Config{}, err
	}
	c.PhoneNumberID = c.Provider.PhoneNumberID
	c.Keywords = DefaultKeywords(phrase)
	c.Keywords.StopPromotions = labels
	c.InboundClass = retention.Class(class)
	for kw, text := range replies {
		if text != "" {
			c.Replies[kw] = text
		}
	}
	return c, nil
}

// readReplies reads the keyword replies into replies (an unset one is
// empty: that keyword is not answered).
func readReplies(replies map[Keyword]string, getenv func(string) string) error {
	var err error
	for kw, s := range map[Keyword]settings.String{KeywordHelp: settings.HelpText, KeywordStop: settings.StopConfirmation,
		KeywordStart: settings.StartConfirmation, KeywordErase: settings.ErasureConfirmation} {
		v, serr := s.Get(getenv)
		replies[kw], err = v, errors.Join(err, serr)
	}
	return err
}
