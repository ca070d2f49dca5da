// Package storetest opens real archive stores for tests: a fresh SQLite
// file, or a fresh PostgreSQL database from pgtest. Packages using it call
// pgtest.Main from their TestMain.
package storetest

import (
	"context"
	"log/slog"
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
	return OpenPolicy(t, dialect, store.Policy{})
}

// OpenPolicy is Open with the operator's policy.
func OpenPolicy(t testing.TB, dialect string, p store.Policy) *store.Store {
	t.Helper()
	cfg := store.Config{Type: dialect, Policy: p}
	if dialect == "postgres" {
		cfg.URI = pgtest.NewDatabase(t)
	}
	st, err := store.Open(context.Background(), cfg, t.TempDir(), Logger(t))
	if err != nil {
		t.Fatalf("open %s store: %v", dialect, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Each runs fn as a subtest once per dialect.
func Each(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) { fn(t, Open(t, d)) })
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
