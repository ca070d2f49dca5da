package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// IDs compare as bytes on both databases, whatever the PostgreSQL
// database's default collation: here English's (ICU en-US), which sorts
// "!a" before "!B" and "!_c" before both. RoomStatuses lists rooms by
// room ID; on PostgreSQL every text column of the schema has the "C"
// collation (migration 021), which a later migration adding a text column
// must keep.
func TestTextComparesAsBytes(t *testing.T) {
	rooms := []string{"!a:example.org", "!B:example.org", "!_c:example.org", "!\u00e4:example.org", "!Z:example.org"}
	want := slices.Sorted(slices.Values(rooms)) // Go compares strings as bytes, as SQLite's BINARY
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			cfg := store.Config{Type: d, URI: filepath.Join(dir, "c.db")}
			if d == "postgres" {
				cfg.URI = englishDatabase(t)
			}
			st, err := store.Open(ctx, cfg, dir, storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for i, r := range rooms {
				put(t, st, mkIn(t, id.RoomID(r), "$create"+r, "m.room.create", int64(1000+i), sk(""),
					`{"room_version":"10","creator":"@alice:example.org"}`))
			}
			all, err := st.RoomStatuses(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range all {
				got = append(got, string(s.Room.ID))
			}
			if !slices.Equal(got, want) {
				t.Errorf("rooms by ID = %q, want %q (as bytes)", got, want)
			}
			if d != "postgres" {
				return
			}
			db, err := sql.Open("pgx", cfg.URI)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			rows, err := db.QueryContext(ctx, `SELECT table_name || '.' || column_name || ' ' || COALESCE(collation_name, '(the default)')
				FROM information_schema.columns
				WHERE table_schema = current_schema() AND data_type = 'text' AND collation_name IS DISTINCT FROM 'C'
				ORDER BY 1`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var c string
				if err := rows.Scan(&c); err != nil {
					t.Fatal(err)
				}
				t.Errorf("text column %s does not compare as bytes: declare it COLLATE \"C\" in a PostgreSQL migration", c)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// englishDatabase is a new PostgreSQL database whose default collation is
// English's (ICU en-US), where the server can make one (PostgreSQL 15 or
// later, built with ICU, as Debian's is); else, logged, one as pgtest makes
// them, where only the columns' collations are checked.
func englishDatabase(t *testing.T) string {
	plain := pgtest.NewDatabase(t)
	db, err := sql.Open("pgx", plain)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version int
	var icu bool
	if err := db.QueryRow(`SELECT current_setting('server_version_num')::int, EXISTS (SELECT 1 FROM pg_collation WHERE collprovider = 'i')`).Scan(&version, &icu); err != nil {
		t.Fatal(err)
	}
	if version < 150000 || !icu {
		t.Logf("PostgreSQL %d without a database collation from ICU: the order of rooms is checked on the server's default collation", version)
		return plain
	}
	return pgtest.NewDatabaseWith(t, "LOCALE_PROVIDER icu ICU_LOCALE 'en-US'")
}

// Migration 021 changes mxarchive's own tables alone: a table and a view
// of another program's in the same schema are left as they were, and a
// view of the operator's over mxarchive's tables, whose columns
// PostgreSQL cannot change under it, stops the migration with the view
// named and what to do, the database left at the version before.
func TestTextBytesMigrationLeavesOthers(t *testing.T) { // PostgreSQL alone: SQLite's 021 changes nothing
	ctx := context.Background()
	dir := t.TempDir()
	cfg := store.Config{Type: "postgres", URI: englishDatabase(t)}
	open := func() (*store.Store, error) {
		return store.Open(ctx, cfg, dir, storetest.Logger(t), store.Options{})
	}
	st, err := open()
	if err != nil {
		t.Fatal(err)
	}
	latest := st.SchemaVersion()
	st.Close()
	db, err := sql.Open("pgx", cfg.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Back to version 20, as a database made before migration 021 was,
	// with one of its columns in the database's collation, a view of the
	// operator's over it, and another program's table and view.
	exec(`UPDATE schema_version SET version = 20`)
	exec(`ALTER TABLE events ALTER COLUMN room_id TYPE text COLLATE "default"`)
	exec(`CREATE VIEW room_counts AS SELECT room_id, COUNT(*) AS n FROM events GROUP BY room_id`)
	exec(`CREATE TABLE other_app (name text)`)
	exec(`CREATE VIEW other_names AS SELECT name FROM other_app`)
	collation := func(table, column string) string {
		t.Helper()
		var c sql.NullString
		if err := db.QueryRowContext(ctx, `SELECT collation_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`, table, column).Scan(&c); err != nil {
			t.Fatalf("%s.%s: %v", table, column, err)
		}
		if !c.Valid {
			return "the default"
		}
		return c.String
	}
	version := func() int {
		t.Helper()
		var v int
		if err := db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	_, err = open()
	if err == nil {
		t.Fatal("migrated with a view over events.room_id")
	}
	for _, want := range []string{"021", "room_counts", "Drop them"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the migration's error %q does not say %q", err, want)
		}
	}
	t.Logf("the migration stopped: %v", err)
	if v := version(); v != 20 {
		t.Errorf("schema version %d after the failed migration, want 20", v)
	}
	if c := collation("events", "room_id"); c != "the default" {
		t.Errorf("events.room_id's collation is %s after the failed migration, want it unchanged", c)
	}

	exec(`DROP VIEW room_counts`)
	st, err = open()
	if err != nil {
		t.Fatalf("migrating once the view is dropped: %v", err)
	}
	st.Close()
	if v := version(); v != latest {
		t.Errorf("schema version %d, want %d", v, latest)
	}
	if c := collation("events", "room_id"); c != "C" {
		t.Errorf("events.room_id's collation is %s, want C", c)
	}
	if c := collation("other_app", "name"); c != "the default" {
		t.Errorf("another program's table other_app.name was changed to %s", c)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM other_names`).Scan(&n); err != nil {
		t.Errorf("another program's view: %v", err)
	}
}
