// Package storetest opens real archive stores for tests: a fresh SQLite
// file, or a fresh PostgreSQL database from pgtest. Packages using it call
// pgtest.Main from their TestMain.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/store"
)

// Dialects are the databases every store-backed test runs against.
var Dialects = []string{"sqlite", "postgres"}

// Open returns a fresh, migrated store of the given dialect, closed when the
// test ends.
func Open(t testing.TB, dialect string) *store.Store {
	t.Helper()
	return OpenWith(t, dialect, store.Options{})
}

// OpenWith is Open with options (the operator's policy, a bot).
func OpenWith(t testing.TB, dialect string, opts store.Options) *store.Store {
	t.Helper()
	cfg := store.Config{Type: dialect}
	if dialect == "postgres" {
		cfg.URI = pgtest.NewDatabase(t)
	}
	st, err := store.Open(context.Background(), cfg, t.TempDir(), Logger(t), opts)
	if err != nil {
		t.Fatalf("open %s store: %v", dialect, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Twins returns two stores of the given dialect on one fresh database, as
// two processes (archiver and archive-web) hold it, both closed when the
// test ends.
func Twins(t testing.TB, dialect string, opts store.Options) (*store.Store, *store.Store) {
	t.Helper()
	a, b, _ := TwinsAt(t, dialect, opts)
	return a, b
}

// TwinsAt is Twins with the database's URI (a file's path on SQLite), for
// a test that acts on the database itself (pgtest.Backup, Restore).
func TwinsAt(t testing.TB, dialect string, opts store.Options) (*store.Store, *store.Store, string) {
	t.Helper()
	cfg := store.Config{Type: dialect, URI: filepath.Join(t.TempDir(), "twins.db")}
	if dialect == "postgres" {
		cfg.URI = pgtest.NewDatabase(t)
	}
	var out [2]*store.Store
	for i := range out {
		st, err := store.Open(context.Background(), cfg, t.TempDir(), Logger(t), opts)
		if err != nil {
			t.Fatalf("open %s store %d: %v", dialect, i+1, err)
		}
		t.Cleanup(func() { st.Close() })
		out[i] = st
	}
	return out[0], out[1], cfg.URI
}

// Refusing returns a fresh store of the given dialect whose database
// refuses to store the events with the given IDs, and the URI of that
// database. The refusal is the database's own, as for a value it cannot
// hold: a CHECK constraint on PostgreSQL (SQLSTATE 23514) and a trigger on
// SQLite (SQLITE_CONSTRAINT), so tests prove what happens when one event
// of a batch is refused without depending on which values the store
// already makes safe.
func Refusing(t testing.TB, dialect string, eventIDs ...string) (*store.Store, string) {
	t.Helper()
	return RefusingWith(t, dialect, store.Options{}, eventIDs...)
}

// RefusingWith is Refusing with the store's options.
func RefusingWith(t testing.TB, dialect string, opts store.Options, eventIDs ...string) (*store.Store, string) {
	t.Helper()
	cfg := store.Config{Type: dialect, URI: filepath.Join(t.TempDir(), "refusing.db")}
	driver := "sqlite"
	if dialect == "postgres" {
		cfg.URI, driver = pgtest.NewDatabase(t), "pgx"
	}
	st, err := store.Open(context.Background(), cfg, t.TempDir(), Logger(t), opts)
	if err != nil {
		t.Fatalf("open %s store: %v", dialect, err)
	}
	t.Cleanup(func() { st.Close() })
	quoted := make([]string, len(eventIDs))
	for i, e := range eventIDs {
		quoted[i] = "'" + strings.ReplaceAll(e, "'", "''") + "'"
	}
	list := strings.Join(quoted, ", ")
	stmt := fmt.Sprintf(`ALTER TABLE events ADD CONSTRAINT test_refused CHECK (event_id NOT IN (%s))`, list)
	if dialect != "postgres" {
		stmt = fmt.Sprintf(`CREATE TRIGGER test_refused BEFORE INSERT ON events WHEN NEW.event_id IN (%s)
			BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`, list)
	}
	db, err := sql.Open(driver, cfg.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatalf("make %s refuse %v: %v", dialect, eventIDs, err)
	}
	return st, cfg.URI
}

// Each runs fn as a subtest once per dialect.
func Each(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	EachWith(t, store.Options{}, fn)
}

// EachWith is Each with options.
func EachWith(t *testing.T, opts store.Options, fn func(t *testing.T, st *store.Store)) {
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) { fn(t, OpenWith(t, d, opts)) })
	}
}

// Logger logs to the test's output only when it fails or runs with -v.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}
