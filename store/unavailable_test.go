package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A database that cannot be reached is told apart from every other
// failure, so the web can answer 503 (come back later) rather than 500.
// The errors are the drivers' own, from a real outage.
func TestUnavailable(t *testing.T) {
	ctx := context.Background()
	t.Run("postgres down", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		st, err := store.Open(ctx, store.Config{Type: "postgres", URI: dsn}, t.TempDir(), storetest.Logger(t), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Rooms(ctx); err != nil {
			t.Fatal(err)
		}
		pgtest.SetConnections(t, dsn, false)
		// Twice: once on a pooled connection the server cut, once on a new
		// connection the server refuses.
		for i := range 2 {
			_, err := st.Rooms(ctx)
			if err == nil {
				t.Fatalf("read %d with the database down succeeded", i)
			}
			if !store.Unavailable(err) {
				t.Errorf("read %d: Unavailable(%v) = false", i, err)
			}
		}
		if err := st.Ping(ctx); !store.Unavailable(err) {
			t.Errorf("ping: Unavailable(%v) = false", err)
		}
		pgtest.SetConnections(t, dsn, true)
		if _, err := st.Rooms(ctx); err != nil {
			t.Errorf("after the database came back: %v", err)
		}
	})
	t.Run("sqlite busy", func(t *testing.T) {
		// A file another process holds locked past the busy timeout.
		path := filepath.Join(t.TempDir(), "locked.db")
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(2)
		if _, err := db.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
			t.Fatal(err)
		}
		holder, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close()
		if _, err := holder.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
			t.Fatal(err)
		}
		defer holder.ExecContext(ctx, `ROLLBACK`)
		_, err = db.ExecContext(ctx, `SELECT * FROM t`)
		if err == nil {
			t.Fatal("read of an exclusively locked file succeeded")
		}
		if !store.Unavailable(fmt.Errorf("day events: %w", err)) {
			t.Errorf("Unavailable(%v) = false", err)
		}
	})
	t.Run("other errors", func(t *testing.T) {
		for _, err := range []error{
			store.ErrNotFound,
			fmt.Errorf("load: %w", store.ErrNotFound),
			errors.New("decode event: unexpected end of JSON input"),
			context.Canceled,
			// A query past its timeout is a slow query, not an outage (the
			// web says "took too long"): context's error is also a net.Error.
			fmt.Errorf("day events: %w", context.DeadlineExceeded),
			nil,
		} {
			if store.Unavailable(err) {
				t.Errorf("Unavailable(%v) = true", err)
			}
		}
	})
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		// A query the database rejects is a bug, not an outage.
		c, err := st.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.ExecContext(ctx, `SELECT no_such_column FROM rooms`)
		if err == nil || store.Unavailable(err) {
			t.Errorf("bad query: err = %v, Unavailable = %v", err, store.Unavailable(err))
		}
	})
}
