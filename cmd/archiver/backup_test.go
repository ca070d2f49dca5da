package main

import (
	"bytes"
	"context"
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
