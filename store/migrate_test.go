package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

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
				`INSERT INTO rooms (room_id, name, history_visibility, message_count) VALUES ('!old:example.org', 'Old room', 'world_readable', 1)`,
				`INSERT INTO events (event_id, room_id, type, sender, origin_ts, public, content, raw, received_at)
				 VALUES ('$old', '!old:example.org', 'm.room.message', '@a:example.org', 5, TRUE,
				 '{"msgtype":"m.text","body":"from v1"}',
				 '{"event_id":"$old","room_id":"!old:example.org","type":"m.room.message","sender":"@a:example.org","origin_server_ts":5,"content":{"msgtype":"m.text","body":"from v1"}}', 5)`,
			} {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("building the v1 database: %v", err)
				}
			}
			db.Close()

			st, err := store.Open(context.Background(), cfg, dir, storetest.Logger(t))
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
			r, err := st.Room(context.Background(), "!old:example.org")
			if err != nil || r.Name != "Old room" || r.BotMembership != "" || r.Unavailable() != "" {
				t.Errorf("v1 room after migration: %+v, %v", r, err)
			}
			if err := st.SetRoomSync(context.Background(), store.RoomSync{RoomID: "!old:example.org", ForwardToken: "t1"}); err != nil {
				t.Errorf("a v2 table is missing: %v", err)
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
			st, err := store.Open(context.Background(), cfg, dir, storetest.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			latest := st.SchemaVersion()
			st.Close()
			db, err := sql.Open(driver, cfg.URI)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`UPDATE schema_version SET version = 3`); err != nil {
				t.Fatal(err)
			}
			db.Close()
			st, err = store.Open(context.Background(), cfg, dir, storetest.Logger(t))
			if err != nil {
				t.Fatalf("reopening a database without events.content at version 3: %v", err)
			}
			defer st.Close()
			if st.SchemaVersion() != latest {
				t.Errorf("schema version %d", st.SchemaVersion())
			}
		})
	}
}
