// Command compliance checks waguard against its production checklist (API
// security, data protection, GDPR, webhook security, monitoring): the
// template, a running stack when one is configured, and the documents a
// person must review. It prints every item with ✅, ❌, 📝 (manual) or ➖
// (skipped) and one line of evidence, and exits 1 if any item failed.
//
//	devstack/with-stack.sh go run ./cmd/compliance                 # the local stack
//	go run ./cmd/compliance -static-only                           # template and docs only
//	go run ./cmd/compliance -format html -out compliance.html      # a report to file
//	go run ./cmd/compliance -allow-remote -gateway-url https://… -stage staging -audit-public-key audit-signing.pem
//
// The stack is found through the variables `make dev` and
// devstack/with-stack.sh export (WAGUARD_GATEWAY_URL, AWS_ENDPOINT_URL_*,
// WAGUARD_*_TABLE, WAGUARD_*_SECRET_ID, WAGUARD_AUDIT_SIGNING_KEY_ID);
// flags override them, and names not given come from the template. Its
// last check scans the audit table and verifies it as cmd/auditverify
// does, with the signing key's public key from KMS or, better, the copy
// pinned when the stack was created (-audit-public-key). Every endpoint must be loopback unless
// -allow-remote is set. Exit status: 0 all passed, 1 an item failed, 2 the
// check could not run.
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
