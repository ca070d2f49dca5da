package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// `archive-web reindex` beside a running archive-web used to wait for ever
// on the index lock, saying nothing. It must give up within seconds and
// say that another archive-web holds the index.
func TestReindexBesideARunningServer(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: "+dataDir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The "running server": the same store and index, held open.
	st, err := store.Open(ctx, store.Config{Type: "sqlite"}, dataDir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	held, err := indexer.Open(st, filepath.Join(dataDir, "index"), indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-c", cfg, "reindex"}, &stderr, nil) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("reindex succeeded beside a running archive-web")
		}
		if msg := err.Error(); !strings.Contains(msg, "another archive-web") || !strings.Contains(msg, filepath.Join(dataDir, "index")) {
			t.Errorf("error %q does not say another archive-web holds the index", msg)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("reindex still waiting after 20 s beside a running archive-web")
	}
}

// SIGINT/SIGTERM (ctx) stops a reindex: it returns saying so, removes its
// half-built index and leaves the live one in service.
func TestReindexInterrupted(t *testing.T) {
	dataDir := t.TempDir()
	st, err := store.Open(context.Background(), store.Config{Type: "sqlite"}, dataDir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	path := filepath.Join(dataDir, "index")
	ix, err := indexer.Open(st, path, indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the signal arrived
	var stderr bytes.Buffer
	err = reindex(ctx, ix, &stderr, storetest.Logger(t))
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("err = %v, want it to say the reindex was interrupted", err)
	}
	if _, serr := os.Stat(path + ".new"); !os.IsNotExist(serr) {
		t.Errorf("the half-built index %s.new is left behind (%v)", path, serr)
	}
	if _, err := ix.DocCount(); err != nil {
		t.Errorf("the live index no longer works: %v", err)
	}
}
