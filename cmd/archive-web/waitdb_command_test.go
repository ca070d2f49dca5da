package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
)

// waitConfig is a configuration file serving the PostgreSQL database dsn.
func waitConfig(t *testing.T, dsn string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	conf := "data_dir: " + t.TempDir() + "\ndatabase:\n  type: postgres\n  uri: " + dsn + "\nweb:\n  listen: 127.0.0.1:0\nsearch:\n  enabled: false\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A mistyped command ("reindx") is an error at once, not a wait for the
// database (OpenWaiting is chosen for anything but "reindex").
func TestWebUnknownCommandDoesNotWait(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	pgtest.SetConnections(t, dsn, false)
	cfg := waitConfig(t, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-c", cfg, "reindx"}, &stderr, nil) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "unknown command") {
			t.Errorf("archive-web reindx = %v, want unknown command", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("archive-web reindx (a typo) still waits for the database after 5 s:\n%s", stderr.String())
	}
}

// archive-web stopped while it waits for its database returns as a stop
// after serving does, with no error.
func TestWebStoppedWhileWaitingIsAStop(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	pgtest.SetConnections(t, dsn, false)
	cfg := waitConfig(t, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-c", cfg}, &stderr, nil) }()
	time.Sleep(2 * time.Second)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("archive-web stopped while waiting: %v, want nil, as a stop after serving", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("archive-web did not stop while it waited")
	}
}
