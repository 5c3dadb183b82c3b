// Package chaos is waguard's fault-injection suite (`make chaos`): it
// breaks, one at a time, each dependency of the functions on the local
// stack and checks that waguard fails the way its documentation says.
// docs/reliability.md holds the results of a run and how to read them.
//
// # Method
//
// Each scenario starts a private waguard-dev stack on loopback ports
// (13300–13311 by default) with -persist under its own -local-dir, and
// with -function-endpoint, so that the functions, and only they, reach
// DynamoDB Local, local-kms, the Secrets Manager emulator and moto's
// EventBridge through Toxiproxy ([Toxiproxy], pinned at
// [ToxiproxyVersion]). Provisioning, the stream triggers and the checks go
// to the emulators directly. DynamoDB traffic also passes a
// [Throttler], which answers a chosen share of calls with DynamoDB's own
// ProvisionedThroughputExceededException (a TCP proxy cannot throttle).
// Provider faults use the WhatsApp sandbox's fault queue, endpoint faults
// its receiving endpoint's (the endpoint "sandbox" waguard-dev registers),
// and a crash of the events function kills its instances' processes.
//
// For every fault the suite runs a workload (consent grant, send with an
// Idempotency-Key, signed Meta webhook, erasure request, consent query)
// with fresh fictitious numbers, clears the fault, retries what failed as
// a careful client would, and asserts:
//
//  1. each answer during the fault is one the documentation promises;
//  2. no number, message text, profile name or wamid is on disk after the
//     stack stops, in clear, hex or base64 ([Scan]; a canary written in
//     clear proves the scan reads DynamoDB Local's files);
//  3. the provider got each message once, and a redelivered webhook is
//     stored once;
//  4. every change (ledger entry, stored message, message the provider
//     accepted, erasure request) and every success answer has its audit
//     event, and the audit chains verify offline;
//  5. every operation succeeds again within a minute of the fault
//     clearing, and how long that took;
//  6. every function log line written inside an invocation carries its
//     requestId, and no id in a log line is cut by the redactor
//     (stacktest.LogProblems);
//  7. in the events rows, every change of the run has its event at the
//     bus and at the endpoint at least once, under the one id of its
//     change, and no delivery is left pending or dead; a destination
//     that fails is held pending and delivered by the retry run (invoked
//     as its schedule would), while the other one and the API go on.
//
// # Running
//
// The test runs only with WAGUARD_CHAOS=1 (make chaos sets it); without it
// it skips, so `make test` stays fast. Other variables: WAGUARD_CHAOS_PORT
// (first port), WAGUARD_CHAOS_TOOLS (folder with bin/ and npm/, default
// .local), WAGUARD_TOXIPROXY (the server binary), WAGUARD_CHAOS_DIR (where
// the run's folder goes), WAGUARD_CHAOS_KEEP (keep it after a pass) and
// WAGUARD_CHAOS_REPORT (write the results table there).
package chaos
