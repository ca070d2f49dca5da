package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// LatestEdits finds, for each of targets (messages as read), the edit
// that is shown: the one event.Resolve applies over Related's edits, the
// latest valid one (event.LatestEdit, event.ValidEdit), without reading
// the JSON of the others. A view that shows messages' text alone (search
// results, feeds, a reply's quote, a meeting's minutes) read every edit
// of each, up to MaxRelatedBytes a message: a feed of 60 messages edited
// 40 times into 60,000 bytes read 120 MB for each request, and 16 at
// once took archive-web to 1,669 MiB.
//
// The edits Related would read are listed by their place only
// (editCandidatesSQL); then, round after round, each message's latest
// not yet tried are read (one the first round, twice as many each round
// after), and the first valid one is the message's. Reading stops once
// maxBytes of edits' JSON are read (the edit that reaches it is the
// last; maxBytes ≤ 0: no bound): the messages not settled by what was
// read are returned in short, in the order of targets, and their text
// is not known. A round reads every message's next edits, so messages
// whose latest edit is valid (all but a hostile sender's) are settled in
// the first round, whatever the others hold.
func (s *Store) LatestEdits(ctx context.Context, targets []Event, maxBytes int) (edits map[id.EventID]Event, short []id.EventID, err error) {
	edits = map[id.EventID]Event{}
	if len(targets) == 0 {
		return edits, nil, nil
	}
	cands, err := s.editCandidates(ctx, targets)
	if err != nil || len(cands) == 0 {
		return edits, nil, err
	}
	type pending struct {
		target *Event
		cands  []editCandidate // latest first
	}
	var open []pending
	for i := range targets {
		t := &targets[i]
		var c []editCandidate
		for _, e := range cands[t.ID] {
			// Of another type than its target's: not valid (ValidEdit),
			// and left out after Related's window, as Resolve leaves it.
			if e.typ == t.Type {
				c = append(c, e)
			}
		}
		if len(c) > 0 {
			open = append(open, pending{t, c})
		}
	}
	left := maxBytes
	for width := 1; len(open) > 0; width *= 2 {
		if maxBytes > 0 && left <= 0 {
			for _, p := range open {
				short = append(short, p.target.ID)
			}
			break
		}
		var nids []int64
		for _, p := range open {
			for _, c := range p.cands[:min(width, len(p.cands))] {
				nids = append(nids, c.nid)
			}
		}
		bound := 0 // none
		if maxBytes > 0 {
			bound = left
		}
		read, seen, n, err := s.eventsByNID(ctx, nids, bound)
		if err != nil {
			return nil, nil, err
		}
		left -= n
		next := open[:0]
		for _, p := range open {
			take := p.cands[:min(width, len(p.cands))]
			found, all := false, true
			for _, c := range take {
				if !seen[c.nid] && maxBytes > 0 {
					all = false // past the bound (or gone since listed)
					break
				}
				e, ok := read[c.nid]
				if !ok {
					continue // gone since listed, or screened out (expired)
				}
				if event.ValidEdit(&p.target.Event, &e.Event) {
					edits[p.target.ID] = e
					found = true
					break
				}
			}
			switch rest := p.cands[len(take):]; {
			case found:
			case !all && maxBytes > 0:
				short = append(short, p.target.ID)
			case len(rest) > 0:
				next = append(next, pending{p.target, rest})
			}
		}
		open = next
	}
	if len(short) > 1 { // in targets' order, from whichever round
		at := make(map[id.EventID]int, len(targets))
		for i := range targets {
			at[targets[i].ID] = i
		}
		slices.SortFunc(short, func(a, b id.EventID) int { return cmp.Compare(at[a], at[b]) })
	}
	return edits, short, nil
}

// editCandidate is an edit of a message as editCandidatesSQL lists it.
type editCandidate struct {
	nid     int64
	ts      int64
	eventID id.EventID
	typ     string
}

