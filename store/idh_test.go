package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestEventIDLookupsUseTheirIndex: every query that finds events by ID
// probes an index of the IDs' hashes for it: on SQLite events_eh, on
// PostgreSQL events_idkey (idh is idkey there, and the planner inlines
// both, in the queries and in the index's expression alike). Neither
// database has another index on event_id, so a query that does not name
// idh(event_id) reads the whole table. PostgreSQL kept a unique
// index on the ID's text until migration 022; inserts into it, each at a
// page at random, were a fifth of the server's time inserting an
// import's events (022_event_id_key.sql).
func TestEventIDLookupsUseTheirIndex(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		if st.Dialect() == "postgres" {
			if unique := uniqueOnEventID(t, st); len(unique) > 0 {
				t.Errorf("events keeps a unique index on the ID's text: %v", unique)
			}
		}
		for query, args := range store.EventIDLookups(st) {
			plan := queryPlan(t, st, query, args...)
			name := strings.Join(strings.Fields(query), " ")
			if len(name) > 120 {
				name = name[:120]
			}
			if st.Dialect() == "sqlite" {
				if !strings.Contains(plan, "events_eh") {
					t.Errorf("%s...\ndoes not probe events_eh:\n%s", name, plan)
				}
				// The events table is read whole nowhere (a scan of a
				// partial index, events_meeting, is the meetings page's).
				if regexp.MustCompile(`(?m)SCAN (events|e|t|x)$`).MatchString(plan) {
					t.Errorf("%s...\nscans the events table:\n%s", name, plan)
				}
				continue
			}
			// idh is inlined as idkey, as events_idkey's expression is.
			if strings.Contains(plan, "idh(") || strings.Contains(plan, "idkey(") {
				t.Errorf("%s...\nkeeps idh or idkey in its plan, not inlined:\n%s", name, plan)
			}
			// MeetingStarts' originals are of the room too: in these
			// empty tables the planner finds them on events_room_ts as
			// cheaply; with the statistics of the 1M replay's archive,
			// on events_idkey.
			if !strings.Contains(plan, "events_idkey") && query != store.MeetingStartsSQL(st) {
				t.Errorf("%s...\ndoes not probe events_idkey:\n%s", name, plan)
			}
			if regexp.MustCompile(`Seq Scan on events\b`).MatchString(plan) {
				t.Errorf("%s...\nscans the events table:\n%s", name, plan)
			}
		}
	})
}

// uniqueOnEventID is the unique indexes on events(event_id) of st's
// PostgreSQL database.
func uniqueOnEventID(t *testing.T, st *store.Store) []string {
	t.Helper()
	conn, err := st.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	names, err := store.ScanStrings(conn.QueryContext(context.Background(), `SELECT indexname FROM pg_indexes
		WHERE tablename = 'events' AND indexdef LIKE 'CREATE UNIQUE INDEX % (event_id)'`))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestRepeatsInABatchStoredOnce: with no unique index on the ID to
// conflict on (SQLite, and PostgreSQL since migration 022), an event twice
// in one batch, alone or with one stored before, is stored once: a write
// batch finds what is stored already (probeStored) and leaves out its own
// repeats. (TestPutEventsIdempotent has a batch stored again.)
func TestRepeatsInABatchStoredOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		m := func(evID string, ts int64) store.Event {
			return mk(t, evID, "m.room.message", "@alice:example.org", ts, nil, `{"msgtype":"m.text","body":"`+evID+`"}`)
		}
		a, b, c := m("$a", 2000), m("$b", 2001), m("$c", 2002)
		if res := put(t, st, append(baseRoom(t), a, b, a)...); res.Stored != len(baseRoom(t))+2 || res.Duplicates != 1 {
			t.Errorf("a batch with one event twice: stored %d, duplicates %d; want %d and 1", res.Stored, res.Duplicates, len(baseRoom(t))+2)
		}
		if res := put(t, st, b, c, c, a); res.Stored != 1 || res.Duplicates != 3 {
			t.Errorf("a batch of two stored events and a new one twice: stored %d, duplicates %d; want 1 and 3", res.Stored, res.Duplicates)
		}
		n, err := st.CountEvents(ctx)
		if err != nil || n != int64(len(baseRoom(t))+3) {
			t.Errorf("CountEvents = %d, %v; want %d", n, err, len(baseRoom(t))+3)
		}
		got, err := st.EventsByID(ctx, []id.EventID{"$a", "$b", "$c"})
		if err != nil || len(got) != 3 {
			t.Errorf("EventsByID found %d events of 3 stored once each (%v)", len(got), err)
		}
		changes, err := st.Changes(ctx, 0, 1000)
		if err != nil || len(changes) != len(baseRoom(t))+3 {
			t.Errorf("%d changes fed (%v), want one for each of %d events", len(changes), err, len(baseRoom(t))+3)
		}
	})
}

