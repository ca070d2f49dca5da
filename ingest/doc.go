// Package ingest turns Matrix events from any source (appservice
// transactions, backfill, export files) into archive writes. It decides, per
// event, what the store cannot: whether the room's history was public when
// the event was sent, the sender's display name at that moment, and the
// event's relations. It never writes anything the store does not commit.
package ingest
