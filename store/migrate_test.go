package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A database left at schema version 1 by an older mxarchive, with data in
// it, migrates forward and keeps its data.
func TestMigratesForwardFromVersion1(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			dir := t.TempDir()
			cfg := store.Config{Type: d, URI: filepath.Join(dir, "old.db")}
			driver := "sqlite"
			if d == "postgres" {
				cfg.URI, driver = pgtest.NewDatabase(t), "pgx"
			}
			// Version 1 as released; its file must never change.
			v1, err := os.ReadFile(filepath.Join("migrations", d, "001_init.sql"))
			if err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open(driver, cfg.URI)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				string(v1),
				`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
				`INSERT INTO schema_version (version) VALUES (1)`,
				`INSERT INTO rooms (room_id, name, history_visibility, message_count, canonical_alias) VALUES ('!old:example.org', 'Old room', 'world_readable', 1, '#old:example.org')`,
				// Aliases before 006: last writer wins. #old is nobody else's;
				// #real is two rooms' canonical alias, and the squatter wrote last.
				`INSERT INTO rooms (room_id, canonical_alias) VALUES ('!real:example.org', '#real:example.org'), ('!squat:example.org', '#real:example.org')`,
				`INSERT INTO room_aliases (alias, room_id, seen_ts) VALUES ('#old:example.org', '!old:example.org', 1), ('#real:example.org', '!squat:example.org', 2)`,
				`INSERT INTO events (event_id, room_id, type, sender, origin_ts, public, content, raw, received_at)
				 VALUES ('$old', '!old:example.org', 'm.room.message', '@a:example.org', 5, TRUE,
				 '{"msgtype":"m.text","body":"from v1"}',
				 '{"event_id":"$old","room_id":"!old:example.org","type":"m.room.message","sender":"@a:example.org","origin_server_ts":5,"content":{"msgtype":"m.text","body":"from v1"}}', 5)`,
				// A reaction to it: 014 marks $old related.
				`INSERT INTO events (event_id, room_id, type, sender, origin_ts, public, rel_type, rel_target, rel_key, content, raw, received_at)
				 VALUES ('$react', '!old:example.org', 'm.reaction', '@b:example.org', 6, TRUE, 'm.annotation', '$old', '+1',
				 '{"m.relates_to":{"rel_type":"m.annotation","event_id":"$old","key":"+1"}}',
				 '{"event_id":"$react","room_id":"!old:example.org","type":"m.reaction","sender":"@b:example.org","origin_server_ts":6,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$old","key":"+1"}}}', 6)`,
				// A member event that says it replaces $old: 024 makes it
				// no relation, as the writer now keeps none of a state event.
				`INSERT INTO events (event_id, room_id, type, state_key, sender, origin_ts, public, rel_type, rel_target, content, raw, received_at)
				 VALUES ('$rename', '!old:example.org', 'm.room.member', '@a:example.org', '@a:example.org', 7, TRUE, 'm.replace', '$old',
				 '{"membership":"join","displayname":"Old","m.relates_to":{"rel_type":"m.replace","event_id":"$old"}}',
				 '{"event_id":"$rename","room_id":"!old:example.org","type":"m.room.member","state_key":"@a:example.org","sender":"@a:example.org","origin_server_ts":7,"content":{"membership":"join","displayname":"Old","m.relates_to":{"rel_type":"m.replace","event_id":"$old"}}}', 7)`,
			} {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("building the v1 database: %v", err)
				}
			}
			db.Close()

			st, err := store.Open(context.Background(), cfg, dir, storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatalf("migrating from v1: %v", err)
			}
			defer st.Close()
			if st.SchemaVersion() < 2 {
				t.Fatalf("schema version %d after migrating", st.SchemaVersion())
			}
			ev, err := st.EventByID(context.Background(), "$old")
			if err != nil || string(ev.Content) != `{"msgtype":"m.text","body":"from v1"}` {
				t.Errorf("v1 event after migration: %s, %v", ev.Content, err)
			}
			rel, err := st.RelatedIn(context.Background(), "!old:example.org", store.Position{}, store.Position{TS: 100})
			if err != nil || len(rel) != 1 || rel[0].ID != "$react" {
				t.Errorf("v1 event's relations after migration: %v, %v", relIDs(rel), err)
			}
			if ev, err := st.EventByID(context.Background(), "$rename"); err != nil || ev.Rel != (event.Relation{}) {
				t.Errorf("a state event's relation after migration: %+v, %v", ev.Rel, err)
			}
			r, err := st.Room(context.Background(), "!old:example.org")
			if err != nil || r.Name != "Old room" || r.BotMembership != "" || !r.Shown() {
				t.Errorf("v1 room after migration: %+v, %v", r, err)
			}
			if err := st.SetRoomSync(context.Background(), store.RoomSync{RoomID: "!old:example.org", ForwardToken: "t1"}); err != nil {
				t.Errorf("a v2 table is missing: %v", err)
			}
			// 006: an uncontested alias keeps routing; a contested one
			// routes nowhere until the directory is asked; all are claims.
			if got, err := st.RoomIDByAlias(context.Background(), "#old:example.org"); err != nil || got != "!old:example.org" || r.Alias != "#old:example.org" {
				t.Errorf("#old after migration: %q, %v; slug %q", got, err, r.Alias)
			}
			if got, err := st.RoomIDByAlias(context.Background(), "#real:example.org"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("contested #real after migration routes to %q, %v", got, err)
			}
			pending, err := st.PendingAliasClaims(context.Background(), time.Time{}, time.Time{}, 10)
			if err != nil || len(pending) != 3 {
				t.Errorf("pending claims after migration: %+v, %v", pending, err)
			}
		})
	}
}

// A database made by a development build between versions 3 and 4 never
// had the column 004 drops: 004 is skipped there, not an error.
func TestMigrationSkippedWhereNotNeeded(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			dir := t.TempDir()
			cfg := store.Config{Type: d, URI: filepath.Join(dir, "dev.db")}
			driver := "sqlite"
			if d == "postgres" {
				cfg.URI, driver = pgtest.NewDatabase(t), "pgx"
			}
			st, err := store.Open(context.Background(), cfg, dir, storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			latest := st.SchemaVersion()
			st.Close()
			db, err := sql.Open(driver, cfg.URI)
			if err != nil {
				t.Fatal(err)
			}
			// Back to version 3: later migrations run again on reopening,
			// so their objects go first (each migration after 004 adds its
			// undo here).
			undo := []string{
				`DROP TABLE alias_claims`, `DROP INDEX room_aliases_room`, `ALTER TABLE room_aliases DROP COLUMN how`, // 006_alias
				`DROP INDEX media_queue_site_leased`, `ALTER TABLE media_queue DROP COLUMN site`, // 032_media_site, which dropped 031_media_server_claims's index (before the columns the index names)
				`ALTER TABLE media_queue DROP COLUMN lease_owner`, `ALTER TABLE media_queue DROP COLUMN lease_until`, `ALTER TABLE media_queue DROP COLUMN quota`, // 009_media_lease
				`ALTER TABLE tombstones DROP COLUMN origin_ts`,                        // 011_tombstone_time
				`DROP INDEX events_meeting`,                                           // 013_meeting_index (012 drops its own index first)
				`DROP INDEX events_related`, `ALTER TABLE events DROP COLUMN related`, // 014_related
				`DROP INDEX events_space_child`, // 016_space_child
				`DROP INDEX events_shown`,       // 017_shown
				`UPDATE schema_version SET version = 3`,
			}
			if d == "postgres" {
				undo = append(undo, `DROP FUNCTION idh(text)`, // 018_event_id_hash (SQLite's makes its table anew)
					`DROP INDEX events_idkey`, `DROP FUNCTION idkey(text)`) // 019_event_key
			}
			for _, q := range undo {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db.Close()
			st, err = store.Open(context.Background(), cfg, dir, storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatalf("reopening a database without events.content at version 3: %v", err)
			}
			defer st.Close()
			// Not a number: later migrations add to it.
			db, err = sql.Open(driver, cfg.URI)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var v int
			if err := db.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != latest {
				t.Errorf("schema version %d, %v; want %d", v, err, latest)
			}
		})
	}
}
