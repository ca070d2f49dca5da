package indexer

import (
	"context"
	"errors"
	"fmt"
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
// index keeps its anchor: the feed's last change as read once a step has
// read everything it writes (its position and mark, store.Change.Mark; in
// the manifest), in one statement with the step's own last change and the
// previous anchor (store.LastChangeWith), either gone and the step is not
// written (stepAnchor). The anchor is on disk before the step's documents.
// Writers commit their positions in order, so a database that still holds
// the anchor's change holds every change before it, and every state the
// index was built from. Each step checks it: in the statement that reads
// the feed (store.ChangesFrom) when the anchor is where the step starts,
// else by its position first. A feed that no longer holds it has gone
// back.
//
// The index is then rewound, not rebuilt, when it can be (recover): it
// remembers its last steps (journal, in memory, from the moment their
// anchor is on disk, before their documents are written), each with the
// events it read and wrote (a thread's root, an edit's original), the
// rooms and users it read, where it began, its last change and its
// anchor. The checkpoint goes back to the newest written step whose last
// change the feed still holds, or to where the oldest began; the steps
// whose anchors it no longer holds, and any not written, are read again
// from the store, a step's a batch as the catch-up wrote them; the
// rewind's anchor is read with the change it goes back to (gone, and the
// feed went back again: looked at anew); and the catch-up goes on,
// reading the changes that now hold the positions after the checkpoint. A message the restore lost
// is deleted from the index. What the journal cannot rewind (a restore
// past the anchor before its oldest step, or found at Open: the journal is
// not kept on disk) is rebuilt, as an index ahead of the feed is. A
// manifest older than the anchor is trusted until its next step records
// one. Not told: a restore between a step's reads and its anchor's read
// to a head at or past both the step's last change and the anchor before
// (the state read from the old database stays until those events change).

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

// journalStep is one step as a rewind needs it, journaled once its
// anchor is on disk, before its documents are written.
type journalStep struct {
	// from is the checkpoint the step began at; last and anchor its last
	// change and its anchor.
	from         int64
	last, anchor posMark
	// written: its documents and its checkpoint are; a rewind goes back
	// to no step that is not, and reads it again.
	written bool
	events  []id.EventID
	rooms   []id.RoomID
	users   []id.UserID
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
		a := s.journal[0].anchor
		s.base = &a
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
		return fmt.Errorf("%w: position %d, which the index read, is gone", errFeedDiverged, a.pos)
	}
	if got := cs[0].Mark(); got != a.mark {
		return fmt.Errorf("%w: position %d holds another change than the one the index read (mark %s, the index's %s)", errFeedDiverged, a.pos, got, a.mark)
	}
	return nil
}

