// Package store owns mxarchive's SQL schema and every query: rooms, events,
// redactions and the change feed. It runs on SQLite (the embedded default,
// pure Go, WAL) and PostgreSQL (pgx), with one set of SQL texts ($n
// placeholders work in both) and numbered migrations embedded per dialect.
//
// The archiver is the only writer. Every write is one database transaction
// that also appends to the change feed, so a reader tailing the feed (the
// search indexer) never sees a change that did not commit, and positions are
// handed out in commit order (writers are serialized: BEGIN IMMEDIATE on
// SQLite, a transaction-scoped advisory lock on PostgreSQL).
//
// Every string a write binds is made storable by both databases (text.go),
// and a batch the database still refuses is written in parts so that only
// the refused events are left out, quarantined for the operator
// (quarantine.go).
package store
