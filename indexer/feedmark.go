package indexer

import (
	"context"
	"errors"
	"fmt"

	"github.com/mxarchive/mxarchive/store"
)

// The index's checkpoint is a position of the change feed, and a
// position names a change only as long as the database keeps it. A
// database restored from a backup older than the index, or a failover to
// a replica that lacked the last commits, gives the positions after its
// head to new changes. Once those pass the checkpoint (checkHead looks
// only while the feed is behind it), every change up to the checkpoint
// was skipped: messages stored after the restore were never searchable,
// and nothing said so. The index therefore keeps, with its checkpoint,
// the mark of the change there (store.Change.Mark, in the manifest), and
// each step reads the feed from that change on (store.ChangesFrom): a
// feed that no longer holds it there has gone back, and the index is
// rebuilt from the store, as one ahead of the feed is. A manifest older
// than the mark is trusted until its next step records one.

// errFeedDiverged is a step's read of a feed that no longer holds, at the
// position the step starts from, the change the index reached there.
var errFeedDiverged = errors.New("the change feed went back")

// posMark is the mark of the change at pos.
type posMark struct {
	pos  int64
	mark string
}

// markAt returns the mark of the change at pos, if known.
func (s *shards) markAt(pos int64) string {
	if m := s.mark.Load(); m != nil && m.pos == pos {
		return m.mark
	}
	return ""
}

// changesAfter reads up to size changes after from. With the mark of the
// change at from, it reads that change too, in the same statement, and
// answers errFeedDiverged if the feed holds another there, or none.
func (ix *Indexer) changesAfter(ctx context.Context, from int64, mark string, size int) ([]store.Change, error) {
	if mark == "" || from <= 0 {
		return ix.store.Changes(ctx, from, size)
	}
	cs, err := ix.store.ChangesFrom(ctx, from, size+1)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 || cs[0].Pos != from {
		return nil, fmt.Errorf("%w: position %d, which the index reached, is gone (the feed's next is %v)", errFeedDiverged, from, firstPos(cs))
	}
	if got := cs[0].Mark(); got != mark {
		return nil, fmt.Errorf("%w: position %d holds another change than the one the index reached (mark %s, the index's %s)", errFeedDiverged, from, got, mark)
	}
	return cs[1:], nil
}

func firstPos(cs []store.Change) any {
	if len(cs) == 0 {
		return "none"
	}
	return cs[0].Pos
}

// diverged marks the live index for a rebuild: the feed it followed went
// back (errFeedDiverged). Like an index ahead of the feed, its position is
// not reported meanwhile, and it serves what it has, every hit checked
// against the store.
func (ix *Indexer) diverged(err error) {
	ix.log.Warn("the change feed no longer holds the change the search index reached: the database was restored from an older backup or failed over to a replica that lacked the latest changes; rebuilding the index",
		"path", ix.path, "err", err)
	ix.ahead.Store(true)
	ix.stale.Store(true)
}
