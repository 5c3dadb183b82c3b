package main

import (
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/coldstart"
	"github.com/waguard/waguard/shared/settings"
)

// envConfig is the retention function's configuration, read once per
// cold start by [configFromEnv] from the environment that template.yaml
// sets.
type envConfig struct {
	// Core is what every function reads (tables, keys, retention policy).
	Core coldstart.Config
	// Digester signs the audit trail's daily digests. Digests keep the
	// events' retention (AUDIT_RETENTION_DAYS, one default for both): a
	// digest that expired before its events would leave a day unsealed.
	Digester audit.DigesterConfig
}

// configFromEnv reads every setting of the retention function once,
// through getenv (os.Getenv in main), with their declarations in
// shared/settings. The error names each setting that is missing,
// malformed or out of range, never its value; main then exits, failing
// the cold start.
func configFromEnv(getenv func(string) string) (envConfig, error) {
	var c envConfig
	err := settings.Join(
		settings.Read(&c.Core, coldstart.ConfigFromEnv, getenv),
		settings.Read(&c.Digester.KeyID, settings.AuditSigningKeyID.Get, getenv),
	)
	if err != nil {
		return envConfig{}, err
	}
	c.Digester.Table, c.Digester.Retention = c.Core.AuditTable, c.Core.AuditRetention
	return c, nil
}
