package store

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// An event's key is the 8 bytes the search index names its document by,
// beside its time: an event ID of room version 4 and later is 44
// characters, and the index held it twice a message (a term of its ID
// dictionary and a stored copy), about half of an index of IRC lines. The
// store finds events by key through an index it keeps for that:
//
//   - on SQLite the key is idh, the FNV-1a hash events_eh already keys
//     every event's ID by (idh.go), so the key costs an import nothing;
//   - on PostgreSQL the key is the first 8 bytes of the ID's MD5 (idkey,
//     an immutable SQL function, and the index events_idkey on it,
//     019_event_key), which is also how it finds events by ID since 022
//     (its idh is idkey). PostgreSQL has MD5 built in; FNV-1a in SQL
//     would be a loop per row.
//
// Two events may share a key. Neither hash is chosen for being hard to
// invert: an event ID is itself a hash of what its sender wrote, so making
// one whose key is another message's takes about 2^64 tries, and making
// two of one's own share a key hides only one's own message from search.
// The index names a document by time and key together (indexer.docID),
// and EventsByKey returns every event of a key for the indexer to match
// by time.
//
// Keys are held in indexes on disk: neither function may ever change
// (TestIDKeyIsStable).
func (s *Store) IDKey(ev id.EventID) uint64 {
	if s.dialect == postgres {
		return md5Key(string(ev))
	}
	return uint64(idh(string(ev)))
}

// md5Key is PostgreSQL's idkey(ev): ('x' || left(md5(ev), 16))::bit(64)
// ::bigint, the first 8 bytes of the MD5 of the ID's UTF-8 bytes, read
// big-endian.
func md5Key(ev string) uint64 {
	sum := md5.Sum([]byte(ev))
	return binary.BigEndian.Uint64(sum[:8])
}

// eventsByKeySQL reads the events whose key is in a list: %[1]s is the
// key's expression (the one its index is on), %[2]s the list.
const eventsByKeySQL = `SELECT ` + eventColumns + ` FROM events WHERE %[1]s IN (%[2]s)`

// EventsByKey returns the stored events whose IDKey is one of keys, in no
// particular order, screened as EventsByID screens them: an event hidden
// from readers (expired, opted out, its room no longer public) is absent.
// Several events may share a key; each is returned.
func (s *Store) EventsByKey(ctx context.Context, keys []uint64) ([]Event, error) {
	var out []Event
	for len(keys) > 0 {
		n := min(len(keys), maxIDsPerQuery)
		expr, list, args, err := keyList(s.dialect, keys[:n])
		if err != nil {
			return nil, fmt.Errorf("events by key: %w", err)
		}
		qctx, cancel := s.readCtx(ctx)
		evs, err := s.queryEventsSized(qctx, n, "", fmt.Sprintf(eventsByKeySQL, expr, list), args...)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("events by key: %w", err)
		}
		out = append(out, evs...)
		keys = keys[n:]
	}
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	return s.screen(ctx, out, false)
}

// keyList is the key's expression and a list of keys as it takes them:
// numbered parameters padded as inListPadded pads IDs on PostgreSQL, one
// JSON array on SQLite. Keys are signed in SQL (bigint, SQLite's
// integers): their bits are the same.
func keyList(d dialect, keys []uint64) (expr, list string, args []any, err error) {
	if d == postgres {
		list, args := padded(keys, func(k uint64) any { return int64(k) })
		return "idkey(event_id)", list, args, nil
	}
	signed := make([]int64, len(keys))
	for i, k := range keys {
		signed[i] = int64(k)
	}
	b, err := json.Marshal(signed)
	if err != nil {
		return "", "", nil, err
	}
	return "eh", sqliteIDRows, []any{string(b)}, nil
}

// EventTimesByKey returns the ID and time of every stored event whose
// IDKey is one of keys, unscreened: for telling which store's keys a
// search index's documents are named by (an expired, opted-out or
// withheld message is still this store's), never for showing anything.
func (s *Store) EventTimesByKey(ctx context.Context, keys []uint64) (map[id.EventID]int64, error) {
	out := map[id.EventID]int64{}
	for len(keys) > 0 {
		n := min(len(keys), maxIDsPerQuery)
		expr, list, args, err := keyList(s.dialect, keys[:n])
		if err != nil {
			return nil, fmt.Errorf("event times by key: %w", err)
		}
		if err := func() error {
			qctx, cancel := s.readCtx(ctx)
			defer cancel()
			rows, err := s.query(qctx, fmt.Sprintf(`SELECT event_id, origin_ts FROM events WHERE %[1]s IN (%[2]s)`, expr, list), args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var evID string
				var ts int64
				if err := rows.Scan(&evID, &ts); err != nil {
					return err
				}
				out[id.EventID(evID)] = ts
			}
			return rows.Err()
		}(); err != nil {
			return nil, fmt.Errorf("event times by key: %w", err)
		}
		keys = keys[n:]
	}
	return out, nil
}
