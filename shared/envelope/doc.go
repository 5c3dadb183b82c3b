// Package envelope encrypts personal data fields for one data subject, so
// that deleting that subject's key erases every copy of the data
// (crypto-shredding). It follows the AWS Encryption SDK hierarchical keyring
// and its key-committing algorithm suites.
//
// # Key hierarchy
//
//   - A KMS customer-managed key wraps a 256-bit branch key
//     (GenerateDataKey with encryption context purpose=waguard-branch-key,
//     version=<n>). The wrapped copy lives in the keys table at
//     pk="branch", sk="v#<n>"; pk="branch", sk="active" points at the
//     version that wraps new subject keys; [Envelope.RotateBranchKey]
//     adds a version.
//   - Each data subject has a random 256-bit subject key, wrapped under a
//     branch key with AES-256-GCM at pk="subject#<subject id>", sk="key".
//   - Each field value is encrypted with AES-256-GCM under a key derived
//     from the subject key with HKDF-SHA256 and a random 32-byte salt.
//
// See docs/crypto.md for the ciphertext format and the design trade-offs.
//
// # Security properties
//
//   - Confidentiality and integrity of each field (AES-256-GCM).
//   - Binding: the associated data [AD] (table, pk, sk, attribute) is
//     authenticated, so a ciphertext copied to another item or attribute
//     fails to decrypt.
//   - Key commitment: the header carries an HKDF-derived commitment that is
//     checked in constant time before decrypting, so a ciphertext decrypts
//     under at most one subject key.
//   - Any failed decryption returns the single opaque [ErrDecrypt].
//   - Fail closed: when KMS or the keys table cannot be reached, Encrypt
//     returns an error and writes nothing.
//   - KMS sees only non-personal encryption context values: a fixed purpose
//     and a version number. Subject ids never leave the keys table.
//   - Plaintext key material stays in unexported types that never print;
//     no exported API returns it.
//
// # Caching
//
// KMS is called only to create or unwrap a branch key: an unwrapped branch
// key is cached for [Config.BranchTTL] (default 10 minutes). Unwrapped
// subject keys are cached in an LRU bounded by [Config.SubjectCacheSize]
// and [Config.SubjectTTL] (default 10,000 keys, 5 minutes). A subject key
// deleted by another process therefore stays usable in this process for at
// most SubjectTTL; anything encrypted with it meanwhile is unreadable once
// that cache entry expires.
//
// # Non-goals
//
// The package does not hide ciphertext length, does not zero key material
// in memory (the Go runtime gives no such guarantee), and does not write
// data items: callers store the returned ciphertext themselves.
package envelope
