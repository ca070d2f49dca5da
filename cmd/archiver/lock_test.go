package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// `archiver run` refuses to start while another archiver holds the
// database, with a message saying so, and starts once it is gone.
func TestRunRefusesSecondArchiver(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("MXARCHIVE_DATA_DIR", dir)
			t.Setenv("MXARCHIVE_DATABASE_TYPE", dialect)
			cfg := store.Config{Type: dialect}
			if dialect == "postgres" {
				cfg.URI = pgtest.NewDatabase(t)
				t.Setenv("MXARCHIVE_DATABASE_URI", cfg.URI)
			}
			t.Setenv("MXARCHIVE_HOMESERVER_ADDRESS", "http://127.0.0.1:1")
			t.Setenv("MXARCHIVE_HOMESERVER_DOMAIN", "example.org")
			t.Setenv("MXARCHIVE_APPSERVICE_AS_TOKEN", "as-token")
			t.Setenv("MXARCHIVE_APPSERVICE_HS_TOKEN", "hs-token")
			t.Setenv("MXARCHIVE_APPSERVICE_LISTEN", "127.0.0.1:0")

			// The first archiver, as another process would hold it.
			first, err := store.Open(context.Background(), cfg, dir, storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			lock, err := first.LockArchiver(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var out, errs bytes.Buffer
			// Bounded: without the lock the second would run on.
			ctx1, cancel1 := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel1()
			err = run(ctx1, []string{"run"}, &out, &errs)
			if !errors.Is(err, store.ErrArchiverRunning) || !strings.Contains(err.Error(), "another archiver is already running") {
				t.Fatalf("second archiver: err = %v, want a refusal naming the running archiver\n%s", err, errs.String())
			}
			if err := lock.Release(); err != nil {
				t.Fatal(err)
			}
			// With the first gone the second starts; it runs until its
			// context ends (the homeserver is unreachable, which it
			// only logs).
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			if err := run(ctx, []string{"run"}, &out, &errs); errors.Is(err, store.ErrArchiverRunning) {
				t.Fatalf("archiver after the first exited: %v", err)
			}
			// And it released the lock when it stopped.
			again, err := first.LockArchiver(context.Background())
			if err != nil {
				t.Fatalf("lock after the second archiver stopped: %v", err)
			}
			again.Release()
		})
	}
}
