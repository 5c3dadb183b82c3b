package main

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/retention"
)

// Config is the webhook's configuration, read from the environment that
// template.yaml sets. It holds no secret values, only their ids.
type Config struct {
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
	// AuditRetention is how long audit events live (TTL only).
	AuditRetention time.Duration
	// Replies are the confirmations sent for keywords; a keyword without
	// one is not answered. None by default.
	Replies map[Keyword]string
	// Provider is the provider configuration replies are sent with
	// (provider.ConfigFromEnv); PhoneNumberID is its business number.
	Provider provider.Config
}

// configFromEnv reads the configuration; getenv is os.Getenv in main.
func configFromEnv(getenv func(string) string) (Config, error) {
	prov, err := provider.ConfigFromEnv(getenv)
	if err != nil {
		return Config{}, err
	}
	c := Config{
		Provider:       prov,
		PhoneNumberID:  prov.PhoneNumberID,
		MetaSecretID:   getenv("META_WEBHOOK_SECRET_ID"),
		SignedSecretID: getenv("SIGNED_WEBHOOK_SECRET_ID"),
		InboundClass:   retention.ClassSupport,
		Keywords:       DefaultKeywords(getenv("ERASURE_PHRASE")),
		Replies:        map[Keyword]string{},
	}
	for kw, name := range map[Keyword]string{KeywordHelp: "HELP_TEXT", KeywordStop: "STOP_CONFIRMATION",
		KeywordStart: "START_CONFIRMATION", KeywordErase: "ERASURE_CONFIRMATION"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			c.Replies[kw] = v
		}
	}
	if v := getenv("STOP_PROMOTIONS_LABELS"); v != "" {
		c.Keywords.StopPromotions = nil
		for _, label := range strings.Split(v, ",") {
			if label = strings.TrimSpace(label); label != "" {
				c.Keywords.StopPromotions = append(c.Keywords.StopPromotions, label)
			}
		}
	}
	if c.PhoneNumberID == "" || c.MetaSecretID == "" || c.SignedSecretID == "" {
		return Config{}, errors.New("config: PHONE_NUMBER_ID, META_WEBHOOK_SECRET_ID and SIGNED_WEBHOOK_SECRET_ID are required")
	}
	if v := getenv("INBOUND_RETENTION_CLASS"); v != "" {
		c.InboundClass = retention.Class(v)
		if !c.InboundClass.Valid() {
			return Config{}, errors.New("config: INBOUND_RETENTION_CLASS is not a retention class")
		}
	}
	for _, f := range []struct {
		name string
		def  int
		unit time.Duration
		dst  *time.Duration
	}{
		{"WEBHOOK_REDELIVERY_HORIZON_HOURS", 168, time.Hour, &c.Horizon},
		{"SIGNED_WEBHOOK_TOLERANCE_SECONDS", 300, time.Second, &c.Tolerance},
		{"WEBHOOK_SECRET_OVERLAP_HOURS", 24, time.Hour, &c.SecretOverlap},
		{"AUDIT_RETENTION_DAYS", 2190, 24 * time.Hour, &c.AuditRetention},
	} {
		n, perr := positive(getenv(f.name), f.def)
		err = errors.Join(err, perr)
		*f.dst = time.Duration(n) * f.unit
	}
	c.MaxBodyBytes, _ = positive(getenv("WEBHOOK_MAX_BODY_BYTES"), 3<<20)
	if c.Horizon < 7*24*time.Hour {
		err = errors.Join(err, errors.New("config: WEBHOOK_REDELIVERY_HORIZON_HOURS must cover Meta's 7-day redelivery"))
	}
	return c, err
}

func positive(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return def, errors.New("config: a numeric setting is not a positive integer")
	}
	return n, nil
}
