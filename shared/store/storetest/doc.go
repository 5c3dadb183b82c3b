// Package storetest runs shared/store (and any package over waguard's
// DynamoDB tables) without the local stack: an in-memory DynamoDB with
// every table template.yaml declares, keys and indexes included, and a
// KMS stand-in for shared/envelope. It is for tests only; no function
// imports it, so no Lambda binary links it.
//
// The repository tests of the store still run against DynamoDB Local
// (make test); these run everywhere, in a second.
//
// # The table: minidyn, corrected
//
// The tables are github.com/truora/minidyn's in-memory DynamoDB
// (aws-sdk-go-v2 client), behind [DB], which corrects the ways minidyn
// v0.8.2 differs from DynamoDB in something waguard relies on. Each was
// found with a probe against minidyn and is pinned by a test of this
// package (storetest_test.go), so an upgrade that fixes or breaks one
// shows:
//
//   - REMOVE: minidyn ignores an UpdateExpression's REMOVE clause (the
//     attribute stays, and so does the item in a sparse index keyed by
//     it; the erasure's completion removes `lookup` to leave the pending
//     index). [DB] runs the rest of the update, then removes the
//     top-level attributes itself in the same locked step; a nested path
//     is refused.
//   - Limit and FilterExpression: DynamoDB reads Limit items matching the
//     key condition, then filters them, so a page can be empty and still
//     have a LastEvaluatedKey. minidyn counts every item of the table
//     towards Limit when a filter is present (pages end on keys of other
//     partitions). [DB] reads the page without the filter (minidyn is
//     right there), then keeps the page's items the filter passes.
//   - Cancellation reasons: DynamoDB reports, for a cancelled
//     transaction, every item whose condition failed; minidyn stops at
//     the first. [DB] evaluates each item's condition against the
//     unchanged table and reports them all (audit.Pending reads the
//     reasons of its own items).
//   - Number sort keys: minidyn orders index keys as strings, so "9"
//     sorts after "10". [DB] fails a query of an index with a number sort
//     key whose values differ in width (Unix seconds today all have ten
//     digits, where string order is number order).
//   - Context: minidyn ignores it; [DB] refuses a call whose context is
//     done.
//
// # Not modelled
//
// Eventual consistency (indexes and reads are always current), TTL
// deletion (store filters expired items itself, which tests see),
// TransactionConflict and throttling, the 1 MB page and 400 KB item
// limits, and consumed capacity. Tests that depend on those stay stack
// tests.
//
// # KMS
//
// [KMS] wraps data keys with AES-256-GCM under a random key of its own,
// binding the key id and the encryption context as associated data, like
// KMS: a ciphertext opens only with the context it was made with.
package storetest
