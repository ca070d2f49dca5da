package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
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
