package indexer_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

// A second process opening an index another one holds (archive-web
// reindex beside a running server) gets ErrLocked within seconds instead
// of waiting for ever on Bleve's lock, and the index is left alone: it must
// not be taken for a broken one and moved aside.
func TestOpenLockedIndex(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	path := filepath.Join(t.TempDir(), "index")
	held, err := indexer.Open(st, path, indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	type result struct {
		ix  *indexer.Indexer
		err error
	}
	done := make(chan result, 1)
	go func() {
		ix, err := indexer.Open(st, path, indexer.Options{}, storetest.Logger(t))
		done <- result{ix, err}
	}()
	select {
	case r := <-done:
		if r.err == nil {
			r.ix.Close()
			t.Fatal("opened an index another holder has open")
		}
		if !errors.Is(r.err, indexer.ErrLocked) {
			t.Errorf("err = %v, want ErrLocked", r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Open of a locked index still waiting after 20 s")
	}
	if matches, _ := filepath.Glob(path + ".broken-*"); len(matches) > 0 {
		t.Errorf("the locked index was moved aside as broken: %v", matches)
	}
	if _, err := held.DocCount(); err != nil {
		t.Errorf("the holder's index no longer works: %v", err)
	}
}
