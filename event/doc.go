// Package event holds mxarchive's Matrix domain model: parsing and validating
// untrusted event JSON, the redaction algorithm for every room version,
// relations (edits, replies, threads, reactions), reply-fallback stripping and
// matrix.to links. Everything here is a pure function over bytes and values:
// no I/O, no database, no HTTP.
package event
