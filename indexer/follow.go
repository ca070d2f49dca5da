package indexer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// maxRetryDelay caps Follow's back-off while the store fails: an outage is
// noticed within this long after it ends.
const maxRetryDelay = 30 * time.Second

// Follow keeps the index in step with the store until ctx ends: it catches
// up, then polls the change feed. While the store fails (the database is
// down) it retries with exponential back-off up to maxRetryDelay, and logs
// once when it starts failing and once when it works again, not every
// round.
func (ix *Indexer) Follow(ctx context.Context) error {
	changed := ix.store.Changed(ctx) // nil on SQLite: polling only
	go ix.sweepExpired(ctx)
	failures := 0
	var failingSince time.Time
	for {
		n, err := ix.CatchUp(ctx, nil)
		if ctx.Err() != nil {
			return nil
		}
		wait := ix.opts.PollInterval
		if err != nil {
			failures++
			wait = retryDelay(ix.opts.PollInterval, failures)
			if failures == 1 {
				failingSince = time.Now()
				ix.log.Error("indexing failed; retrying with back-off, logged again when it works", "err", err, "retry_in", wait)
			} else {
				ix.log.Debug("indexing still failing", "err", err, "attempt", failures, "retry_in", wait)
			}
		} else {
			if failures > 0 {
				ix.log.Info("indexing works again", "failed_attempts", failures, "failing_for", time.Since(failingSince).Round(time.Millisecond))
				failures = 0
			}
			if n > 0 {
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed: // a commit: the database is back, whatever the back-off says
		case <-ix.wait(wait):
		}
	}
}

// retryDelay is the wait after the failures-th failure in a row: twice the
// poll interval, doubling each time, at most maxRetryDelay.
func retryDelay(poll time.Duration, failures int) time.Duration {
	d := poll
	for range min(failures, 32) {
		d *= 2
		if d >= maxRetryDelay {
			return maxRetryDelay
		}
	}
	return d
}

// CatchUp applies every change after the checkpoint and returns how many it
// applied. progress, if set, is told the position reached after each batch.
//
// A backlog is taken in steps of the configured size (the first an eighth
// of it), cut to what holds about catchUpText of text at the last step's
// text per change. Steps once grew to five times the size
// (fewer segments to merge: CPU per change fell 15% in a 60k-change
// catch-up of one index), but since a period's share of a step is built
// as two segments at once and closed periods are merged to one, larger
// steps saved no time and held their documents in memory: a 300k
// reindex took 43 s of CPU and 371 MiB peak RSS (263 anonymous) with
// steps of up to 10,000, 41 s and 208 MiB (123) with steps of 2,000.
func (ix *Indexer) CatchUp(ctx context.Context, progress func(pos int64, applied int)) (int, error) {
	if !ix.builder && !ix.verified.Load() {
		// Open could not check the index against the store.
		if err := ix.checkStore(ctx); err != nil {
			return 0, err
		}
	}
	if ix.stale.Load() {
		// Rebuild clears stale once it has swapped, then catches up
		// the new index.
		if err := ix.Rebuild(ctx, progress); err != nil {
			return 0, fmt.Errorf("rebuild the index in its new format: %w", err)
		}
	}
	from, err := ix.checkpoint()
	if err != nil {
		return 0, err
	}
	// The next step is read from the store while this one is written to
	// the index: reading (the feed, the events, their relations, building
	// documents) needs nothing the index holds, and the two overlap on
	// the machine's cores. What does read the index (a hidden room's or a
	// user's documents) runs in the write, in order.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	total := 0
	// The first step is an eighth of the size: it is read before any
	// text is seen, and 2,000 long Markdown messages (some 4 MB of text)
	// were held twice over, most of a reindex's 568 MiB peak RSS.
	size := max(ix.opts.BatchSize/8, 1)
	next := ix.prefetch(ctx, from, "", size)
	// wentBack answers a feed that no longer holds what the index read
	// (feedmark.go): rewound, the catch-up goes on from the checkpoint.
	wentBack := func(cause error) (rewound bool, err error) {
		if rewound, err = ix.recover(ctx, cause); err != nil || !rewound {
			return false, err
		}
		if from, err = ix.checkpoint(); err != nil {
			return false, err
		}
		next = ix.prefetch(ctx, from, "", size)
		return true, nil
	}
	rebuild := func() (int, error) {
		if err := ix.Rebuild(ctx, progress); err != nil {
			return 0, fmt.Errorf("rebuild the index of a change feed that went back: %w", err)
		}
		return 0, nil
	}
	for {
		st := <-next
		if errors.Is(st.err, errFeedDiverged) && !ix.builder {
			rewound, err := wentBack(st.err)
			if err != nil {
				return total, err
			}
			if !rewound {
				return rebuild()
			}
			continue
		}
		if st.err == nil && len(st.changes) == 0 && total == 0 && !ix.builder && ix.headDue() {
			// Nothing after the checkpoint: the feed may be behind it
			// (a database restored from an older backup, whose new
			// changes reuse positions the index has passed).
			ahead, err := ix.checkHead(ctx, from, false)
			if err != nil {
				return 0, err
			}
			if ahead {
				if err := ix.Rebuild(ctx, progress); err != nil {
					return 0, fmt.Errorf("rebuild the index past the feed's head: %w", err)
				}
				return 0, nil
			}
		}
		if st.err != nil || len(st.changes) == 0 {
			if st.err == nil && total >= ix.opts.PeriodDocs {
				ix.compactClosed()
			}
			return total, st.err
		}
		if text := st.writes.textBytes(); text > catchUpText || len(st.changes) == size {
			// Doubled up to the configured size, never past it, and
			// never past the text bound at this step's text per change
			// (halving alone swung between twice and half the bound).
			size = min(size*2, ix.opts.BatchSize)
			if text > 0 {
				size = min(size, max(len(st.changes)*catchUpText/text, 1))
			}
		}
		next = ix.prefetch(ctx, st.last(), st.lastMark(), size)
		starts, err := ix.write(ctx, st)
		if errors.Is(err, errFeedDiverged) && !ix.builder {
			<-next // read from the feed that went back
			rewound, err := wentBack(err)
			if err != nil {
				return total, err
			}
			if !rewound {
				return rebuild()
			}
			continue
		}
		if errors.Is(err, errMoved) {
			// Another catch-up of this index is ahead: what was read here
			// may be older than what it wrote, so it is not written.
			ix.log.Debug("another catch-up moved the index on", "err", err)
			return total, nil
		}
		if err == nil && len(starts) > 0 {
			err = ix.split(starts)
		}
		if err != nil {
			return total, err
		}
		ix.parkIdle()
		total += len(st.changes)
		if progress != nil {
			progress(st.last(), total)
		}
	}
}

// parkIdle parks the periods the catch-up left idle (shards.parkIdle).
func (ix *Indexer) parkIdle() {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.set != nil {
		ix.set.parkIdle(ix.log)
	}
}

// compactClosed merges the closed periods a large catch-up may have
// written to (shards.compactClosed).
func (ix *Indexer) compactClosed() {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.set != nil && !ix.set.legacy {
		ix.set.compactClosed(ix.log)
	}
}

// catchUpText bounds the text of a catch-up step: Bleve holds a batch's
// analysed text (tokens, word pairs, their frequencies), about a hundred
// times the text's bytes, and a step is held twice (one read while the
// other is written). Short IRC lines never reach it (2,000 are some
// 120 KB); a step of long Markdown messages is cut to fit, and the
// smaller the steps, the more segments (two a period a step) merges join
// again. A reindex of the 1M Markdown replay (751k messages, two
// alternated pairs) took 175-185 s (298-317 s of CPU) at 256 KiB and
// 142-157 s (249-276) at 512 KiB, peaking at 208-210 and 230 MiB RSS; at
// 1 MiB 130 s (235), but 292 MiB, past the default 256 MiB budget
// (web.memory_limit). 200k Markdown messages: 31.0 → 26.6 s, 182 → 199
// MiB; 3M (2.25M messages): 561 → 479 s, 268 → 241 MiB.
const catchUpText = 512 << 10

// checkpoint is the feed position the index holds everything up to.
func (ix *Indexer) checkpoint() (int64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.set == nil {
		return 0, errNoIndex
	}
	if ix.set.legacy {
		return 0, fmt.Errorf("the index has an older format; it must be rebuilt")
	}
	return ix.set.checkpoint.Load(), nil
}

// stepRead is one step read from the store: its changes, and the writes
// its events' documents need.
type stepRead struct {
	from    int64
	changes []store.Change
	// events are the events the changes name (journalStep).
	events []id.EventID
	writes writeList
	rooms  map[id.RoomID]bool
	users  map[id.UserID]bool
	err    error
}

func (st *stepRead) last() int64 { return st.changes[len(st.changes)-1].Pos }

// lastMark is the mark of the step's last change.
func (st *stepRead) lastMark() string { return st.changes[len(st.changes)-1].Mark() }

// prefetch reads the step after from in the background; mark, if known,
// is the mark of the change at from, which the previous step read
// (changesAfter).
func (ix *Indexer) prefetch(ctx context.Context, from int64, mark string, size int) <-chan *stepRead {
	out := make(chan *stepRead, 1)
	go func() { out <- ix.read(ctx, from, mark, size) }()
	return out
}

// read reads up to size changes after from and evaluates their events
// against the store, recording the index writes they need.
func (ix *Indexer) read(ctx context.Context, from int64, mark string, size int) *stepRead {
	st := &stepRead{from: from, rooms: map[id.RoomID]bool{}, users: map[id.UserID]bool{}}
	ix.mu.RLock()
	set := ix.set
	ix.mu.RUnlock()
	if set == nil {
		st.err = errNoIndex
		return st
	}
	st.changes, st.err = ix.changesAfter(ctx, set, from, mark, size)
	if st.err != nil || len(st.changes) == 0 {
		return st
	}
	// The events newly stored come first, in the feed's order, which is
	// the order of their rows (eventsOf); the others (an edit's original,
	// a redacted or expired message) after them.
	events := map[id.EventID]bool{}
	var stored, others []id.EventID
	for _, c := range st.changes {
		switch {
		case c.Kind == store.ChangeHidden:
			st.rooms[c.RoomID] = true
		case c.Kind == store.ChangeUser:
			st.users[c.UserID] = true
		case c.Kind == store.ChangeRenamed:
			// Only a sender name changed, and the index holds user IDs.
		case c.EventID != "" && !events[c.EventID]:
			events[c.EventID] = true
			if c.Kind == store.ChangeStored {
				stored = append(stored, c.EventID)
			} else {
				others = append(others, c.EventID)
			}
		}
	}
	rc := &roomCache{st: ix.store, rooms: map[id.RoomID]store.Room{}}
	more, err := ix.reevaluate(ctx, stored, others, rc, &st.writes)
	st.events, st.err = append(append(slices.Clip(stored), others...), more...), err
	return st
}

// eventsOf reads the stored events among those a step names: the newly
// stored ones in the order of their rows (store.EventsInStoreOrder: a run
// of rows rather than an index lookup each), the others by ID.
func (ix *Indexer) eventsOf(ctx context.Context, stored, others []id.EventID) ([]store.Event, error) {
	evs, err := ix.store.EventsInStoreOrder(ctx, stored)
	if err != nil || len(others) == 0 {
		return evs, err
	}
	more, err := ix.store.EventsByID(ctx, others)
	if err != nil {
		return nil, err
	}
	return append(evs, more...), nil
}

// write applies a step read from the store under the read lock (searches
// go on meanwhile): each period's share in its index batches, then the
// checkpoint in the manifest, once every period's batch has committed. A
// crash in between replays the step (periods.go). It returns the starts of
// the periods to add: where the newest should end, if it holds
// its size (PeriodDocs, PeriodBytes), and those of the periods it filled
// (multiBatch.splits).
func (ix *Indexer) write(ctx context.Context, st *stepRead) ([]int64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.set == nil {
		return nil, errNoIndex
	}
	set := ix.set
	if from := set.checkpoint.Load(); from != st.from {
		// Another catch-up (or a rebuild's swap) moved the index on.
		return nil, fmt.Errorf("%w: from %d to %d while a step was read", errMoved, st.from, from)
	}
	batch := newMultiBatch(set, ix.docName)
	if err := st.writes.replay(batch); err != nil {
		return nil, err
	}
	rc := &roomCache{st: ix.store, rooms: map[id.RoomID]store.Room{}}
	for room := range st.rooms {
		if err := ix.reevaluateRoom(ctx, room, rc, batch); err != nil {
			return nil, err
		}
	}
	for user := range st.users {
		if err := ix.reevaluateUser(ctx, user, rc, batch); err != nil {
			return nil, err
		}
	}
	// Read once everything the step writes was read, in one statement
	// with the step's last change and the index's anchor: the feed the
	// step's state came from reaches at most this far, and still holds
	// what the index and the step read (feedmark.go).
	anchor, err := ix.stepAnchor(ctx, set, st)
	if err != nil {
		return nil, err
	}
	// The anchor is on disk before the documents: a crash in between
	// leaves the old checkpoint with an anchor that covers them. Not a
	// rebuild's: its index is removed if it stops, and nothing follows
	// it but its own catch-up, which fails on a feed gone back.
	prevAnchor := set.anchor.Load()
	if anchor != nil && (prevAnchor == nil || *anchor != *prevAnchor) {
		set.anchor.Store(anchor)
		if !ix.builder {
			if err := set.writeManifest(); err != nil {
				set.anchor.Store(prevAnchor)
				return nil, err
			}
		}
	}
	// Journaled before its documents are written: a rewind reads it
	// again, and goes back to it only once it is written.
	set.record(journalStep{from: st.from, last: posMark{pos: st.last(), mark: st.lastMark()}, anchor: *set.anchor.Load(),
		events: st.events, rooms: slices.Collect(maps.Keys(st.rooms)), users: slices.Collect(maps.Keys(st.users))})
	j := len(set.journal) - 1
	if err := batch.commit(ix.afterCommit); err != nil {
		return nil, fmt.Errorf("write index batch: %w", err)
	}
	set.checkpoint.Store(st.last())
	batch.weigh()
	if err := set.writeManifest(); err != nil {
		set.checkpoint.Store(st.from)
		batch.unweigh()
		return nil, err
	}
	set.journal[j].written = true
	return batch.splits(ix.opts.PeriodDocs, ix.opts.PeriodBytes)
}

// errMoved is write's refusal of a step read from a checkpoint the index
// has since left.
var errMoved = errors.New("the index moved on")

// writeList records index writes to replay into a batch later, in order.
type writeList []indexWrite

type indexWrite struct {
	id  string
	doc any // nil: a delete
	ts  int64
}

func (w *writeList) Index(id string, data any) error {
	*w = append(*w, indexWrite{id: id, doc: data})
	return nil
}

func (w *writeList) Delete(id string, ts int64) { *w = append(*w, indexWrite{id: id, ts: ts}) }

// textBytes is the text the recorded writes index.
func (w writeList) textBytes() int {
	n := 0
	for _, x := range w {
		if d, ok := x.doc.(document); ok {
			n += len(d.Text)
		}
	}
	return n
}

func (w writeList) replay(b indexBatch) error {
	for _, x := range w {
		if x.doc == nil {
			b.Delete(x.id, x.ts)
			continue
		}
		if err := b.Index(x.id, x.doc); err != nil {
			return err
		}
	}
	return nil
}

// split begins a new period at each start (shards.addPeriod places it
// after the period it takes over from), and merges the periods that
// closed. The new periods exist before the manifest names them; a crash in
// between leaves empty directories that the next Open removes, and the
// periods are found full again after the next step written to them.
func (ix *Indexer) split(starts []int64) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.set == nil {
		return errNoIndex
	}
	set := ix.set
	var added []*period
	undo := func() {
		for _, p := range added {
			set.removePeriod(slices.Index(set.periods, p))
		}
	}
	for _, start := range starts {
		k, err := set.addPeriod(start, ix.newIndex)
		if err != nil {
			undo()
			return err
		}
		added = append(added, set.periods[k])
	}
	if err := set.writeManifest(); err != nil {
		undo()
		return err
	}
	for _, p := range added {
		closed := set.periods[slices.Index(set.periods, p)-1]
		var docs uint64
		if idx, err := set.index(closed); err == nil {
			docs, _ = idx.DocCount()
		}
		if p.Start == closed.Start {
			ix.log.Info("a period of the search index is full; a new one takes its time", "period", p.Dir, "full", closed.Dir, "full_docs", docs, "start", time.UnixMilli(p.Start).UTC())
		} else {
			ix.log.Info("the search index begins a new period", "period", p.Dir, "start", time.UnixMilli(p.Start).UTC())
		}
		set.compact(closed, ix.log)
	}
	return nil
}

