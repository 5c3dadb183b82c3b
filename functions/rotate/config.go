package main

import (
	"time"

	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/settings"
)

// envConfig is the rotate function's configuration, read once per cold
// start by [configFromEnv] from the environment that template.yaml sets.
type envConfig struct {
	// Core is what every function reads (tables, keys, retention).
	Core coldstart.Config
	// Provider checks a staged provider token (its secret id is the
	// rotated secret's, so PROVIDER_SECRET_ID is not needed).
	Provider provider.Config
	// Overlap is how long an API key stays valid at AWSPREVIOUS.
	Overlap time.Duration
}

// configFromEnv reads every setting of the rotate function once, through
// getenv (os.Getenv in main), with their declarations in shared/settings.
// The error names each setting that is missing, malformed or out of
// range, never its value; main then exits, failing the cold start.
func configFromEnv(getenv func(string) string) (envConfig, error) {
	var c envConfig
	err := settings.Join(
		settings.Read(&c.Core, coldstart.ConfigFromEnv, getenv),
		settings.Read(&c.Provider, provider.ConfigFromEnv, getenv),
		settings.Read(&c.Overlap, settings.APIKeyOverlapHours.Get, getenv),
	)
	if err != nil {
		return envConfig{}, err
	}
	return c, nil
}
