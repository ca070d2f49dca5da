package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/store"
)

// status, log and quarantine only read the archive. On a data_dir that
// holds none (a typo, a volume not mounted) they refuse, naming the file
// they looked for and what creates it, and create nothing. Before, each
// created a new empty archive there and answered that it held nothing, as
// `archiver backup` already knew not to. The archiver's import still
// creates one, which they then read. On PostgreSQL, whose database its
// server creates, a fresh database is read as before.
func TestReadCommandsRefuseAMissingArchive(t *testing.T) {
	ctx := context.Background()
	readers := [][]string{{"status"}, {"log"}, {"quarantine"}}
	t.Run("sqlite", func(t *testing.T) {
		typo := filepath.Join(t.TempDir(), "mxarchve")
		t.Setenv("MXARCHIVE_DATA_DIR", typo)
		for _, args := range readers {
			var out, errs bytes.Buffer
			err := run(ctx, args, &out, &errs)
			want := filepath.Join(typo, "mxarchive.db")
			if !errors.Is(err, store.ErrNoArchive) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "archiver import") {
				t.Errorf("archiver %s on a data_dir without an archive: %v, want ErrNoArchive naming %s and archiver import", args[0], err, want)
			}
		}
		if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the read commands created the data directory %s (%v)", typo, err)
		}
		var out, errs bytes.Buffer
		if err := run(ctx, []string{"import", "../../testdata/import/malformed.ndjson"}, &out, &errs); err != nil {
			t.Fatalf("import into a new archive: %v\n%s", err, errs.String())
		}
		for _, args := range readers {
			if err := run(ctx, args, &out, &errs); err != nil {
				t.Errorf("archiver %s on the archive import created: %v", args[0], err)
			}
		}
	})
	t.Run("postgres", func(t *testing.T) {
		t.Setenv("MXARCHIVE_DATA_DIR", filepath.Join(t.TempDir(), "absent"))
		t.Setenv("MXARCHIVE_DATABASE_TYPE", "postgres")
		t.Setenv("MXARCHIVE_DATABASE_URI", pgtest.NewDatabase(t))
		for _, args := range readers {
			var out, errs bytes.Buffer
			if err := run(ctx, args, &out, &errs); err != nil {
				t.Errorf("archiver %s on a fresh PostgreSQL database: %v", args[0], err)
			}
		}
	})
}