// indexBatch is the part of a Bleve batch reevaluate needs.
type indexBatch interface {
	Index(id string, data any) error
	// Delete removes a document; ts is its time as indexed
	// (indexTime), or -1 if unknown.
	Delete(id string, ts int64)
}

// reevaluate brings the documents of the given events (and of the messages
// they belong to: an edit's original, a thread reply's root) in line with
// the store: indexed if visible, deleted otherwise. stored are the events
// a step newly stored, in the feed's order; others the rest it names.
func (ix *Indexer) reevaluate(ctx context.Context, stored, others []id.EventID, rc *roomCache, batch indexBatch) (written []id.EventID, err error) {
	ids := append(slices.Clip(stored), others...)
	if len(ids) == 0 {
		return nil, nil
	}
	evs, err := ix.eventsOf(ctx, stored, others)
	if err != nil {
		return nil, err
	}
	targets := map[id.EventID]bool{}
	var missing []id.EventID
	have := map[id.EventID]store.Event{}
	for _, e := range evs {
		have[e.ID] = e
	}
	var unseen []id.EventID
	for _, evID := range ids {
		e, ok := have[evID]
		if !ok {
			unseen = append(unseen, evID)
			continue
		}
		switch {
		case e.Readable():
			targets[e.ID] = true
			if e.Rel.Type == event.RelThread && e.Rel.EventID != "" {
				targets[e.Rel.EventID] = true // the root becomes (or stays) a thread
			}
		case e.Rel.Type == event.RelReplace && e.Rel.EventID != "":
			targets[e.Rel.EventID] = true
		}
	}
	if err := ix.deleteUnseen(ctx, unseen, batch); err != nil {
		return nil, err
	}
	for t := range targets {
		if _, ok := have[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		more, err := ix.store.EventsByID(ctx, missing)
		if err != nil {
			return nil, err
		}
		for _, e := range more {
			have[e.ID] = e
		}
	}
	var msgs []store.Event
	for t := range targets {
		if e, ok := have[t]; ok && e.Readable() {
			msgs = append(msgs, e)
		}
	}
	// What a rewind must read again besides ids: the messages written
	// for them (a thread's root, an edit's original).
	written = missing
	return written, ix.indexMessages(ctx, msgs, rc, batch)
}

// deleteUnseen deletes the documents of events EventsByID did not return:
// their rows are hidden (expired, opted out) or deleted (purged, erased). A
// document is named by its message's time, which EventTimes reads from the
// row or the tombstone whether or not it may be shown. An event deleted
// before tombstones kept times cannot be named; the store check keeps it
// out of every result.
func (ix *Indexer) deleteUnseen(ctx context.Context, ids []id.EventID, batch indexBatch) error {
	if len(ids) == 0 {
		return nil
	}
	times, err := ix.store.EventTimes(ctx, ids)
	if err != nil {
		return err
	}
	for _, evID := range ids {
		ts, ok := times[evID]
		if !ok {
			batch.Delete(string(evID), -1)
			continue
		}
		batch.Delete(string(evID), indexTime(ts))
	}
	return nil
}

// indexMessages writes or deletes the documents of timeline messages and
// polls (store.Event.Readable).
func (ix *Indexer) indexMessages(ctx context.Context, msgs []store.Event, rc *roomCache, batch indexBatch) error {
	if len(msgs) == 0 {
		return nil
	}
	resolved, err := ix.resolve(ctx, msgs, true)
	if err != nil {
		return err
	}
	for i := range msgs {
		m := &msgs[i]
		room, err := rc.get(ctx, m.RoomID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		res := resolved[m.ID]
		msg, ok := searchable(m, res)
		if !ok || !indexable(m, room) {
			batch.Delete(string(m.ID), indexTime(m.OriginTS))
			continue
		}
		if err := batch.Index(string(m.ID), newDocument(m, msg, res.ThreadCount > 0)); err != nil {
			return err
		}
	}
	return nil
}

// resolve loads what relates to msgs and resolves each as readers see it
// (event.Resolve, as the web does): the edit it shows, which makes its
// text (store.LatestEdits: the same edit Resolve picks among them all),
// and whether it has a thread reply, which makes it a thread's root
// (IsThread; store.ThreadRoots, and ThreadCount is then 1). Its
// reactions and references are not read, which the index does not hold,
// nor its other edits and its replies: every batch that touched a
// message read all its relations again, up to MaxRelatedBytes of each
// kind (a reindex of 60 messages with 500 large reactions and 120 edited
// 40 times into 60,000 bytes took 63 s). Without threads only the text
// is resolved (ThreadCount is 0).
func (ix *Indexer) resolve(ctx context.Context, msgs []store.Event, threads bool) (map[id.EventID]event.Resolved, error) {
	edits, _, err := ix.store.LatestEdits(ctx, msgs, 0)
	if err != nil {
		return nil, err
	}
	var roots map[id.EventID]bool
	if threads {
		ids := make([]id.EventID, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		if roots, err = ix.store.ThreadRoots(ctx, ids); err != nil {
			return nil, err
		}
	}
	out := make(map[id.EventID]event.Resolved, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		var related []event.Related
		if e, ok := edits[m.ID]; ok {
			related = []event.Related{{Event: &e.Event, Rel: e.Rel}}
		}
		res := event.Resolve(event.Related{Event: &m.Event, Rel: m.Rel}, related)
		if roots[m.ID] {
			res.ThreadCount = 1 // at least: the index asks whether there is one (IsThread)
		}
		out[m.ID] = res
	}
	return out, nil
}

// reevaluateUser re-indexes every message of a user (opted in), or
// removes them all (opted out, erased).
func (ix *Indexer) reevaluateUser(ctx context.Context, user id.UserID, rc *roomCache, batch indexBatch) error {
	var after *store.Event
	for {
		msgs, err := ix.store.SenderMessages(ctx, user, after, 1000)
		if err != nil || len(msgs) == 0 {
			return err
		}
		if err := ix.indexMessages(ctx, msgs, rc, batch); err != nil {
			return err
		}
		after = &msgs[len(msgs)-1]
	}
}

// reevaluateRoom re-indexes every message of a room, or removes them all
// when the room is no longer shown.
func (ix *Indexer) reevaluateRoom(ctx context.Context, roomID id.RoomID, rc *roomCache, batch indexBatch) error {
	var after *store.Event
	for {
		msgs, err := ix.store.RoomMessages(ctx, roomID, after, 1000)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
		if err := ix.indexMessages(ctx, msgs, rc, batch); err != nil {
			return err
		}
		after = &msgs[len(msgs)-1]
	}
}