// editCandidatesSQL lists the edits Related reads of the listed targets
// (relatedWhere and relatedKept, with the same window) by their target
// and place, without their JSON. (A second window function, for each
// edit's own length, made SQLite carry every edit's JSON through its
// sort: a reindex of 120 messages edited 40 times into 60,000 bytes
// took 65 s, most of it copying them.)
func editCandidatesSQL(guard string) string {
	return `SELECT rel_target, nid, origin_ts, event_id, type FROM (
		SELECT rel_target, nid, origin_ts, event_id, type, ` + relatedWindow("") + `
		FROM events WHERE ` + relatedWhere(guard+` rel_type = '`+event.RelReplace+`' AND`) + relatedWindowDef("") + `
	) candidates WHERE ` + relatedKept
}

var (
	pgEditCandidatesSQL     = editCandidatesSQL("")
	sqliteEditCandidatesSQL = editCandidatesSQL(relationsGuardSQL)
)

// editCandidates lists targets' edits (editCandidatesSQL), each
// target's latest first as event.LatestEdit orders them.
func (s *Store) editCandidates(ctx context.Context, targets []Event) (map[id.EventID][]editCandidate, error) {
	text := pgEditCandidatesSQL
	if s.dialect == sqlite {
		text = sqliteEditCandidatesSQL
	}
	ids := make([]id.EventID, len(targets))
	for i := range targets {
		ids[i] = targets[i].ID
	}
	out := map[id.EventID][]editCandidate{}
	err := s.inRows(ctx, text, ids, func(rows *sql.Rows) error {
		var target id.EventID
		var c editCandidate
		if err := rows.Scan(&target, &c.nid, &c.ts, &c.eventID, &c.typ); err != nil {
			return err
		}
		out[target] = append(out[target], c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("edits: %w", err)
	}
	for _, c := range out {
		slices.SortFunc(c, func(a, b editCandidate) int {
			return cmp.Or(cmp.Compare(b.ts, a.ts), cmp.Compare(b.eventID, a.eventID))
		})
	}
	return out, nil
}

// eventsByNID reads the events of nids, screened (screen) as every read
// is, by their nid, and no more than maxBytes of their JSON (maxBytes
// ≤ 0: no bound): the event that reaches it is the last read
// (queryEventsBounded). seen holds the nids read, screened out or not;
// n is the JSON read.
func (s *Store) eventsByNID(ctx context.Context, nids []int64, maxBytes int) (out map[int64]Event, seen map[int64]bool, n int, err error) {
	out, seen = make(map[int64]Event, len(nids)), make(map[int64]bool, len(nids))
	for len(nids) > 0 {
		k := min(len(nids), maxIDsPerQuery)
		list, args := nidList(s.dialect, nids[:k])
		qctx, cancel := s.readCtx(ctx)
		bound := 0 // none
		if maxBytes > 0 {
			bound = maxBytes - n // > 0: a full read ends the loop
		}
		evs, cut, err := s.queryEventsBounded(qctx, k, bound, "", `SELECT `+eventColumns+` FROM events WHERE nid IN (`+list+`)`, args...)
		for _, e := range evs {
			n += len(e.Raw)
			seen[e.NID] = true
		}
		if err == nil {
			evs, err = s.screen(qctx, evs, false)
		}
		cancel()
		if err != nil {
			return nil, nil, 0, fmt.Errorf("edits: %w", err)
		}
		for _, e := range evs {
			out[e.NID] = e
		}
		if maxBytes > 0 && (cut || n >= maxBytes) {
			break
		}
		nids = nids[k:]
	}
	return out, seen, n, nil
}

// nidList is idList for nids: the query's text repeats (it is prepared
// once, stmts.go).
func nidList(d dialect, nids []int64) (string, []any) {
	if d == postgres {
		return padded(nids, func(n int64) any { return n })
	}
	b, _ := json.Marshal(nids) // []int64 always marshals
	return sqliteIDRows, []any{string(b)}
}

// ThreadRoots says which of targets have a thread reply as Related reads
// them (public, unredacted, in the target's room, not expired): the
// indexer's is:thread. Reading the replies themselves, as Related does,
// read up to MaxRelatedBytes of them for every batch that touched the
// thread's root (each reply does). Of a root's replies it looks at the
// latest MaxRelated to arrive, as Related keeps them; Related keeps no
// more than MaxRelatedBytes of their JSON either, which is not summed
// here: a root whose 32 or more latest replies, as large as a
// homeserver lets through, are all expired while one of the next is not
// is a thread here and not for Related.
func (s *Store) ThreadRoots(ctx context.Context, targets []id.EventID) (map[id.EventID]bool, error) {
	type latest struct {
		room id.RoomID
		ts   int64
	}
	var roots []id.EventID
	probe := pgThreadTargetsSQL
	if s.dialect == sqlite {
		probe = sqliteThreadTargetsSQL
	}
	err := s.inRows(ctx, probe, targets, func(rows *sql.Rows) error {
		var t id.EventID
		if err := rows.Scan(&t); err != nil {
			return err
		}
		roots = append(roots, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("thread replies: %w", err)
	}
	out := map[id.EventID]bool{}
	if len(roots) == 0 {
		return out, nil
	}
	slices.Sort(roots)
	roots = slices.Compact(roots) // PostgreSQL's list is padded with repeats
	found := map[id.EventID]latest{}
	err = s.inRows(ctx, threadRepliesSQL, roots, func(rows *sql.Rows) error {
		var target id.EventID
		var l latest
		var ts sql.NullInt64
		if err := rows.Scan(&target, &l.room, &ts); err != nil {
			return err
		}
		if ts.Valid {
			l.ts = ts.Int64
			found[target] = l
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("thread replies: %w", err)
	}
	if len(found) == 0 {
		return out, nil
	}
	roomMax, _, err := s.consentView(ctx)
	if err != nil {
		return nil, err
	}
	for t, l := range found {
		out[t] = l.ts >= s.expiredBefore(roomMax, l.room) // as screen keeps them
	}
	return out, nil
}

// threadTargetsSQL is ThreadRoots' first query: those of the listed
// targets that have a thread reply, each found by a probe of events_rel
// (most messages have none, and the second query looks each target up
// by its ID: for every message of a reindex, 11% of its CPU).
var (
	sqliteThreadTargetsSQL = `SELECT ids.value FROM (%[1]s) ids WHERE ` + threadReplyExistsSQL
	// OFFSET 0 keeps the probe one for each target: PostgreSQL would
	// make EXISTS a join, and might walk every thread reply of the
	// archive against the list (as it planned for empty tables).
	pgThreadTargetsSQL = `SELECT ids.value FROM unnest(ARRAY[%[1]s]::text[]) AS ids(value) WHERE ` +
		strings.Replace(threadReplyExistsSQL, ")", " OFFSET 0)", 1)
	threadReplyExistsSQL = `EXISTS (SELECT 1 FROM events r WHERE r.rel_target = ids.value AND r.rel_target <> '' AND r.rel_type = '` + event.RelThread + `')`
)

// threadRepliesSQL is ThreadRoots' second query: each listed target's room
// and the latest time of the thread replies Related keeps of it (the
// latest MaxRelated to arrive, from its room, public, not redacted);
// NULL without one. Each target's replies are walked from the latest to
// arrive (events_rel, in nid order on SQLite) and no further than
// Related keeps: every reply compared as a group, each through a lookup
// of its target, cost 40 ms (SQLite) and 128 ms (PostgreSQL) for a root
// with 20,000 (BenchmarkThreadRoots; now 0.6 and 8), in every batch of
// the indexer that held one of them.
var threadRepliesSQL = `SELECT t.event_id, t.room_id, (SELECT MAX(k.ts) FROM (
		SELECT r.origin_ts AS ts FROM events r
		WHERE r.rel_target = t.event_id AND r.rel_target <> '' AND r.rel_type = '` + event.RelThread + `'
		  AND r.public AND NOT r.redacted AND r.room_id = t.room_id
		ORDER BY r.nid DESC LIMIT ` + strconv.Itoa(MaxRelated) + `) k)
	FROM events t WHERE idh(t.event_id) IN (%[2]s) AND t.event_id IN (%[1]s)`
