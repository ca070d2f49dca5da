package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A process that only reads the archive (archive-web, `archiver status`)
// opens it with MustExist: on SQLite a database file that is not there is
// refused with ErrNoArchive, a message naming the path and the setting
// that chose it, and nothing created. Before, a data_dir with a typo (or a
// volume that did not mount) got a new empty mxarchive.db, migrated, which
// archive-web then served as ready, every permalink a 404. The archiver
// (no MustExist) still creates a new archive, and a reader then opens it.
func TestOpenMustExistRefusesAMissingSQLiteArchive(t *testing.T) {
	ctx := context.Background()
	log := storetest.Logger(t)
	mustExist := store.Options{ReadMostly: true, MustExist: true}

	t.Run("data_dir", func(t *testing.T) {
		typo := filepath.Join(t.TempDir(), "mxarchve")
		st, err := store.Open(ctx, store.Config{Type: "sqlite"}, typo, log, mustExist)
		if err == nil {
			st.Close()
			t.Fatal("opened a data directory that holds no archive")
		}
		want := filepath.Join(typo, "mxarchive.db")
		if !errors.Is(err, store.ErrNoArchive) || !strings.Contains(err.Error(), want) ||
			!strings.Contains(err.Error(), "data_dir") || !strings.Contains(err.Error(), "archiver import") {
			t.Errorf("error = %v, want ErrNoArchive naming %s, data_dir and archiver import", err, want)
		}
		if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the data directory was created (%v)", err)
		}
	})

	t.Run("database.uri", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "archive.db")
		st, err := store.Open(ctx, store.Config{Type: "sqlite", URI: missing}, t.TempDir(), log, mustExist)
		if err == nil {
			st.Close()
			t.Fatal("opened a database file that is not there")
		}
		if !errors.Is(err, store.ErrNoArchive) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "database.uri") {
			t.Errorf("error = %v, want ErrNoArchive naming %s and database.uri", err, missing)
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the database file was created (%v)", err)
		}
	})

	t.Run("a directory", func(t *testing.T) {
		dir := t.TempDir()
		st, err := store.Open(ctx, store.Config{Type: "sqlite", URI: dir}, t.TempDir(), log, mustExist)
		if err == nil {
			st.Close()
			t.Fatal("opened a directory as the archive")
		}
		if !errors.Is(err, store.ErrNoArchive) || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("error = %v, want ErrNoArchive saying it is a directory", err)
		}
	})

	t.Run("the archiver creates it", func(t *testing.T) {
		dataDir := filepath.Join(t.TempDir(), "data")
		w, err := store.Open(ctx, store.Config{Type: "sqlite"}, dataDir, log, store.Options{})
		if err != nil {
			t.Fatalf("the archiver could not create a new archive: %v", err)
		}
		w.Close()
		r, err := store.Open(ctx, store.Config{Type: "sqlite"}, dataDir, log, mustExist)
		if err != nil {
			t.Fatalf("a reader could not open the archive the archiver created: %v", err)
		}
		r.Close()
	})

	t.Run("in memory", func(t *testing.T) {
		st, err := store.Open(ctx, store.Config{Type: "sqlite", URI: "file:mustexist?mode=memory&cache=shared"}, t.TempDir(), log, mustExist)
		if err != nil {
			t.Fatalf("an in-memory database, which is never on disk: %v", err)
		}
		st.Close()
	})
}

// MustExist asks nothing of PostgreSQL, whose databases its server
// creates: a reader opens a database the archiver has not yet migrated as
// before.
func TestOpenMustExistOpensPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	st, err := store.Open(context.Background(), store.Config{Type: "postgres", URI: dsn}, filepath.Join(t.TempDir(), "absent"),
		storetest.Logger(t), store.Options{ReadMostly: true, MustExist: true})
	if err != nil {
		t.Fatalf("MustExist on PostgreSQL: %v", err)
	}
	st.Close()
}

// An archive whose database.uri is a SQLite file: URI with a
// percent-escaped character in its path (SQLite decodes %XX in a URI's
// path; the store's own DSN escapes '#' and '?' that way): the archiver
// opened it, and archive-web (MustExist) looked for the undecoded path
// and refused an archive that is there (helper-126).
func TestMustExistReadsAFileURIAsSQLiteDoes(t *testing.T) {
	ctx := context.Background()
	log := storetest.Logger(t)
	dir := filepath.Join(t.TempDir(), "mx#1")
	// The archiver creates it (data_dir).
	st, err := store.Open(ctx, store.Config{Type: "sqlite"}, dir, log, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	uri := "file:" + strings.ReplaceAll(filepath.Join(dir, "mxarchive.db"), "#", "%23")
	// Without MustExist the URI opens the archive there.
	st, err = store.Open(ctx, store.Config{Type: "sqlite", URI: uri}, t.TempDir(), log, store.Options{})
	if err != nil {
		t.Fatalf("archiver open %s: %v", uri, err)
	}
	st.Close()
	st, err = store.Open(ctx, store.Config{Type: "sqlite", URI: uri}, t.TempDir(), log, store.Options{ReadMostly: true, MustExist: true})
	if err != nil {
		t.Fatalf("reader open %s: %v", uri, err)
	}
	st.Close()
}
