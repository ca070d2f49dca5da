package indexer

import (
	"context"
	"fmt"
	"time"

	"github.com/blevesearch/bleve/v2"
)

// expirySweep is how often Follow deletes expired messages from the index.
// Searches exclude them in the meantime; deleting them keeps that exclusion
// cheap where the archiver never purges (an archive that only imports).
const expirySweep = time.Minute

// dropBatch is how many expired documents one index batch deletes.
const dropBatch = 1000

// sweepExpired runs DropExpired every expirySweep until ctx ends.
func (ix *Indexer) sweepExpired(ctx context.Context) {
	t := time.NewTicker(expirySweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := ix.DropExpired(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			ix.log.Error("dropping expired messages from the index failed", "err", err)
		case n > 0:
			ix.log.Info("dropped expired messages from the index", "count", n)
		}
	}
}

// DropExpired deletes from the index the messages retention has expired
// since they were indexed, and returns how many. The change feed tells of
// an expiry only when the purge deletes the message; until then, and for
// ever where no purge runs, this keeps the index to what may be shown.
func (ix *Indexer) DropExpired(ctx context.Context) (int, error) {
	cut, err := ix.store.ExpiryCutoffs(ctx)
	if err != nil {
		return 0, fmt.Errorf("drop expired: %w", err)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.set == nil {
		return 0, errNoIndex
	}
	q, err := ix.expiredQuery(cut, nil)
	if err != nil || q == nil {
		return 0, err
	}
	total := 0
	for _, p := range ix.set.periods {
		for {
			res, err := p.idx.SearchInContext(ctx, bleve.NewSearchRequestOptions(q, dropBatch, 0, false))
			if err != nil {
				return total, fmt.Errorf("drop expired: %w", err)
			}
			if len(res.Hits) == 0 {
				break
			}
			batch := p.idx.NewBatch()
			for _, h := range res.Hits {
				batch.Delete(h.ID)
			}
			if err := p.batch(batch); err != nil {
				return total, fmt.Errorf("drop expired: %w", err)
			}
			total += len(res.Hits)
		}
	}
	return total, nil
}
