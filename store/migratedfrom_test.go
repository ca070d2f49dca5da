package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// migratedFrom opens a new database of dialect d, lets fill write to it
// through the store, runs stmts on it (which set it back to what an
// older version left), and opens it again, which migrates it. The store
// it returns is closed at the end of the test.
func migratedFrom(t *testing.T, d string, fill func(st *store.Store), stmts ...string) *store.Store {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cfg := store.Config{Type: d, URI: filepath.Join(dir, "old.db")}
	if d == "postgres" {
		cfg.URI = pgtest.NewDatabase(t)
	}
	st, err := store.Open(ctx, cfg, dir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fill != nil {
		fill(st)
	}
	conn, err := st.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()
	st.Close()
	st, err = store.Open(ctx, cfg, dir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
