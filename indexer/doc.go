// Package indexer owns archive-web's Bleve search index: what a document is,
// following the store's change feed into the index, rebuilding it, and
// searching. The index is derived data and never trusted alone: it proposes
// candidate events, and every hit is checked against the store before it is
// returned, so a redacted, expired or hidden message is never found, even
// before the index catches up.
package indexer
