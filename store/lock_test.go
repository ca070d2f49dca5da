package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// Two archivers on one database would each ack transactions and sweep the
// same rooms; the second must refuse to start, and start once the first is
// gone.
func TestLockArchiverIsExclusive(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			cfg := store.Config{Type: dialect, URI: filepath.Join(t.TempDir(), "archive.db")}
			if dialect == "postgres" {
				cfg.URI = pgtest.NewDatabase(t)
			}
			open := func() *store.Store {
				st, err := store.Open(ctx, cfg, t.TempDir(), storetest.Logger(t), store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
			first, second := open(), open()
			lock, err := first.LockArchiver(ctx)
			if err != nil {
				t.Fatalf("first archiver: %v", err)
			}
			_, err = second.LockArchiver(ctx)
			if !errors.Is(err, store.ErrArchiverRunning) || !strings.Contains(err.Error(), "another archiver") {
				t.Fatalf("second archiver on the same database: err = %v, want ErrArchiverRunning", err)
			}
			if err := lock.Release(); err != nil {
				t.Fatalf("release: %v", err)
			}
			lock2, err := second.LockArchiver(ctx)
			if err != nil {
				t.Fatalf("second archiver after the first exited: %v", err)
			}
			if err := lock2.Release(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A PostgreSQL restart (or a killed backend) ends the session and with it
// the lock: the archiver must learn it lost the lock rather than keep
// running beside a second one that took it.
func TestArchiverLockLost(t *testing.T) {
	ctx := context.Background()
	cfg := store.Config{Type: "postgres", URI: pgtest.NewDatabase(t)}
	st, err := store.Open(ctx, cfg, t.TempDir(), storetest.Logger(t), store.Options{LockCheckInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lock, err := st.LockArchiver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	select {
	case <-lock.Lost():
		t.Fatal("lock reported lost while held")
	case <-time.After(300 * time.Millisecond):
	}
	conn, err := st.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var killed bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 1836605811 AND granted`).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate the lock's backend: %v, %v", killed, err)
	}
	select {
	case <-lock.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("the archiver did not notice it lost its lock")
	}
}
