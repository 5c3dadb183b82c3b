package main

import (
	"time"

	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/settings"
)

// envConfig is the events function's configuration, read once per cold
// start by [configFromEnv] from the environment that template.yaml sets;
// it holds secret ids and prefixes, never secret values.
type envConfig struct {
	// Core is what every function reads (tables, keys, retention).
	Core coldstart.Config
	// Handler is the handler's own configuration (EVENT_BUS_NAME).
	Handler Config
	// EndpointSecretPrefix and ClientSecretPrefix name the webhook
	// endpoints' and the API clients' secrets.
	EndpointSecretPrefix, ClientSecretPrefix string
	KeyOverlap                               time.Duration
}

// configFromEnv reads every setting of the events function once, through
// getenv (os.Getenv in main), with their declarations in shared/settings.
// The error names each setting that is missing, malformed or out of
// range, never its value; main then exits, failing the cold start.
func configFromEnv(getenv func(string) string) (envConfig, error) {
	var c envConfig
	err := settings.Join(
		settings.Read(&c.Core, coldstart.ConfigFromEnv, getenv),
		settings.Read(&c.Handler.BusName, settings.EventBusName.Get, getenv),
		settings.Read(&c.EndpointSecretPrefix, settings.EndpointSecretPrefix.Get, getenv),
		settings.Read(&c.ClientSecretPrefix, settings.ClientSecretPrefix.Get, getenv),
		settings.Read(&c.KeyOverlap, settings.APIKeyOverlapHours.Get, getenv),
	)
	if err != nil {
		return envConfig{}, err
	}
	return c, nil
}
