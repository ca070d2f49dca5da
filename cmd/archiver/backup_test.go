package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func TestBackupCommand(t *testing.T) {
	t.Setenv("MXARCHIVE_DATA_DIR", t.TempDir())
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"import", "../../testdata/import/malformed.ndjson"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "copy.db")
	out.Reset()
	if err := run(context.Background(), []string{"backup", file}, &out, &errs); err != nil || !strings.Contains(out.String(), file) {
		t.Fatalf("backup: %v, %q", err, out.String())
	}
	st, err := store.Open(context.Background(), store.Config{Type: "sqlite", URI: file}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, err := st.CountEvents(context.Background()); err != nil || n != 5 {
		t.Errorf("events in the backup = %d, %v, want the 5 imported", n, err)
	}
	if err := run(context.Background(), []string{"backup"}, &out, &errs); err == nil || !strings.Contains(err.Error(), "name one new file") {
		t.Errorf("backup without a file: %v", err)
	}
}

// "Back up before every upgrade" (doc/deploy.md) with the new binary in
// place copies the archive as it is: opened as a store, it was migrated
// first, and the copy held a schema the old binary cannot open. Nor is an
// archive made where there is none.
func TestBackupCopiesTheSchemaAsItIs(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	v1, err := os.ReadFile("../../store/migrations/sqlite/001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "mxarchive.db")
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{string(v1), `CREATE TABLE schema_version (version INTEGER NOT NULL)`, `INSERT INTO schema_version (version) VALUES (1)`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	var out, errs bytes.Buffer
	backup := filepath.Join(t.TempDir(), "before-upgrade.db")
	if err := run(context.Background(), []string{"backup", backup}, &out, &errs); err != nil {
		t.Fatalf("backup: %v", err)
	}
	version := func(path string) int {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v int
		if err := db.QueryRow(`SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := version(backup); v != 1 {
		t.Errorf("the backup taken before the upgrade holds schema version %d, not the archive's 1: it cannot be restored under the old binary", v)
	}
	if v := version(dbPath); v != 1 {
		t.Errorf("`archiver backup` migrated the live archive from 1 to %d", v)
	}
}

// A backup of a data directory with no archive in it fails, and makes none.
func TestBackupOfNoArchive(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"backup", filepath.Join(t.TempDir(), "copy.db")}, &out, &errs); err == nil || !strings.Contains(err.Error(), "no archive to copy") {
		t.Errorf("backup of an empty data directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mxarchive.db")); err == nil {
		t.Error("the backup made an archive where there was none")
	}
}
