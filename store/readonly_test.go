package store_test

import (
	"context"
	"database/sql"
	"net/url"
	"testing"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestOpenWithReadOnlyRole: archive-web replicas may run under a
// PostgreSQL role that can only SELECT (doc/deploy.md), the proof that
// they never write. Opening an up-to-date archive with it must work and
// serve reads.
func TestOpenWithReadOnlyRole(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	owner, err := store.Open(ctx, store.Config{Type: "postgres", URI: dsn}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	put(t, owner, baseRoom(t)...)

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var dbname string
	if err := db.QueryRow(`SELECT current_database()`).Scan(&dbname); err != nil {
		t.Fatal(err)
	}
	role := "ro_" + dbname
	for _, stmt := range []string{
		`CREATE ROLE "` + role + `" LOGIN PASSWORD 'ro'`,
		`GRANT CONNECT ON DATABASE "` + dbname + `" TO "` + role + `"`,
		`GRANT USAGE ON SCHEMA public TO "` + role + `"`,
		`GRANT SELECT ON ALL TABLES IN SCHEMA public TO "` + role + `"`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec(`DROP OWNED BY "` + role + `"`)
		db.Exec(`DROP ROLE "` + role + `"`)
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, "ro")
	ro, err := store.Open(ctx, store.Config{Type: "postgres", URI: u.String()}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatalf("open an up-to-date archive with a read-only role: %v", err)
	}
	defer ro.Close()
	if r, err := ro.Room(ctx, room); err != nil || r.Name != "Test Room" {
		t.Errorf("read through the read-only role: %+v, %v", r, err)
	}
	if _, err := ro.PutEvents(ctx, []store.Event{mk(t, "$w", "m.room.message", "@alice:example.org", 5000, nil, `{"msgtype":"m.text","body":"x"}`)}); err == nil {
		t.Error("a write through the read-only role succeeded: the role proves nothing")
	}
}
