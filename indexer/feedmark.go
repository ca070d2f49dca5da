package indexer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/store"
)

// The index's checkpoint is a position of the change feed, and a
// position names a change only as long as the database keeps it. A
// database restored from a backup older than the index, or a failover to
// a replica that lacked the last commits, gives the positions after its
// head to new changes. Once those pass the checkpoint (checkHead looks
// only while the feed is behind it), every change up to the checkpoint
// was skipped: messages stored after the restore were never searchable,
// and nothing said so.
//
// A step reads the feed up to its last change, and then the events those
// changes name as the store holds them then, which may already show later
// changes (an opt-out, an edit, a redaction committed meanwhile). So the
// index keeps its anchor: the feed's last change as read once the step
// has read everything it writes (store.LastChange, its position and its
// mark, store.Change.Mark; in the manifest). Writers commit their
// positions in order, so a database that still holds the anchor's change
// holds every change before it, and every state the index was built from.
// Each step checks it: in the statement that reads the feed
// (store.ChangesFrom) when the anchor is where the step starts, else by
// its position first. A feed that no longer holds it has gone back.
//
// The index is then rewound, not rebuilt, when it can be: it remembers
// the last steps it wrote (journal, in memory), each with the events,
// rooms and users it read and the anchor after it. The newest step whose
// anchor the feed still holds is where the restored feed and the index
// agree; the events, rooms and users of the steps after it are read again
// from the store and written again, and the catch-up goes on from that
// step's last change, reading the changes that now hold the positions
// after it. A message the restore lost keeps its document until the store
// check drops it from every hit. A full rebuild, as for an index ahead of
// the feed, is left for what the journal cannot rewind: a restore past its
// oldest step, or one found at Open (the journal is not kept on disk). A
// manifest older than the anchor is trusted until its next step records
// one.

// errFeedDiverged is a step's read of a feed that no longer holds the
// change the index's anchor names.
var errFeedDiverged = errors.New("the change feed went back")

// posMark is the mark of the change at pos.
type posMark struct {
	pos  int64
	mark string
}

// markOf is c's position and mark.
func markOf(c store.Change) *posMark { return &posMark{pos: c.Pos, mark: c.Mark()} }

// journalSteps and journalIDs bound the journal: its steps, and the
// events, rooms and users they name together.
const (
	journalSteps = 64
	journalIDs   = 100_000
)

// journalStep is one written step as a rewind needs it.
type journalStep struct {
	last, anchor posMark
	events       []id.EventID
	rooms        []id.RoomID
	users        []id.UserID
}

func (j journalStep) size() int { return len(j.events) + len(j.rooms) + len(j.users) }

// record appends a written step to the journal, dropping the oldest
// beyond its bounds. Only the catch-up calls it (and rewind), one at a
// time.
func (s *shards) record(j journalStep) {
	s.journal = append(s.journal, j)
	n := 0
	for _, x := range s.journal {
		n += x.size()
	}
	for len(s.journal) > journalSteps || (n > journalIDs && len(s.journal) > 1) {
		n -= s.journal[0].size()
		s.journal = slices.Delete(s.journal, 0, 1)
	}
}

// changesAfter reads up to size changes after from, mark being the mark of
// the change at from (if known). It checks the newer of that change and
// the set's anchor: in the same statement when it is at from, else by
// reading it first. Either gone, or another change there, is
// errFeedDiverged.
func (ix *Indexer) changesAfter(ctx context.Context, set *shards, from int64, mark string, size int) ([]store.Change, error) {
	check := set.anchor.Load()
	if mark != "" && (check == nil || check.pos < from) {
		check = &posMark{pos: from, mark: mark}
	}
	switch {
	case check == nil:
		return ix.store.Changes(ctx, from, size)
	case check.pos != from:
		if err := ix.checkAnchor(ctx, *check); err != nil {
			return nil, err
		}
		return ix.store.Changes(ctx, from, size)
	}
	cs, err := ix.store.ChangesFrom(ctx, from, size+1)
	if err != nil {
		return nil, err
	}
	if err := diverges(cs, *check); err != nil {
		return nil, err
	}
	return cs[1:], nil
}

// checkAnchor reads the change at a's position and compares its mark.
func (ix *Indexer) checkAnchor(ctx context.Context, a posMark) error {
	cs, err := ix.store.ChangesFrom(ctx, a.pos, 1)
	if err != nil {
		return err
	}
	return diverges(cs, a)
}

// diverges says whether cs, read from a's position on, does not begin
// with a's change.
func diverges(cs []store.Change, a posMark) error {
	if len(cs) == 0 || cs[0].Pos != a.pos {
		next := "none"
		if len(cs) > 0 {
			next = fmt.Sprint(cs[0].Pos)
		}
		return fmt.Errorf("%w: position %d, which the index read, is gone (the feed's next is %s)", errFeedDiverged, a.pos, next)
	}
	if got := cs[0].Mark(); got != a.mark {
		return fmt.Errorf("%w: position %d holds another change than the one the index read (mark %s, the index's %s)", errFeedDiverged, a.pos, got, a.mark)
	}
	return nil
}

