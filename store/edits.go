package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

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

// editCandidatesSQL lists the edits Related reads of the listed
// targets (relationWalk's, the latest MaxRelated to arrive; Related's
// bound on their bytes is applied by editCandidates) by their target
// and place, and each one's length, without their JSON. Each target's
// edits are walked from the latest to arrive (events_rel, in nid order)
// and no further: Related's window ranked every edit of a message, each
// through a lookup of its target, and a message edited 20,000 times cost
// 125 ms (SQLite) and 266 ms (PostgreSQL) for every list that showed it
// and every batch of the indexer that held one of its edits; now 1.1
// and 2.5-4 (BenchmarkLatestEdits; PostgreSQL's probe still reads each
// of its edits' index entries, relationTargetsSQL). (A second window
// function, for each edit's own length, made SQLite carry every edit's
// JSON through its sort: a reindex of 120 messages edited 40 times into
// 60,000 bytes took 65 s, most of it copying them.)
func editCandidatesSQL(d dialect) string {
	if d == sqlite {
		return `SELECT t.event_id, e.nid, e.origin_ts, e.event_id, e.type, octet_length(e.raw) FROM events t, events e
			WHERE ` + relationTargetsSQL(d, event.RelReplace) + ` AND e.nid IN (` + relationWalk(event.RelReplace, `r.nid`) + `)`
	}
	return `SELECT t.event_id, e.nid, e.origin_ts, e.event_id, e.type, octet_length(e.raw) FROM events t
		CROSS JOIN LATERAL (` + relationWalk(event.RelReplace, `r.nid, r.origin_ts, r.event_id, r.type, r.raw`) + `) e
		WHERE ` + relationTargetsSQL(d, event.RelReplace)
}

// editCandidates lists targets' edits (editCandidatesSQL), each
// target's latest first as event.LatestEdit orders them.
func (s *Store) editCandidates(ctx context.Context, targets []Event) (map[id.EventID][]editCandidate, error) {
	ids := make([]id.EventID, len(targets))
	for i := range targets {
		ids[i] = targets[i].ID
	}
	type listed struct {
		editCandidate
		len int
	}
	all := map[id.EventID][]listed{}
	err := s.inRows(ctx, editCandidatesSQL(s.dialect), ids, func(rows *sql.Rows) error {
		var target id.EventID
		var c listed
		if err := rows.Scan(&target, &c.nid, &c.ts, &c.eventID, &c.typ, &c.len); err != nil {
			return err
		}
		all[target] = append(all[target], c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("edits: %w", err)
	}
	out := make(map[id.EventID][]editCandidate, len(all))
	for target, l := range all {
		// Related keeps, of the latest to arrive, those read before
		// MaxRelatedBytes of them were (relatedKept).
		slices.SortFunc(l, func(a, b listed) int { return cmp.Compare(b.nid, a.nid) })
		before := 0
		var c []editCandidate
		for _, e := range l {
			if before >= MaxRelatedBytes {
				break
			}
			before += e.len
			c = append(c, e.editCandidate)
		}
		slices.SortFunc(c, func(a, b editCandidate) int {
			return cmp.Or(cmp.Compare(b.ts, a.ts), cmp.Compare(b.eventID, a.eventID))
		})
		out[target] = c
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
	out := map[id.EventID]bool{}
	found := map[id.EventID]latest{}
	err := s.inRows(ctx, threadRepliesSQL(s.dialect), targets, func(rows *sql.Rows) error {
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

// relationTargetsSQL is the condition on events t (a query's list,
// %[1]s, of IDs) that t is one of the list that is the target of a
// relation of relType (a constant of the event package: it is written
// into the text, which the list's parameters leave no number for), or
// of any relation if relType is empty. The list is first narrowed to
// the IDs with such a relation, and only those are looked up: most
// messages have none, and looking up each target of a reindex's batches
// by its ID took 11% of its CPU. On SQLite each ID is probed on
// events_rel, after a guard that skips them all in an archive without
// relations (relationsGuardSQL; an IRC one's). On PostgreSQL the list's
// relations are found on events_rel in one scan (= ANY), which cost a
// list of 2,000 IDs without relations 2.0-3.1 ms against 4.5-4.9 probed
// one by one, and 8 when each was looked up by its ID and kept if
// related, as relatedSQL does for its short lists
// (BenchmarkRelationsBusyDay). That scan reads each of a target's
// relations' index entries; made distinct before their key (idh, an
// md5) is computed for each, a root with 20,000 thread replies costs
// ThreadRoots 2.1-2.9 ms, not 19 (BenchmarkThreadRoots).
func relationTargetsSQL(d dialect, relType string) string {
	typ := ""
	if relType != "" {
		typ = ` AND x.rel_type = '` + relType + `'`
	}
	if d == sqlite {
		return `idh(t.event_id) IN (SELECT idh(ids.value) FROM (%[1]s) ids WHERE ` + relationsGuardSQL +
			` EXISTS (SELECT 1 FROM events x WHERE x.rel_target = ids.value AND x.rel_target <> '' AND NOT x.redacted` + typ + `))
			AND t.event_id IN (%[1]s)`
	}
	return `idh(t.event_id) IN (SELECT idh(d.rel_target) FROM (SELECT DISTINCT x.rel_target FROM events x WHERE x.rel_target IN (%[1]s) AND x.rel_target <> '' AND NOT x.redacted` + typ + `) d)
		AND t.event_id IN (%[1]s)`
}

// threadRepliesSQL is ThreadRoots' query: each listed target's room
// and the latest time of the thread replies Related keeps of it (the
// latest MaxRelated to arrive, from its room, public, not redacted, up
// to the one whose JSON, with theirs that arrived after it, reaches
// MaxRelatedBytes), of the targets with a thread reply
// (relationTargetsSQL); NULL without one. Each target's replies are
// walked from the latest to arrive (events_rel, in nid order) and no
// further than Related keeps: every reply compared as a group, each
// through a lookup of its target, cost 40 ms (SQLite) and 128 ms
// (PostgreSQL) for a root with 20,000, in every batch of the indexer
// that held one of them; now 0.4 and 2.1-2.9 (BenchmarkThreadRoots),
// 0.9 and 1.9-2.7 with their bytes summed. The bytes are summed over the
// walk, each reply's length a column of it (the window carries lengths,
// not JSON): without the sum, a root whose latest replies were large and
// expired was a thread for search (is:thread) by an earlier live reply
// that Related, and so its page, did not keep (TestThreadRoots, $root6).
func threadRepliesSQL(d dialect) string {
	return `SELECT t.event_id, t.room_id, (SELECT MAX(k.origin_ts) FROM (
		SELECT w.origin_ts, ` + bytesBefore(`w.len`, `ORDER BY w.nid DESC`) + `
		FROM (` + relationWalk(event.RelThread, `r.origin_ts, r.nid, octet_length(r.raw) AS len`) + `) w) k
		WHERE k.` + relatedBytesKept + `)
	FROM events t WHERE ` + relationTargetsSQL(d, event.RelThread)
}
