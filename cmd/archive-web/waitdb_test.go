package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
)

// archive-web started while its PostgreSQL database does not answer (a
// boot's order, a database on another host) waits for it, and serves once
// it answers, rather than exit and leave a supervisor's start limit to
// give it up. A database that does not exist is an error at once.
func TestWebWaitsForItsDatabase(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	pgtest.SetConnections(t, dsn, false)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	conf := "data_dir: " + t.TempDir() + "\ndatabase:\n  type: postgres\n  uri: " + dsn + "\nweb:\n  listen: 127.0.0.1:0\nsearch:\n  enabled: false\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() { done <- run(ctx, []string{"-c", cfg}, &stderr, ready) }()
	select {
	case err := <-done:
		t.Fatalf("archive-web stopped while its database was away: %v", err)
	case addr := <-ready:
		t.Fatalf("archive-web listening at %s before its database answered", addr)
	case <-time.After(3 * time.Second):
	}
	pgtest.SetConnections(t, dsn, true)
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("archive-web stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("archive-web did not start once its database answered")
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET / = %d once the database answered", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("archive-web after its context ended: %v", err)
	}
	if !strings.Contains(stderr.String(), "the database does not answer; trying again") {
		t.Errorf("the log does not say it waited:\n%s", stderr.String())
	}

	// A database that does not exist: no wait mends it.
	missing := strings.Replace(dsn, "/"+dbName(t, dsn)+"?", "/no_such_database?", 1)
	conf = "data_dir: " + t.TempDir() + "\ndatabase:\n  type: postgres\n  uri: " + missing + "\nweb:\n  listen: 127.0.0.1:0\nsearch:\n  enabled: false\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	go func() { done <- run(context.Background(), []string{"-c", cfg}, &stderr, nil) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no_such_database") {
			t.Errorf("archive-web on a database that does not exist: %v, want an error naming it", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("archive-web waits for a database that does not exist")
	}
}

// dbName is the database a PostgreSQL URL names.
func dbName(t *testing.T, dsn string) string {
	t.Helper()
	_, rest, ok := strings.Cut(strings.TrimPrefix(dsn, "postgres://"), "/")
	if !ok {
		t.Fatalf("no database in %s", dsn)
	}
	name, _, _ := strings.Cut(rest, "?")
	return name
}
