package indexer

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/blevesearch/bleve/v2"
)

// Rebuild builds a fresh index beside the live one, from the whole change
// feed, then swaps it in: searches keep using the old index until the new
// one has caught up. progress, if set, is told the feed position reached.
func (ix *Indexer) Rebuild(ctx context.Context, progress func(pos int64, applied int)) error {
	next := ix.path + ".new"
	if err := os.RemoveAll(next); err != nil {
		return err
	}
	fresh, err := ix.create(next)
	if err != nil {
		return fmt.Errorf("create new index: %w", err)
	}
	builder := &Indexer{store: ix.store, log: ix.log, opts: ix.opts, path: next, idx: fresh}
	if _, err := builder.CatchUp(ctx, progress); err != nil {
		fresh.Close()
		return fmt.Errorf("build new index: %w", err)
	}
	// Swap under the write lock, then catch up with what arrived meanwhile.
	ix.mu.Lock()
	old := ix.idx
	if err := old.Close(); err != nil {
		ix.log.Warn("closing the old index", "err", err)
	}
	if err := fresh.Close(); err != nil {
		ix.mu.Unlock()
		return err
	}
	aside := ix.path + ".old-" + time.Now().UTC().Format("20060102T150405")
	if err := os.Rename(ix.path, aside); err != nil && !os.IsNotExist(err) {
		ix.mu.Unlock()
		return fmt.Errorf("move the old index aside: %w", err)
	}
	if err := os.Rename(next, ix.path); err != nil {
		ix.mu.Unlock()
		return fmt.Errorf("swap in the new index: %w", err)
	}
	idx, err := bleve.Open(ix.path)
	if err != nil {
		// Put the old index back rather than leave search without one.
		os.Rename(ix.path, next)
		os.Rename(aside, ix.path)
		idx, oerr := bleve.Open(ix.path)
		if oerr == nil {
			ix.idx = idx
		} else {
			ix.idx = nil
		}
		ix.mu.Unlock()
		return fmt.Errorf("open the new index (the old one is back in place): %w", err)
	}
	ix.idx = idx
	ix.mu.Unlock()
	if err := os.RemoveAll(aside); err != nil {
		ix.log.Warn("removing the old index", "path", aside, "err", err)
	}
	_, err = ix.CatchUp(ctx, progress)
	return err
}
