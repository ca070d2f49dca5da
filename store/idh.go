package store

import (
	"database/sql/driver"
	"fmt"
	"regexp"
	"strings"

	moderncsqlite "modernc.org/sqlite"

	"github.com/mxarchive/mxarchive/event"
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
// The index (events_eh, on the column eh that holds idh(event_id) since
// migration 020; events_idh on the expression before) is not unique,
// since two IDs may share a hash: a lookup asks for both, idh(event_id) =
// idh(x) AND event_id = x (byIDSQL), which SQLite runs as eh = idh(x) AND
// event_id = x (sqliteForm), and a write batch finds the IDs already
// stored with its probe (probeStored) instead of a conflict. PostgreSQL
// does the same since migration 022, through the ID's key: its idh is
// idkey (the first 8 bytes of the ID's MD5, idkey.go), which its planner
// inlines and matches with events_idkey's expression, so the same SQL
// text serves both. Its unique index on the ID's text, kept until then,
// was a fifth of the server's time inserting events
// (022_event_id_key.sql).
//
// idh is registered with the driver (for every connection of the
// process) before any store opens: the queries hash the IDs they look
// up with it, and migrations 018 and 020 the stored ones. A tool without
// it (the sqlite3 shell) can read the archive, but not look events up by
// their hash.
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

// idh is the hash events_eh keys an event ID by on SQLite: FNV-1a, 64
// bits, as hash/fnv's New64a computes it, without its allocations (it is
// computed for every row written and every ID a lookup names). Stored
// rows and indexes hold it: it must never change (TestIDHIsFNV1a).
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
// list idList made: the IDs' hashes, on SQLite from the JSON array, on
// PostgreSQL each numbered parameter's (idh($1),idh($2),...).
func idhList(d dialect, list string) string {
	if d == postgres { // list is inListPadded's: $1,$2,...
		return "idh(" + strings.ReplaceAll(list, ",", "),idh(") + ")"
	}
	return sqliteIDHRows
}

// On SQLite the hash is a column of its own, eh, written with the row
// (migration 020) and indexed by events_eh; so is events_meeting's
// condition (meeting, by mentionsMeeting). SQLite keeps a statement
// journal for a statement that writes several rows and may abort midway,
// and any function an index calls may fail: with indexes on idh(event_id)
// and LOWER(raw) LIKE '%startmeeting%', every 64-row insert copied each
// index page it changed before changing it (a twentieth of an import's
// CPU, besides the calls into Go for idh and the LOWER and LIKE of every
// message's JSON). The queries keep naming both expressions, which
// PostgreSQL indexes and inlines as they are; sqliteForm turns them into
// the columns wherever SQLite compiles a statement (Store.prepared,
// writer.stmt, the direct path's prepare, Store.dbForm for the rest).
// archiver import of the 1M replay into a fresh data directory, five
// alternated pairs: 45.1-51.4 → 43.6-47.9 s of CPU (medians 50.4 →
// 46.6); the 1M Markdown replay, two pairs: 68.5, 60.2 → 59.4, 51.7.

// eventIDHashOf matches idh of the ID of an events row: unqualified, or
// qualified by an alias the queries give events (e, t, events). Another
// table's event_id (media_refs m) is hashed as any value is.
var eventIDHashOf = regexp.MustCompile(`idh\(((?:e\.|t\.|events\.)?)event_id\)`)

// meetingMentionOf matches meetingMention's condition on any alias.
var meetingMentionOf = regexp.MustCompile(`(\w+\.)type = '` + regexp.QuoteMeta(event.TypeMessage) + `' AND LOWER\((\w+\.)raw\) LIKE '%startmeeting%'`)

// sqliteForm is query as SQLite runs it: each idh of an events row's ID
// read from the row's column eh, each meetingMention from its column
// meeting, and the text of each comment opened by sqliteOnlyOpen read as
// part of the query.
func sqliteForm(query string) string {
	if strings.Contains(query, sqliteOnlyOpen) {
		query = sqliteOnlyOf.ReplaceAllString(query, "$1")
	}
	if strings.Contains(query, "event_id)") {
		query = eventIDHashOf.ReplaceAllString(query, "${1}eh")
	}
	if strings.Contains(query, "startmeeting") {
		query = meetingMentionOf.ReplaceAllStringFunc(query, func(m string) string {
			sub := meetingMentionOf.FindStringSubmatch(m)
			if sub[1] != sub[2] {
				return m // two rows' halves: not the condition
			}
			return sub[1] + "meeting"
		})
	}
	return query
}

// sqliteOnlyOpen begins a comment that SQLite reads as the text up to
// its end (sqliteForm) and PostgreSQL as a comment: an INDEXED BY clause,
// where SQLite, which plans without statistics, would take a partial
// index of a few rows for no better than a full one (pollsIndexed).
const sqliteOnlyOpen = "/*sqlite: "

var sqliteOnlyOf = regexp.MustCompile(regexp.QuoteMeta(sqliteOnlyOpen) + `([^*]*)\*/`)

// dbForm is query as the store's database runs it (sqliteForm on SQLite),
// for the statements run where sqliteForm is not applied already.
func (s *Store) dbForm(query string) string {
	if s.dialect == sqlite {
		return sqliteForm(query)
	}
	return query
}

// MentionsMeeting is events_meeting's condition, for the web: whether a
// message's JSON raw names "startmeeting" as written (in any ASCII case,
// no letter of it escaped), as store.MeetingStarts finds its candidates.
func MentionsMeeting(typ string, raw []byte) bool { return mentionsMeeting(typ, raw) }

// mentionsMeeting is events_meeting's condition on SQLite, computed when
// the row is written (the column meeting): a message whose JSON holds
// "startmeeting" in any ASCII case, as LOWER(raw) LIKE '%startmeeting%'
// matched it (SQLite's LOWER and LIKE fold ASCII letters only).
func mentionsMeeting(typ string, raw []byte) bool {
	if typ != event.TypeMessage {
		return false
	}
	const word = "startmeeting" // letters only: b|0x20 folds them
	for i := 0; i+len(word) <= len(raw); i++ {
		if raw[i]|0x20 != 's' {
			continue
		}
		j := 1
		for j < len(word) && raw[i+j]|0x20 == word[j] {
			j++
		}
		if j == len(word) {
			return true
		}
	}
	return false
}