// stepAnchor reads a step's anchor (the feed's last change), with, in the
// same statement, the step's last change and the index's anchor: either
// gone or another change is errFeedDiverged, and the step is not written.
func (ix *Indexer) stepAnchor(ctx context.Context, set *shards, st *stepRead) (*posMark, error) {
	want := []posMark{{pos: st.last(), mark: st.lastMark()}}
	if a := set.anchor.Load(); a != nil && a.pos > 0 {
		want = append(want, *a)
	}
	b := want[len(want)-1].pos
	last, ok, at, err := ix.store.LastChangeWith(ctx, want[0].pos, b)
	if err != nil {
		return nil, err
	}
	for _, w := range want {
		if err := divergesAt(at, w); err != nil {
			return nil, err
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: the feed is empty", errFeedDiverged)
	}
	return markOf(last), nil
}

// divergesAt is diverges for changes read by position.
func divergesAt(at map[int64]store.Change, a posMark) error {
	c, ok := at[a.pos]
	if !ok {
		return diverges(nil, a)
	}
	return diverges([]store.Change{c}, a)
}

// holds says whether the feed still holds a's change.
func (ix *Indexer) holds(ctx context.Context, a posMark) (bool, error) {
	if a.pos == 0 {
		return true, nil // the feed's origin, before every change
	}
	err := ix.checkAnchor(ctx, a)
	if errors.Is(err, errFeedDiverged) {
		return false, nil
	}
	return err == nil, err
}

// recover answers a catch-up's errFeedDiverged: it rewinds the live index
// by its journal, or marks it for a rebuild. rewound says which; the
// catch-up goes on after a rewind.
//
// The steps whose anchors the feed still holds were built from what the
// feed still holds. From the oldest whose anchor is gone on (m), a step's
// state may hold a lost change's effect, and its events, rooms and users
// are read again. The checkpoint goes back to the newest step whose own
// last change the feed still holds (k, at least m-1: an anchor is at or
// after its step's last change), and the changes after it are read again.
// The anchors are read by position from the newest on, writers commit
// positions in order: one the feed holds, all before it are held.
func (ix *Indexer) recover(ctx context.Context, cause error) (rewound bool, err error) {
	// A feed that goes back again while the rewind writes is looked at
	// anew, a few times.
	for range 3 {
		rewound, err = ix.recoverOnce(ctx, cause)
		if !errors.Is(err, errFeedDiverged) {
			return rewound, err
		}
		cause = err
	}
	ix.diverged(cause)
	return false, nil
}

// recoverOnce is one try of recover.
func (ix *Indexer) recoverOnce(ctx context.Context, cause error) (rewound bool, err error) {
	ix.mu.RLock()
	set := ix.set
	ix.mu.RUnlock()
	if set == nil {
		return false, errNoIndex
	}
	n := len(set.journal)
	m := n
	for m > 0 {
		ok, err := ix.holds(ctx, set.journal[m-1].anchor)
		if err != nil {
			return false, err
		}
		if ok {
			break
		}
		m--
	}
	// A step not written (its batch or its checkpoint failed) is read
	// again too.
	for i := range m {
		if !set.journal[i].written {
			m = i
			break
		}
	}
	guard := set.base // held: every step from m on is read again
	if m > 0 {
		guard = &set.journal[m-1].anchor
	} else if guard != nil {
		held, err := ix.holds(ctx, *guard)
		if err != nil {
			return false, err
		}
		if !held {
			guard = nil
		}
	}
	if guard == nil {
		// Past the journal's oldest step, or no journal (at open, or
		// one lost with a crash).
		ix.diverged(cause)
		return false, nil
	}
	// Back to the newest written step whose last change the feed holds,
	// else to where the oldest began (at or before the guard, held).
	to, keep := int64(-1), 0
	for i := n - 1; i >= max(m-1, 0); i-- {
		if !set.journal[i].written {
			continue
		}
		ok, err := ix.holds(ctx, set.journal[i].last)
		if err != nil {
			return false, err
		}
		if ok {
			to, keep = set.journal[i].last.pos, i+1
			break
		}
	}
	if to < 0 {
		if n == 0 {
			ix.diverged(cause)
			return false, nil
		}
		to, keep = set.journal[0].from, 0
		m = 0
	}
	if err := ix.rewind(ctx, set, m, keep, to, *guard); err != nil {
		return false, fmt.Errorf("rewind the index to feed position %d: %w", to, err)
	}
	ix.log.Warn("the change feed went back (a database restored from an older backup, or a failover to a replica that lacked the latest changes): the search index was rewound to where the feed agrees with it",
		"path", ix.path, "position", to, "steps_read_again", n-m, "err", cause)
	return true, nil
}

// rewind writes again, as the store now holds them, the events, rooms and
// users of the journal's steps from m on, one step's a batch (as the
// catch-up's steps were bounded), keeps the journal's first keep steps,
// and sets the checkpoint to position to. Its anchor is read in one
// statement with the change at to and guard, the anchor before step m:
// either gone, and the feed went back again meanwhile (errFeedDiverged).
// The manifest moves only once all is written: a crash in between leaves
// the anchor the feed no longer holds, and the index is rebuilt at Open.
func (ix *Indexer) rewind(ctx context.Context, set *shards, m, keep int, to int64, guard posMark) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.set != set {
		return errMoved
	}
	var toMark string
	if keep > 0 {
		toMark = set.journal[keep-1].last.mark
	}
	events, rooms, users := map[id.EventID]bool{}, map[id.RoomID]bool{}, map[id.UserID]bool{}
	for _, j := range set.journal[m:] {
		var evs []id.EventID
		for _, e := range j.events {
			if !events[e] {
				events[e] = true
				evs = append(evs, e)
			}
		}
		batch := newMultiBatch(set, ix.docName)
		rc := &roomCache{st: ix.store, rooms: map[id.RoomID]store.Room{}}
		// By ID: an event the restore lost is not found, and its
		// document is deleted.
		if _, err := ix.reevaluate(ctx, nil, evs, rc, batch); err != nil {
			return err
		}
		for _, r := range j.rooms {
			if !rooms[r] {
				rooms[r] = true
				if err := ix.reevaluateRoom(ctx, r, rc, batch); err != nil {
					return err
				}
			}
		}
		for _, u := range j.users {
			if !users[u] {
				users[u] = true
				if err := ix.reevaluateUser(ctx, u, rc, batch); err != nil {
					return err
				}
			}
		}
		if err := batch.commit(ix.afterCommit); err != nil {
			return fmt.Errorf("write index batch: %w", err)
		}
		batch.weigh()
	}
	last, ok, at, err := ix.store.LastChangeWith(ctx, to, guard.pos)
	if err != nil {
		return err
	}
	if guard.pos > 0 {
		if err := divergesAt(at, guard); err != nil {
			return err
		}
	}
	toAt := posMark{pos: to, mark: toMark}
	if to > 0 {
		if c, held := at[to]; toMark == "" && held {
			toAt.mark = c.Mark() // at or before the guard: held
		}
		if err := divergesAt(at, toAt); err != nil {
			return err
		}
	}
	anchor := &posMark{}
	if ok {
		anchor = markOf(last)
	}
	prevCP, prevAnchor := set.checkpoint.Load(), set.anchor.Load()
	set.checkpoint.Store(to)
	set.anchor.Store(anchor)
	if err := set.writeManifest(); err != nil {
		set.checkpoint.Store(prevCP)
		set.anchor.Store(prevAnchor)
		return err
	}
	// The steps after keep are undone, their changes read again; what
	// the rewind read stands for them, and for the steps it read again,
	// as of the new anchor.
	var undone journalStep
	for _, j := range set.journal[keep:] {
		undone.events = append(undone.events, j.events...)
		undone.rooms = append(undone.rooms, j.rooms...)
		undone.users = append(undone.users, j.users...)
	}
	set.journal = slices.Clip(set.journal[:keep])
	for i := m; i < keep; i++ {
		set.journal[i].anchor = *anchor
	}
	switch {
	case keep == 0 || m >= keep:
		if undone.size() > 0 {
			undone.from, undone.last, undone.anchor, undone.written = to, toAt, *anchor, true
			set.journal = append(set.journal, undone)
		}
	default:
		j := &set.journal[keep-1]
		j.events = append(slices.Clip(j.events), undone.events...)
		j.rooms = append(slices.Clip(j.rooms), undone.rooms...)
		j.users = append(slices.Clip(j.users), undone.users...)
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
