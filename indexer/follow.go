package indexer

import (
	"context"
	"errors"
	"fmt"
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
// A backlog (a full batch came back) is taken in batches growing to
// catchUpBatches times the configured size: each Bleve batch writes a
// segment that merges read and write again, so fewer, larger segments
// cost less (CPU per change fell 15% from batches of 2,000 to 10,000 in a
// 60k-change catch-up). Batches stay small in the steady state, where a
// change should be searchable at once.
func (ix *Indexer) CatchUp(ctx context.Context, progress func(pos int64, applied int)) (int, error) {
	if ix.stale.Load() {
		// Rebuild clears stale once it has swapped, then catches up
		// the new index.
		if err := ix.Rebuild(ctx, progress); err != nil {
			return 0, fmt.Errorf("rebuild the index in its new format: %w", err)
		}
	}
	total := 0
	size := ix.opts.BatchSize
	for {
		n, pos, err := ix.step(ctx, size)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
		if progress != nil {
			progress(pos, total)
		}
		if n == size {
			size = min(size*2, ix.opts.BatchSize*catchUpBatches)
		}
	}
}

// catchUpBatches bounds how many times the configured batch size a
// catch-up batch grows to (2,000 × 5): a batch's documents are held in
// memory until it is written.
const catchUpBatches = 5

// step applies one batch of changes: each period's share in one index
// batch, then the checkpoint in the manifest, once every period's batch
// has committed. A crash in between replays the step (periods.go).
func (ix *Indexer) step(ctx context.Context, size int) (int, int64, error) {
	n, last, split, err := ix.apply(ctx, size)
	if err != nil || split == nil {
		return n, last, err
	}
	return n, last, ix.split(*split)
}

// apply writes one step under the read lock (searches go on meanwhile) and
// says where the newest period should end, if it is full.
func (ix *Indexer) apply(ctx context.Context, size int) (int, int64, *int64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.set == nil {
		return 0, 0, nil, errNoIndex
	}
	set := ix.set
	if set.legacy {
		return 0, 0, nil, fmt.Errorf("the index has an older format; it must be rebuilt")
	}
	from := set.checkpoint.Load()
	changes, err := ix.store.Changes(ctx, from, size)
	if err != nil || len(changes) == 0 {
		return 0, from, nil, err
	}
	events := map[id.EventID]bool{}
	rooms := map[id.RoomID]bool{}
	users := map[id.UserID]bool{}
	for _, c := range changes {
		switch {
		case c.Kind == store.ChangeHidden:
			rooms[c.RoomID] = true
		case c.Kind == store.ChangeUser:
			users[c.UserID] = true
		case c.Kind == store.ChangeRenamed:
			// Only a sender name changed, and the index holds user IDs.
		case c.EventID != "":
			events[c.EventID] = true
		}
	}
	batch := newMultiBatch(set)
	rc := &roomCache{st: ix.store, rooms: map[id.RoomID]store.Room{}}
	ids := make([]id.EventID, 0, len(events))
	for e := range events {
		ids = append(ids, e)
	}
	if err := ix.reevaluate(ctx, ids, rc, batch); err != nil {
		return 0, from, nil, err
	}
	for room := range rooms {
		if err := ix.reevaluateRoom(ctx, room, rc, batch); err != nil {
			return 0, from, nil, err
		}
	}
	for user := range users {
		if err := ix.reevaluateUser(ctx, user, rc, batch); err != nil {
			return 0, from, nil, err
		}
	}
	if err := batch.commit(ix.afterCommit); err != nil {
		return 0, from, nil, fmt.Errorf("write index batch: %w", err)
	}
	last := changes[len(changes)-1].Pos
	set.checkpoint.Store(last)
	if err := set.writeManifest(); err != nil {
		set.checkpoint.Store(from)
		return 0, from, nil, err
	}
	newest := set.periods[len(set.periods)-1]
	if docs, err := newest.idx.DocCount(); err == nil && docs >= uint64(ix.opts.PeriodDocs) {
		if at, ok := splitAt(batch.open, newest.Start); ok {
			return len(changes), last, &at, nil
		}
	}
	return len(changes), last, nil, nil
}

// split begins a new period at start. The new period exists before the
// manifest names it; a crash in between leaves an empty directory that
// the next Open removes.
func (ix *Indexer) split(start int64) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.set == nil {
		return errNoIndex
	}
	if err := ix.set.addPeriod(start, ix.newIndex); err != nil {
		return err
	}
	if err := ix.set.writeManifest(); err != nil {
		p := ix.set.periods[len(ix.set.periods)-1]
		ix.set.periods = ix.set.periods[:len(ix.set.periods)-1]
		p.idx.Close()
		return err
	}
	ix.log.Info("the search index begins a new period", "period", ix.set.periods[len(ix.set.periods)-1].Dir, "start", time.UnixMilli(start).UTC())
	ix.set.compact(ix.set.periods[len(ix.set.periods)-2], ix.log)
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
// the store: indexed if visible, deleted otherwise.
func (ix *Indexer) reevaluate(ctx context.Context, ids []id.EventID, rc *roomCache, batch indexBatch) error {
	if len(ids) == 0 {
		return nil
	}
	evs, err := ix.store.EventsByID(ctx, ids)
	if err != nil {
		return err
	}
	targets := map[id.EventID]bool{}
	var missing []id.EventID
	have := map[id.EventID]store.Event{}
	for _, e := range evs {
		have[e.ID] = e
	}
	for _, evID := range ids {
		e, ok := have[evID]
		if !ok {
			batch.Delete(string(evID), -1) // gone from the store (purged): gone from every period
			continue
		}
		switch {
		case e.Displayable():
			targets[e.ID] = true
			if e.Rel.Type == event.RelThread && e.Rel.EventID != "" {
				targets[e.Rel.EventID] = true // the root becomes (or stays) a thread
			}
		case e.Rel.Type == event.RelReplace && e.Rel.EventID != "":
			targets[e.Rel.EventID] = true
		}
	}
	for t := range targets {
		if _, ok := have[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		more, err := ix.store.EventsByID(ctx, missing)
		if err != nil {
			return err
		}
		for _, e := range more {
			have[e.ID] = e
		}
	}
	var msgs []store.Event
	for t := range targets {
		if e, ok := have[t]; ok && e.Displayable() {
			msgs = append(msgs, e)
		}
	}
	return ix.indexMessages(ctx, msgs, rc, batch)
}

// indexMessages writes or deletes the documents of timeline messages.
func (ix *Indexer) indexMessages(ctx context.Context, msgs []store.Event, rc *roomCache, batch indexBatch) error {
	if len(msgs) == 0 {
		return nil
	}
	resolved, err := ix.resolve(ctx, msgs)
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
		msg, ok := res.Searchable()
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
// (event.Resolve, as the web does).
func (ix *Indexer) resolve(ctx context.Context, msgs []store.Event) (map[id.EventID]event.Resolved, error) {
	ids := make([]id.EventID, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	related, err := ix.store.Related(ctx, ids)
	if err != nil {
		return nil, err
	}
	byTarget := map[id.EventID][]event.Related{}
	for i := range related {
		r := &related[i]
		byTarget[r.Rel.EventID] = append(byTarget[r.Rel.EventID], event.Related{Event: &r.Event, Rel: r.Rel})
	}
	out := make(map[id.EventID]event.Resolved, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		out[m.ID] = event.Resolve(event.Related{Event: &m.Event, Rel: m.Rel}, byTarget[m.ID])
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