// readAnchor reads the feed's last change, the step's anchor: what the
// step read of the store is at most as new as it. Nil for an empty feed.
func (ix *Indexer) readAnchor(ctx context.Context) (*posMark, error) {
	c, ok, err := ix.store.LastChange(ctx)
	if err != nil || !ok {
		return nil, err
	}
	return markOf(c), nil
}

// recover answers a catch-up's errFeedDiverged: it rewinds the live index
// to the newest journal step the feed still agrees with, or marks it for a
// rebuild. rewound says which; the catch-up goes on after a rewind.
func (ix *Indexer) recover(ctx context.Context, cause error) (rewound bool, err error) {
	ix.mu.RLock()
	set := ix.set
	ix.mu.RUnlock()
	if set == nil {
		return false, errNoIndex
	}
	k := -1
	for i := len(set.journal) - 1; i >= 0; i-- {
		err := ix.checkAnchor(ctx, set.journal[i].anchor)
		if err == nil {
			k = i
			break
		}
		if !errors.Is(err, errFeedDiverged) {
			return false, err
		}
	}
	if k < 0 {
		ix.diverged(cause)
		return false, nil
	}
	if err := ix.rewind(ctx, set, k); err != nil {
		return false, fmt.Errorf("rewind the index to feed position %d: %w", set.journal[k].last.pos, err)
	}
	ix.log.Warn("the change feed went back (a database restored from an older backup, or a failover to a replica that lacked the latest changes): the search index was rewound to where the feed agrees with it",
		"path", ix.path, "position", set.journal[k].last.pos, "err", cause)
	return true, nil
}

// rewind writes again, as the store now holds them, the events, rooms and
// users of the journal's steps after step k, and sets the checkpoint to
// step k's last change.
func (ix *Indexer) rewind(ctx context.Context, set *shards, k int) error {
	events, rooms, users := map[id.EventID]bool{}, map[id.RoomID]bool{}, map[id.UserID]bool{}
	for _, j := range set.journal[k+1:] {
		for _, e := range j.events {
			events[e] = true
		}
		for _, r := range j.rooms {
			rooms[r] = true
		}
		for _, u := range j.users {
			users[u] = true
		}
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.set != set {
		return errMoved
	}
	batch := newMultiBatch(set, ix.docName)
	rc := &roomCache{st: ix.store, rooms: map[id.RoomID]store.Room{}}
	// By ID: an event the restore lost is not found, and its document
	// is left to the store check.
	if err := ix.reevaluate(ctx, nil, slices.Collect(maps.Keys(events)), rc, batch); err != nil {
		return err
	}
	for room := range rooms {
		if err := ix.reevaluateRoom(ctx, room, rc, batch); err != nil {
			return err
		}
	}
	for user := range users {
		if err := ix.reevaluateUser(ctx, user, rc, batch); err != nil {
			return err
		}
	}
	if err := batch.commit(ix.afterCommit); err != nil {
		return fmt.Errorf("write index batch: %w", err)
	}
	anchor, err := ix.readAnchor(ctx)
	if err != nil {
		return err
	}
	to := set.journal[k].last
	prevCP, prevAnchor := set.checkpoint.Load(), set.anchor.Load()
	set.checkpoint.Store(to.pos)
	set.anchor.Store(anchor)
	batch.weigh()
	if err := set.writeManifest(); err != nil {
		set.checkpoint.Store(prevCP)
		set.anchor.Store(prevAnchor)
		batch.unweigh()
		return err
	}
	// The steps after k are undone; what the rewind read stands for
	// them, should the feed go back again.
	set.journal = slices.Clip(set.journal[:k+1])
	if anchor != nil {
		set.record(journalStep{last: to, anchor: *anchor, events: slices.Collect(maps.Keys(events)),
			rooms: slices.Collect(maps.Keys(rooms)), users: slices.Collect(maps.Keys(users))})
	}
	return nil
}

// diverged marks the live index for a rebuild: the feed it followed went
// back further than the journal reaches (errFeedDiverged). Like an index
// ahead of the feed, its position is not reported meanwhile, and it
// serves what it has, every hit checked against the store.
func (ix *Indexer) diverged(err error) {
	ix.log.Warn("the change feed no longer holds the change the search index reached: the database was restored from an older backup or failed over to a replica that lacked the latest changes; rebuilding the index",
		"path", ix.path, "err", err)
	ix.ahead.Store(true)
	ix.stale.Store(true)
}
