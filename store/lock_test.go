package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

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
				st, err := store.Open(ctx, cfg, t.TempDir(), storetest.Logger(t))
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
