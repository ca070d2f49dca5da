package indexer

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Rebuild builds a fresh index beside the live one, from the whole change
// feed, then swaps it in: searches keep using the old index until the new
// one has caught up. progress, if set, is told the feed position reached.
func (ix *Indexer) Rebuild(ctx context.Context, progress func(pos int64, applied int)) error {
	next := ix.path + ".new"
	if err := os.RemoveAll(next); err != nil {
		return err
	}
	opts := ix.opts
	if opts.bleveConfig == nil {
		// Nothing searches it before the swap: its periods are
		// merged once each (bulkMergePlan).
		opts.bleveConfig = bulkMergePlan()
	}
	builder := &Indexer{store: ix.store, log: ix.log, opts: opts, path: next, sortAllLimit: ix.sortAllLimit, atOnceLimit: ix.atOnceLimit, dayWalkHits: ix.dayWalkHits, builder: true}
	fresh, err := builder.create(next)
	if err != nil {
		return fmt.Errorf("create new index: %w", err)
	}
	// Its position is what Checkpoint reports while the live index's is
	// not trusted (keyscheme.go).
	ix.building.Store(fresh)
	defer ix.building.Store(nil)
	// Nothing searches it: the periods the catch-up leaves idle are
	// closed until it writes to them again (shards.parkIdle).
	fresh.parking, fresh.config = true, opts.bleveConfig
	builder.set = fresh
	if _, err := builder.CatchUp(ctx, progress); err != nil {
		builder.Close()
		// Half an index is of no use to anyone, and can be large.
		if rerr := os.RemoveAll(next); rerr != nil {
			ix.log.Warn("removing the half-built index", "path", next, "err", rerr)
		}
		return fmt.Errorf("build new index: %w", err)
	}
	// The periods it closed are being merged (compact): closing it now
	// would leave them in many segments. Then every period is merged
	// once more, one at a time: a closed period still takes the
	// messages of its time that the feed brings later (an imported
	// room's history), and the bulk plan left those unmerged, as it
	// left the newest period's; in the live server's default plan they
	// would be merged ten at a time, tier after tier.
	builder.set.merging.Wait()
	for _, p := range builder.set.periods {
		builder.set.merge(p, ix.log)
		builder.set.park(p, ix.log) // the merge mapped it whole
	}
	ix.mu.Lock()
	err = ix.swap(builder.set, next)
	if err == nil {
		// The live index now has this format, this store's keys, and
		// a checkpoint the feed has reached.
		ix.stale.Store(false)
		ix.wrongKeys.Store(false)
		ix.ahead.Store(false)
	}
	ix.mu.Unlock()
	if err != nil {
		return err
	}
	// Catch up with what arrived during the swap.
	_, err = ix.CatchUp(ctx, progress)
	return err
}

// swap replaces the live index by the one built at next. On any failure the
// old index is put back and reopened, so search keeps working. The caller
// holds ix.mu.
func (ix *Indexer) swap(fresh *shards, next string) error {
	if err := fresh.close(); err != nil {
		return fmt.Errorf("close the new index: %w", err) // the old one is untouched
	}
	if ix.set != nil {
		if err := ix.set.close(); err != nil {
			ix.log.Warn("closing the old index", "err", err)
		}
	}
	aside := ix.path + ".old-" + time.Now().UTC().Format("20060102T150405")
	reopenOld := func(cause error) error {
		set, err := openShards(ix.path, ix.opts.bleveConfig)
		if err != nil {
			ix.set = nil
			return fmt.Errorf("%w; reopening the old index failed too: %v", cause, err)
		}
		ix.set = set
		return fmt.Errorf("%w (the old index is back in place)", cause)
	}
	if err := os.Rename(ix.path, aside); err != nil {
		return reopenOld(fmt.Errorf("move the old index aside: %w", err))
	}
	if err := os.Rename(next, ix.path); err != nil {
		os.Rename(aside, ix.path)
		return reopenOld(fmt.Errorf("swap in the new index: %w", err))
	}
	set, err := openShards(ix.path, ix.opts.bleveConfig)
	if err != nil {
		os.Rename(ix.path, next)
		os.Rename(aside, ix.path)
		return reopenOld(fmt.Errorf("open the new index: %w", err))
	}
	// What the build wrote, a rewind may read again (feedmark.go).
	set.journal, set.base = fresh.journal, fresh.base
	ix.set = set
	if err := os.RemoveAll(aside); err != nil {
		ix.log.Warn("removing the old index", "path", aside, "err", err)
	}
	return nil
}
