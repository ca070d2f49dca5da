package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/store"
)

// archive-web only reads the archive the archiver writes. Pointed at a
// data_dir that holds none (a typo, a volume that did not mount) it
// refuses to start, saying where it looked and what creates an archive,
// and creates nothing there. Before, it created a new empty mxarchive.db,
// migrated it and answered /readyz 200 "ready": a load balancer sent
// readers to an archive where every permalink was a 404. Likewise a media
// directory that is not there: before, accepted, and every stored file a
// 404. (On PostgreSQL the database is the server's to create; a fresh one
// is served, as TestWebWaitsForItsDatabase shows.)
func TestWebRefusesAMissingArchive(t *testing.T) {
	t.Run("no database file", func(t *testing.T) {
		typo := filepath.Join(t.TempDir(), "mxarchve") // meant: mxarchive, which holds the archive
		for _, cmd := range [][]string{nil, {"reindex"}} {
			err := startRefused(t, append([]string{"-c", startConfig(t, typo, freeAddr(t))}, cmd...))
			want := filepath.Join(typo, "mxarchive.db")
			if !errors.Is(err, store.ErrNoArchive) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "archiver import") {
				t.Errorf("archive-web %v on a data_dir without an archive: %v, want ErrNoArchive naming %s and archiver import", cmd, err, want)
			}
		}
		if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("archive-web created the data directory %s (%v)", typo, err)
		}
	})
	t.Run("no media directory", func(t *testing.T) {
		dataDir := newArchive(t)
		if err := os.RemoveAll(filepath.Join(dataDir, "media")); err != nil {
			t.Fatal(err)
		}
		err := startRefused(t, []string{"-c", startConfig(t, dataDir, freeAddr(t))})
		if want := filepath.Join(dataDir, "media"); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "media.dir") {
			t.Errorf("archive-web without its media directory: %v, want an error naming %s and media.dir", err, want)
		}
	})
}

// startRefused runs archive-web with args and returns the error it stops
// with, failing the test if it serves instead.
func startRefused(t *testing.T, args []string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() { done <- run(ctx, args, &stderr, ready) }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("archive-web %v returned without an error", args[2:])
		}
		return err
	case addr := <-ready:
		cancel()
		<-done
		t.Fatalf("archive-web %v served at %s", args[2:], addr)
	case <-time.After(30 * time.Second):
		t.Fatalf("archive-web %v neither served nor stopped in 30 s", args[2:])
	}
	return nil
}