// TestEventIDHashMigration: an archive made before 018 (a unique index on
// the ID's text) is made anew with events_idh: its rows and their nids
// stay, lookups find them, and a nid once given (to an event deleted
// since) is not given again.
func TestEventIDHashMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := store.Config{Type: "sqlite", URI: filepath.Join(dir, "old.db")}
	st, err := store.Open(ctx, cfg, dir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []store.Event{
		mk(t, "$m1", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"one"}`),
		mk(t, "$m2", "m.room.message", "@alice:example.org", 2001, nil, `{"msgtype":"m.text","body":"two"}`),
		mk(t, "$m3", "m.room.message", "@alice:example.org", 2002, nil, `{"msgtype":"m.text","body":"three"}`),
	}
	put(t, st, append(baseRoom(t), msgs...)...)
	st.Close()

	db, err := sql.Open("sqlite", cfg.URI)
	if err != nil {
		t.Fatal(err)
	}
	var seq int64
	if err := db.QueryRow(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	// The table as 001 made it (event_id UNIQUE, 014's related last),
	// without its last event, whose nid AUTOINCREMENT remembers.
	execEach(t, db,
		`DELETE FROM events WHERE event_id = '$m3'`,
		`CREATE TABLE events_old (nid INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL,
			type TEXT NOT NULL, state_key TEXT, sender TEXT NOT NULL, sender_name TEXT NOT NULL DEFAULT '', origin_ts BIGINT NOT NULL,
			public BOOLEAN NOT NULL, rel_type TEXT NOT NULL DEFAULT '', rel_target TEXT NOT NULL DEFAULT '', rel_key TEXT NOT NULL DEFAULT '',
			reply_to TEXT NOT NULL DEFAULT '', raw TEXT NOT NULL, redacted BOOLEAN NOT NULL DEFAULT FALSE, received_at BIGINT NOT NULL,
			related BOOLEAN NOT NULL DEFAULT FALSE)`,
		`INSERT INTO events_old SELECT nid, event_id, room_id, type, state_key, sender, sender_name, origin_ts, public,
			rel_type, rel_target, rel_key, reply_to, raw, redacted, received_at, related FROM events`,
		`DROP TABLE events`,
		`ALTER TABLE events_old RENAME TO events`,
		`UPDATE sqlite_sequence SET seq = `+strconv.FormatInt(seq, 10)+` WHERE name = 'events'`,
		`UPDATE schema_version SET version = 17`,
	)
	db.Close()

	st = migrated(t, cfg, dir)
	if n, err := st.CountEvents(ctx); err != nil || n != int64(len(baseRoom(t))+2) {
		t.Errorf("CountEvents after the migration = %d, %v; want %d", n, err, len(baseRoom(t))+2)
	}
	eventsAfterMigration(t, st, "$create", "$m1", "$m2")
	put(t, st, mk(t, "$m4", "m.room.message", "@alice:example.org", 2003, nil, `{"msgtype":"m.text","body":"four"}`))
	if res := put(t, st, msgs[0]); res.Duplicates != 1 {
		t.Errorf("an event stored before the migration, stored again: %+v, want a duplicate", res)
	}
	db, err = sql.Open("sqlite", cfg.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var nid int64
	if err := db.QueryRow(`SELECT nid FROM events WHERE event_id = '$m4'`).Scan(&nid); err != nil {
		t.Fatal(err)
	}
	if nid <= seq {
		t.Errorf("the event after the migration has nid %d, given before (to a deleted event) up to %d", nid, seq)
	}
	var indexes string
	if err := db.QueryRow(`SELECT group_concat(name, ' ') FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'`).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"events_eh", "events_room_ts", "events_state", "events_rel", "events_sender", "events_meeting", "events_related", "events_space_child", "events_shown"} {
		if !strings.Contains(" "+indexes+" ", " "+want+" ") {
			t.Errorf("index %s missing after the migration: %s", want, indexes)
		}
	}
	if strings.Contains(indexes, "sqlite_autoindex_events") {
		t.Errorf("the unique index on event_id is still there: %s", indexes)
	}
}

