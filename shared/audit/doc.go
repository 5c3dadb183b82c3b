// Package audit keeps waguard's append-only, tamper-evident audit trail
// in the audit table, builds the signed daily digests, and verifies both
// offline (modelled on CloudTrail log file integrity validation).
//
// Each Lambda execution environment holds one [Writer], built in main. A
// writer owns a hash chain named by its writer ID (the function name plus
// a random suffix, new at every cold start): every [Event] stores its
// sequence number (from 1), the previous event's hash (the zero [Hash]
// for the first) and its own hash, SHA-256 over a length-prefixed
// encoding of all its fields ([Event.ComputeHash]). Items are written
// with PutItem conditioned on attribute_not_exists(pk), never updated or
// deleted; expiry is by TTL only.
//
// Events are written either alone with [Writer.Append], or inside the
// caller's own transaction with [Writer.Prepare], [Pending] and
// [Pending.Commit], which costs no extra round trip. A request that
// cannot write its audit event must fail: no personal-data change goes
// unaudited.
//
// Once a day the retention function's [Digester] reads the previous UTC
// day's events through the by-day index and stores a [Digest]: every
// chain's last sequence number, last hash and event count, plus the hash
// of the previous digest, signed by KMS (ECDSA P-256, MessageType
// DIGEST). Every day gets one, a day without events too. A digest is due
// [DigestGrace] after its day ends ([DigestDue]); one made later, for a
// day a run missed, is marked [Digest.Late] inside what is signed.
// [Verify] checks chains and digests with only the public key
// ([ParsePublicKey]); it never calls KMS. It requires a digest made on
// time for every day from the trail's first item through
// [VerifyOptions.SealedThrough] (for a live table, [SealedThrough] of
// now).
//
// # Security properties
//
//   - Deleting, altering, inserting or reordering an event is detected
//     (a sequence gap, a hash mismatch, a prev_hash mismatch, a position
//     or time out of order), and so is any change to a day that has a
//     digest, including the deletion of a chain's tail or of a whole chain.
//   - Forged, altered or deleted digests are detected by the signature,
//     the digest chain, and the rule that every due day has a digest made
//     on time: deleting a digest shows as a missing day, and the next run
//     digesting what is left shows as a late digest.
//   - Events hold no personal data: the subject is a keyed pseudonym
//     computed by the caller, and details pass a cheap guard
//     ([ErrPersonalData]).
//   - A write whose outcome is unknown is never read back (most roles may
//     not read the table); the writer starts a new chain instead, so a
//     chain never forks. An event may then be stored twice with one ID.
//
// # Non-goals
//
//   - Authorship: every role may PutItem, so a principal that can write
//     the table can add well-formed events, or a whole chain, before the
//     day's digest is made. Use CloudTrail data events to attribute writes.
//   - Changes before the day's digest exists: deleting a chain's tail or
//     appending well-formed events is detected only if the writer appends
//     to that chain again (a gap); the digest then seals what it finds.
//     A digest deleted and made again within the grace, by whoever can
//     also invoke the digester or sign, looks on time.
//   - Compromise of the signing role: whoever may call kms:Sign can
//     re-sign history (KMS logs every Sign call in CloudTrail).
//   - Confidentiality: the table is encrypted at rest by KMS, and holds
//     nothing that needs more.
package audit
