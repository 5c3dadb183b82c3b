// Command auditverify checks waguard's audit trail offline: every hash
// chain, every signed daily digest and the digest chain, using only the
// signing key's public key. It reads the audit table with a Scan (the
// auditor role needs dynamodb:Scan) or an export file, prints a report
// and exits 1 on the first sign of tampering, 2 on an error.
//
// Every day from the trail's first event or digest through -sealed-through
// must have a digest made on time: a day without one (digest_missing) or
// with a late one (late_digest) is a break. -sealed-through defaults to
// yesterday once the digest's grace period is over (audit.DigestGrace after
// midnight UTC), else the day before; give an export the day it was taken.
//
//	auditverify -table waguard-prod-audit -public-key audit-signing.pem
//	auditverify -file export.json -public-key audit-signing.pem -from 2026-03-01 -to 2026-03-31 -sealed-through 2026-03-31
//	auditverify -table waguard-prod-audit -kms-key alias/waguard-prod-audit-signing -dump export.json
//
// Prefer -public-key with a copy of the key pinned when it was created:
// -kms-key trusts whoever controls KMS today. The report prints the key's
// SHA-256 fingerprint either way.
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, loadClients)
	stop()
	os.Exit(code)
}