// TestEventColumnsMigration: migration 020 gives every stored event its
// columns eh (idh of its ID) and meeting (events_meeting's old condition
// on its JSON) and indexes them in place of the old expression indexes;
// the archive's events are found by ID and its meetings listed as
// before, and events stored after it get the same columns.
func TestEventColumnsMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := store.Config{Type: "sqlite", URI: filepath.Join(dir, "old.db")}
	st, err := store.Open(ctx, cfg, dir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	alice := "@alice:example.org"
	msgs := []store.Event{
		mk(t, "$s1", "m.room.message", alice, 2000, nil, `{"msgtype":"m.text","body":"#startmeeting infra"}`),
		mk(t, "$chat", "m.room.message", alice, 2001, nil, `{"msgtype":"m.text","body":"hello"}`),
		mk(t, "$s2", "m.room.message", alice, 2002, nil, `{"msgtype":"m.text","body":"#STARTMEETING docs"}`),
		mk(t, "$topic", "m.room.topic", alice, 2003, sk(""), `{"topic":"#startmeeting at noon"}`),
	}
	put(t, st, append(baseRoom(t), msgs...)...)
	st.Close()

	// The schema as migration 019 left it.
	db, err := sql.Open("sqlite", cfg.URI)
	if err != nil {
		t.Fatal(err)
	}
	execEach(t, db,
		`DROP INDEX events_eh`,
		`DROP INDEX events_meeting`,
		`ALTER TABLE events DROP COLUMN eh`,
		`ALTER TABLE events DROP COLUMN meeting`,
		`CREATE INDEX events_idh ON events (idh(event_id))`,
		`CREATE INDEX events_meeting ON events (room_id, origin_ts, nid) WHERE type = 'm.room.message' AND LOWER(raw) LIKE '%startmeeting%'`,
		`UPDATE schema_version SET version = 19`,
	)
	db.Close()

	st = migrated(t, cfg, dir)
	put(t, st, mk(t, "$s3", "m.room.message", alice, 2004, nil, `{"msgtype":"m.text","body":"#StartMeeting later"}`))
	eventsAfterMigration(t, st, "$create", "$s1", "$chat", "$topic", "$s3")
	if res := put(t, st, msgs[1]); res.Duplicates != 1 {
		t.Errorf("an event stored before the migration, stored again: %+v, want a duplicate", res)
	}
	starts, err := st.MeetingStarts(ctx, room, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range starts {
		got = append(got, string(e.ID))
	}
	if strings.Join(got, " ") != "$s1 $s2 $s3" {
		t.Errorf("MeetingStarts after the migration = %v, want $s1 $s2 $s3", got)
	}

	db, err = sql.Open("sqlite", cfg.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// idh is registered with the driver by the store package.
	var rows, hashed, meetings int
	if err := db.QueryRow(`SELECT COUNT(*), COUNT(*) FILTER (WHERE eh = idh(event_id)),
		COUNT(*) FILTER (WHERE meeting) FROM events`).Scan(&rows, &hashed, &meetings); err != nil {
		t.Fatal(err)
	}
	if hashed != rows || meetings != 3 {
		t.Errorf("after the migration: %d of %d rows hold idh(event_id) in eh, %d meeting; want all and 3", hashed, rows, meetings)
	}
	var indexes string
	if err := db.QueryRow(`SELECT group_concat(name, ' ') FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'`).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(" "+indexes+" ", " events_eh ") || strings.Contains(indexes, "events_idh") {
		t.Errorf("indexes after the migration: %s; want events_eh and not events_idh", indexes)
	}
	var def string
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE name = 'events_meeting'`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(def, "LOWER") || !strings.HasSuffix(def, "WHERE meeting") {
		t.Errorf("events_meeting after the migration: %s", def)
	}
}

// execEach runs each statement on db, in order.
func execEach(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// eventsAfterMigration checks that each event is found by its ID.
func eventsAfterMigration(t *testing.T, st *store.Store, ids ...id.EventID) {
	t.Helper()
	for _, evID := range ids {
		if _, err := st.EventByID(context.Background(), evID); err != nil {
			t.Errorf("event %s after the migration: %v", evID, err)
		}
	}
}

// migrated opens the archive at cfg and dir, migrating it, and closes it
// when the test ends.
func migrated(t *testing.T, cfg store.Config, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), cfg, dir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
