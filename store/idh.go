package store

import (
	"database/sql/driver"
	"fmt"

	moderncsqlite "modernc.org/sqlite"
)

// Events are found by event ID through a hash of it on SQLite.
//
// An event ID is random (a hash, in room versions 4 and later), so each
// event's entry in an index keyed by its ID lands on a page at random,
// and every write transaction rewrites each page it touched, whole, into
// the WAL and then the database file. A unique index on the ID text (44
// bytes an entry) held 14,505 pages at 1M IRC messages: an import's batch
// of 50,000 events touched nearly all of them, and the index cost a
// quarter of the import (the 1M replay with the same IDs made
// time-ordered: 30 s against 42). Keyed by idh, the ID's 64-bit FNV-1a
// hash, the index holds 4,580 pages at 1M (13,766 at 3M, against
// 43,488). archiver import into a fresh data directory, alternated: the
// 1M replay 41.9 and 43.0 s → 38.5 and 38.0, the 3M one 177.2 → 139.7.
// An appservice transaction of 100 random IDs into the 1M archive was
// acked at 11.8-12.6 ms (p50) → 7.7-8.0.
//
// The index (events_idh, on idh(event_id)) is not unique, since two IDs
// may share a hash: a lookup asks for both, idh(event_id) = idh(x) AND
// event_id = x (byIDSQL), and a write batch finds the IDs already stored
// with its probe (probeStored) instead of a conflict. SQLite uses an
// index on an expression only where a query repeats the expression, so
// every lookup by ID names idh. PostgreSQL keeps its unique index on the
// text (a B-tree it logs by row, not by page) and defines idh as the
// identity, which its planner inlines: the same SQL text serves both.
//
// idh is registered with the driver (for every connection of the
// process) before any store opens. A tool without it (the sqlite3 shell)
// can read the archive, but not write events or check the index.
func init() {
	moderncsqlite.MustRegisterDeterministicScalarFunction("idh", 1, func(_ *moderncsqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return idh(v), nil
		case []byte:
			return idh(v), nil
		case nil:
			return nil, nil
		default:
			return nil, fmt.Errorf("idh of a %T", v)
		}
	})
}

// idh is the hash events_idh keys an event ID by on SQLite: FNV-1a, 64
// bits, as hash/fnv's New64a computes it, without its allocations (SQLite
// calls it for every row an insert indexes and every ID a lookup names).
// Stored indexes hold it: it must never change (TestIDHIsFNV1a).
func idh[T string | []byte](s T) int64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return int64(h)
}

// sqliteIDHRows is sqliteIDRows's IDs hashed (idh), for a lookup of a
// list of event IDs in events (idhList).
const sqliteIDHRows = "SELECT idh(value) FROM json_each($1)"

// idhList is what a query's idh(event_id) IN (%[2]s) is given for the
// list idList made: the IDs' hashes on SQLite, the list itself on
// PostgreSQL (where idh is the identity).
func idhList(d dialect, list string) string {
	if d == postgres {
		return list
	}
	return sqliteIDHRows
}
