package ingest

import (
	"sort"

	"github.com/mxarchive/mxarchive/event"
)

// historyOrder holds the history-visibility events of a backfill's spool
// file by line. The spool holds the room's history newest first, as
// /messages pages it backwards in the room's order, so the visibility in
// force before the event on line n is the one the nearest later line
// sets. The events' timestamps are their senders' claims; this order is
// the homeserver's, and a backfill judges each event by both (inOrder).
type historyOrder struct {
	lines  []int // ascending, as the spool is written
	values []string
	// complete: the spool reaches the room's creation, before which no
	// visibility was set (the spec's default, "shared").
	complete bool
	// first: the visibility before the oldest line's, as its server's
	// unsigned.prev_content says (firstKnown), for a spool that stops
	// short of the creation (a backfill's bounds).
	first      string
	firstKnown bool
	// newest: the visibility at the spool's newest end, the room's in its
	// order when the backfill began (store.ArrivedVisibility; "" if not
	// known), in force over a whole spool without a visibility change.
	newest string
}

// add records that line sets the visibility v, replacing prev where
// prevKnown; lines come in order.
func (o *historyOrder) add(line int, v, prev string, prevKnown bool) {
	o.lines = append(o.lines, line)
	o.values = append(o.values, v)
	o.first, o.firstKnown = prev, prevKnown
}

// before is the visibility in force before the event on line, by the
// room's order; "" if not known.
func (o *historyOrder) before(line int) string {
	if i := sort.SearchInts(o.lines, line+1); i < len(o.lines) {
		return o.values[i]
	}
	switch {
	case o.complete:
		return "shared"
	case o.firstKnown:
		return o.first
	case len(o.lines) == 0:
		return o.newest
	}
	return ""
}

// of is before for each of a batch's events (evs, read from lines).
func (o *historyOrder) of(evs []*event.Event, lines []int) map[*event.Event]string {
	m := make(map[*event.Event]string, len(evs))
	for i, ev := range evs {
		m[ev] = o.before(lines[i])
	}
	return m
}
