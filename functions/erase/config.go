package main

import (
	"time"

	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/settings"
)

// Config is the erase function's configuration, read once per cold start
// by [configFromEnv] from the environment that template.yaml sets; it
// holds secret ids, never secret values.
type Config struct {
	// Core is what every function reads (tables, keys, retention).
	Core               coldstart.Config
	ClientSecretPrefix string
	KeyOverlap         time.Duration
	// FinalText and FinalTemplate ("name:language") are the optional last
	// message before an erasure; Provider, read only when one is set,
	// sends it.
	FinalText, FinalTemplate string
	Provider                 provider.Config
}

// configFromEnv reads every setting of the erase function once, through
// getenv (os.Getenv in main), with their declarations in shared/settings.
// The error names each setting that is missing, malformed or out of
// range, never its value; main then exits, failing the cold start.
func configFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	var tmpl settings.TemplateRef
	err := settings.Join(
		settings.Read(&c.Core, coldstart.ConfigFromEnv, getenv),
		settings.Read(&c.ClientSecretPrefix, settings.ClientSecretPrefix.Get, getenv),
		settings.Read(&c.KeyOverlap, settings.APIKeyOverlapHours.Get, getenv),
		settings.Read(&c.FinalText, settings.ErasureFinalText.Get, getenv),
		settings.Read(&tmpl, settings.ErasureFinalTemplate.Get, getenv),
	)
	if tmpl.Name != "" {
		c.FinalTemplate = tmpl.Name + ":" + tmpl.Language
	}
	if err == nil && c.confirms() {
		err = settings.Read(&c.Provider, provider.ConfigFromEnv, getenv)
	}
	if err != nil {
		return Config{}, err
	}
	return c, nil
}

// confirms reports whether a final message is configured.
func (c Config) confirms() bool { return c.FinalText != "" || c.FinalTemplate != "" }
