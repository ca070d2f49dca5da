package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// Backup writes a consistent copy of a live SQLite archive that opens as an
// archive with the same contents; it never overwrites a file, and on
// PostgreSQL it says to use pg_dump.
func TestBackup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		if err := st.LogOperator(ctx, store.OperatorAction{Actor: "ops", Command: "takedown", Target: "$e", Reason: "spam"}); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "backup.db")
		err := st.Backup(ctx, out)
		if st.Dialect() == "postgres" {
			if err == nil || !strings.Contains(err.Error(), "pg_dump") {
				t.Fatalf("backup on PostgreSQL: %v, want a pointer to pg_dump", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("backup: %v", err)
		}
		copyStore, err := store.Open(ctx, store.Config{Type: "sqlite", URI: out}, t.TempDir(), storetest.Logger(t), store.Options{})
		if err != nil {
			t.Fatalf("open the backup: %v", err)
		}
		defer copyStore.Close()
		log, err := copyStore.OperatorLog(ctx, 10)
		if err != nil || len(log) != 1 || log[0].Reason != "spam" {
			t.Errorf("operator log in the backup = %+v, %v", log, err)
		}
		// A second backup to the same file refuses rather than overwrite.
		before, _ := os.Stat(out)
		if err := st.Backup(ctx, out); err == nil || !strings.Contains(err.Error(), "exists") {
			t.Errorf("backup over an existing file: %v, want a refusal", err)
		}
		if after, _ := os.Stat(out); after.ModTime() != before.ModTime() || after.Size() != before.Size() {
			t.Error("the existing backup was changed")
		}
	})
}
