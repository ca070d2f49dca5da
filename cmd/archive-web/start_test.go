package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// newArchive is a data directory as the archiver leaves it on its first
// start: a new SQLite archive, and the media directory. archive-web only
// reads one, and refuses a directory that holds none.
func newArchive(t *testing.T) string {
	t.Helper()
	dataDir := t.TempDir()
	st, err := store.Open(context.Background(), store.Config{Type: "sqlite"}, dataDir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := media.Open(context.Background(), media.Options{Dir: filepath.Join(dataDir, "media")}); err != nil {
		t.Fatal(err)
	}
	return dataDir
}

// freeAddr is a loopback address nothing listens on (just now).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

// startConfig is a configuration file serving dataDir's SQLite archive,
// with search, at listen.
func startConfig(t *testing.T, dataDir, listen string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: "+dataDir+"\nweb:\n  listen: "+listen+"\nsearch:\n  enabled: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// reindex binds no port: it succeeds with web.listen taken (helper-85's
// review).
func TestReindexBindsNoPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-c", startConfig(t, newArchive(t), l.Addr().String()), "reindex"}, &stderr, nil); err != nil {
		t.Fatalf("reindex with web.listen taken: %v\n%s", err, stderr.String())
	}
}

// holdIndex opens dataDir's search index, as a running archive-web holds
// it.
func holdIndex(t *testing.T, dataDir string) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Type: "sqlite"}, dataDir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	held, err := indexer.Open(st, filepath.Join(dataDir, "index"), indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
}

// A server whose index another holds fails with the lock's message,
// promptly, and the port it bound first is free again once run returns
// (helper-85's review).
func TestFailedStartFreesItsPort(t *testing.T) {
	dataDir := t.TempDir()
	holdIndex(t, dataDir)
	listen := freeAddr(t)
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"-c", startConfig(t, dataDir, listen)}, &stderr, nil)
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "another archive-web") {
			t.Errorf("err = %v, want the lock message", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit in 20 s")
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("port %s still bound after run returned: %v", listen, err)
	}
	l.Close()
}

// A second archive-web started with the same configuration finds the port
// taken before the index (it listens first): its error says what to do, as
// the index's lock did when it came first (helper-85's review).
func TestSecondServerOnTheSamePortSaysSo(t *testing.T) {
	dataDir := t.TempDir()
	holdIndex(t, dataDir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var stderr bytes.Buffer
	err = run(context.Background(), []string{"-c", startConfig(t, dataDir, l.Addr().String())}, &stderr, nil)
	if err == nil || !strings.Contains(err.Error(), "another archive-web") {
		t.Errorf("second archive-web with the same configuration: %v, want it to name another archive-web", err)
	}
}
