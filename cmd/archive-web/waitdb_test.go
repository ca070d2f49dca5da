package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
)

// archive-web started while its PostgreSQL database does not answer (a
// boot's order, a database on another host) waits for it, and serves once
// it answers, rather than exit and leave a supervisor's start limit to
// give it up. Meanwhile it listens: /healthz says it lives (a liveness
// probe must not restart it for waiting), the rest is 503 with a
// Retry-After. A database that does not exist is an error at once.
func TestWebWaitsForItsDatabase(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	pgtest.SetConnections(t, dsn, false)
	listen := freeAddr(t)
	cfg := waitConfig(t, dsn, listen)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var stderr lockedBuffer
	go func() { done <- run(ctx, []string{"-c", cfg}, &stderr, ready) }()
	select {
	case err := <-done:
		t.Fatalf("archive-web stopped while its database was away: %v", err)
	case addr := <-ready:
		t.Fatalf("archive-web listening at %s before its database answered", addr)
	case <-time.After(3 * time.Second):
	}
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/readyz": http.StatusServiceUnavailable, "/": http.StatusServiceUnavailable} {
		resp, err := http.Get("http://" + listen + path)
		if err != nil {
			t.Fatalf("GET %s while archive-web waits for its database: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || want == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s while archive-web waits for its database = %d (Retry-After %q), want %d", path, resp.StatusCode, resp.Header.Get("Retry-After"), want)
		}
		if path == "/healthz" && string(body) != "starting\n" {
			t.Errorf("/healthz while archive-web waits for its database says %q, want \"starting\"", body)
		}
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
	if addr != listen {
		t.Errorf("archive-web serves at %s, not at %s where it listened", addr, listen)
	}
	for path, want := range map[string]string{"/": "", "/healthz": "ok\n"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || want != "" && string(body) != want {
			t.Errorf("GET %s once the database answered = %d %q", path, resp.StatusCode, body)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("archive-web after its context ended: %v", err)
	}
	if !strings.Contains(stderr.String(), "the database does not answer; trying again") {
		t.Errorf("the log does not say it waited:\n%s", stderr.String())
	}

	// A database that does not exist: no wait mends it.
	cfg = waitConfig(t, strings.Replace(dsn, "/"+dbName(t, dsn)+"?", "/no_such_database?", 1), "127.0.0.1:0")
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

// waitConfig is a configuration file serving the PostgreSQL database dsn
// at listen.
func waitConfig(t *testing.T, dsn, listen string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	// The archiver's media directory, which archive-web refuses to start
	// without (media.Open, ReadOnly).
	dataDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dataDir, "media"), 0o750); err != nil {
		t.Fatal(err)
	}
	conf := "data_dir: " + dataDir + "\ndatabase:\n  type: postgres\n  uri: " + dsn + "\nweb:\n  listen: " + listen + "\nsearch:\n  enabled: false\n"
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
	cfg := waitConfig(t, dsn, "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr lockedBuffer
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
	cfg := waitConfig(t, dsn, "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
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

// lockedBuffer is a bytes.Buffer safe for goroutines that outlive run.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
