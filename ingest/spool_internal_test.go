package ingest

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// A backfill spools the room's history to data_dir/spool/backfill-*.ndjson
// (up to archive.backfill_max_bytes, 1 GiB, each) and removes the file
// when it ends: an archiver killed meanwhile (the OOM killer, systemd's
// SIGKILL after TimeoutStopSec, a power cut) left it, and nothing ever
// removed it, each crash during a large backfill a GiB more of the data
// disk. The archiver's next backfill removes a spool file no backfill has
// written for an hour, and leaves a fresh one (another process's backfill
// in progress) and every other file.
func TestBackfillRemovesCrashedBackfillsSpool(t *testing.T) {
	const roomID = "!pages:example.org"
	const bot = "@archive:example.org"
	ctx := context.Background()
	spoolDir := t.TempDir()
	stale := filepath.Join(spoolDir, "backfill-1234567.ndjson")
	fresh := filepath.Join(spoolDir, "backfill-7654321.ndjson")
	other := filepath.Join(spoolDir, "notes.txt")
	for _, p := range []string{stale, fresh, other} {
		if err := os.WriteFile(p, make([]byte, 1<<20), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-72 * time.Hour)
	for _, p := range []string{stale, other} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}

	st := storetest.Open(t, "sqlite")
	in := New(st, storetest.Logger(t), bot)
	hs, _ := pagesRoom(5, 100)
	srv := httptest.NewServer(hs)
	defer srv.Close()
	client, err := NewClient(srv.URL, "as-token", bot)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(ManagerConfig{SpoolDir: spoolDir, BackfillMaxBytes: 1 << 30}, client, in, st, bot, storetest.Logger(t))
	if rep, err := m.Backfill(ctx, roomID, nil); err != nil || !rep.ReachedCreate {
		t.Fatalf("Backfill = %+v, %v", rep, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a killed backfill's spool file (3 days old) is still in the spool directory after the archiver backfilled again (%v): want it removed", err)
	}
	for _, p := range []string{fresh, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(p), err)
		}
	}
	entries, _ := os.ReadDir(spoolDir)
	if len(entries) != 2 {
		t.Errorf("spool directory after the backfill holds %d files, want the 2 kept (the backfill removes its own)", len(entries))
	}
}
