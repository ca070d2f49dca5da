// Package retention owns what the archive keeps and for how long: the
// operator's policy (Synapse's `retention:` semantics), lifetimes as
// operators write them, MSC1763's m.room.retention content, the effective
// max_lifetime of a room under the operator's clamps, and the job that
// deletes expired messages in batches.
//
// It is a leaf (standard library and mautrix's id only). The store must
// screen every read against the effective policy, so the store imports this
// package, never the other way round; the purge job declares the one store
// method it needs (Purger).
package retention
