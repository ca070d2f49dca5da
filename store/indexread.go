package store

import (
	"context"
	"database/sql"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// Reads for the search index's catch-up.

const (
	// runBoundsSQL finds the rows of the first and last ID of a run.
	runBoundsSQL = `SELECT MIN(nid), MAX(nid), COUNT(*) FROM events WHERE idh(event_id) IN (idh($1), idh($2)) AND event_id IN ($1, $2)`
	// runSQL reads a run of rows in table order.
	runSQL = `SELECT ` + eventColumns + ` FROM events WHERE nid >= $1 AND nid <= $2 ORDER BY nid`
)

// maxRunSpread bounds how many rows a run may span per ID asked for: a
// run read whole reads the rows between the IDs too (state events, others'
// messages, IDs the caller did not name), at most this many times as many.
const maxRunSpread = 2

// EventsInStoreOrder is EventsByID for IDs in about the order the store
// took them, as a catch-up's step of the change feed names them: it
// returns the same events, screened the same way. When the rows of the
// first and last ID lie at most maxRunSpread times as many rows apart as
// there are IDs, it reads those rows in one run in table order and keeps
// the ones asked for; what the run does not hold (an old message a later
// edit names, an unknown ID) it reads by ID. A 1M-message reindex spent
// 17 of 145 s of CPU in EventsByID, most of it descending the event ID
// index once per event and reading its pages in no order (archive-web
// keeps a small page cache and maps nothing).
func (s *Store) EventsInStoreOrder(ctx context.Context, ids []id.EventID) ([]Event, error) {
	if len(ids) < 2 {
		return s.EventsByID(ctx, ids)
	}
	lo, hi, ok, err := s.runBounds(ctx, ids[0], ids[len(ids)-1])
	if err != nil {
		return nil, err
	}
	if !ok || hi-lo+1 > int64(maxRunSpread*len(ids)) {
		return s.EventsByID(ctx, ids)
	}
	want := make(map[id.EventID]bool, len(ids))
	for _, e := range ids {
		want[e] = true
	}
	qctx, cancel := s.readCtx(ctx)
	run, err := s.queryEventsSized(qctx, int(hi-lo+1), "", runSQL, lo, hi)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("events %d to %d: %w", lo, hi, err)
	}
	out := run[:0]
	for _, e := range run {
		if want[e.ID] {
			out = append(out, e)
			delete(want, e.ID)
		}
	}
	sctx, cancel := s.readCtx(ctx)
	defer cancel()
	if out, err = s.screen(sctx, out, false); err != nil {
		return nil, fmt.Errorf("events %d to %d: %w", lo, hi, err)
	}
	if len(want) == 0 {
		return out, nil
	}
	rest := make([]id.EventID, 0, len(want))
	for _, e := range ids {
		if want[e] {
			rest = append(rest, e)
			delete(want, e) // an ID named twice is read once
		}
	}
	more, err := s.EventsByID(ctx, rest)
	if err != nil {
		return nil, err
	}
	return append(out, more...), nil
}

// runBounds is the lowest and highest nid of the rows of a and b; ok is
// false unless the store holds both.
func (s *Store) runBounds(ctx context.Context, a, b id.EventID) (lo, hi int64, ok bool, err error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var first, last sql.NullInt64
	var n int
	if err := s.queryRow(ctx, runBoundsSQL, string(a), string(b)).Scan(&first, &last, &n); err != nil {
		return 0, 0, false, fmt.Errorf("rows of %s and %s: %w", a, b, err)
	}
	want := 2
	if a == b {
		want = 1
	}
	return first.Int64, last.Int64, n == want && first.Valid && last.Valid, nil
}
