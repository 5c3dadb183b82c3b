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
// package (storetest_test.go) that fails on minidyn alone:
//
//   - REMOVE: minidyn ignores an UpdateExpression's REMOVE clause (the
//     attribute stays, and so does the item in a sparse index keyed by
//     it; the erasure's completion removes `lookup` to leave the pending
//     index). [DB] runs the rest of the update, then removes the
//     top-level attributes itself in the same locked step; a nested path,
//     or an update of REMOVE alone, is refused.
//   - Query paging: DynamoDB reads Limit items matching the key
//     condition, then filters them (a page can be empty and still have a
//     LastEvaluatedKey), orders number sort keys by value, and goes on
//     after an ExclusiveStartKey whether or not that item still exists.
//     minidyn counts every item of the table towards Limit when a filter
//     is present (pages end on keys of other partitions), orders number
//     keys as strings ("9" after "10"), and returns nothing after a start
//     key whose item was deleted (the sweep deletes a page, then reads on
//     from its last key). [DB] lets minidyn match the key condition and
//     the filter, and orders, pages and projects itself.
//   - Cancellation reasons: DynamoDB reports, for a cancelled
//     transaction, every item whose condition failed; minidyn stops at
//     the first. [DB] evaluates each item's condition against the
//     unchanged table and reports them all (audit.Pending reads the
//     reasons of its own items).
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
