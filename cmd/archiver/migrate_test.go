package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func TestMigrateToCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	var out, errs bytes.Buffer
	if err := run(ctx, []string{"import", "../../testdata/import/malformed.ndjson"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"migrate-to"}, {"migrate-to", "/tmp/x.db"}, {"migrate-to", "postgres://a", "postgres://b"}} {
		if err := run(ctx, bad, &out, &errs); err == nil || !strings.Contains(err.Error(), "name the empty PostgreSQL database") {
			t.Errorf("%v: %v", bad, err)
		}
	}

	// Refused while an archiver records into the SQLite file.
	target := pgtest.NewDatabase(t)
	src, err := store.Open(ctx, store.Config{Type: "sqlite", URI: filepath.Join(dir, "mxarchive.db")}, dir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	lock, err := src.LockArchiver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"migrate-to", target}, &out, &errs); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Errorf("migrate-to beside a running archiver: %v", err)
	}
	lock.Release()

	out.Reset()
	if err := run(ctx, []string{"migrate-to", target}, &out, &errs); err != nil {
		t.Fatalf("migrate-to: %v\n%s", err, errs.String())
	}
	if !strings.Contains(out.String(), "the counts match") || !strings.Contains(out.String(), "events ") {
		t.Errorf("output %q", out.String())
	}
	dst, err := store.Open(ctx, store.Config{Type: "postgres", URI: target}, dir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if n, err := dst.CountEvents(ctx); err != nil || n != 5 {
		t.Errorf("events moved = %d, %v, want the 5 imported", n, err)
	}
	if err := run(ctx, []string{"migrate-to", target}, &out, &errs); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a second migrate-to into the same database: %v", err)
	}
	if n, err := dst.CountEvents(ctx); err != nil || n != 5 {
		t.Errorf("events after the refused second move = %d, %v", n, err)
	}
}
