package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// previousMembershipSQL is previousStateSQL for many member events at once:
// one correlated subquery per event, on the same index, instead of one
// round trip each (a day page holds up to a page of member events). SQLite,
// which has no round trips, looks each event up instead
// (directPreviousMembership) and runs this only where it cannot. Only
// public state, as in PreviousState. Both bounds are there for the index
// scan to start at the event: SQLite starts at origin_ts's, PostgreSQL at
// the row value's (on events_state, which ends with nid), and with the
// bound as an OR both walked every later member event of the user first.
//
// Each event's room, user, timestamp and nid are given as values (%s is
// their rows, memberRows): they are the caller's, read with the
// event, and looking each event up again by its ID cost an index seek and
// a row read apiece, most of them from disk on a first page.
const previousMembershipSQL = `WITH q (id, room, sk, ts, nid) AS (%s)
SELECT q.id,
	(SELECT p.raw FROM events p
	 WHERE p.room_id = q.room AND p.type = 'm.room.member' AND p.state_key = q.sk AND p.public
	   AND p.origin_ts <= q.ts AND (p.origin_ts, p.nid) < (q.ts, q.nid)
	 ORDER BY p.origin_ts DESC, p.nid DESC LIMIT 1)
	FROM q`

// sqliteMemberRows is previousMembershipSQL's rows on SQLite, where the
// lookups cannot run through SQLite's API (directPreviousMembership): one
// JSON parameter, an array of [id, room, state key, ts, nid] arrays, as
// sqliteIDRows is for lists of IDs (and for the same reason: binding
// five numbered parameters a row cost the square of their number).
const sqliteMemberRows = `SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each($1)`

// PreviousMembership is PreviousState for every m.room.member event among
// evs, as the store read them (on PostgreSQL in one query per
// maxIDsPerQuery events, on SQLite a lookup each): the content of the
// member event each replaced, keyed by its event ID. An event with no
// earlier public member event for its user is absent; events of other
// types are ignored.
func (s *Store) PreviousMembership(ctx context.Context, evs []Event) (map[id.EventID]json.RawMessage, error) {
	var members []*Event
	for i := range evs {
		if e := &evs[i]; e.Type == event.TypeMember && e.StateKey != nil {
			members = append(members, e)
		}
	}
	out := make(map[id.EventID]json.RawMessage, len(members))
	if len(members) == 0 {
		return out, nil
	}
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	// The name a line like "X changed their name to Y" reads from the
	// previous member event is screened like the event itself.
	_, optouts, err := s.consentView(ctx)
	if err != nil {
		return nil, fmt.Errorf("previous membership: %w", err)
	}
	if err := s.lookUpPreviousMembership(ctx, members, optouts, out); err != nil {
		return nil, err
	}
	return out, nil
}

// lookUpPreviousMembership puts in out the previous membership of each of
// members (member events), screened by optouts: on SQLite a lookup each
// (directPreviousMembership), else previousMembershipSQL in chunks.
func (s *Store) lookUpPreviousMembership(ctx context.Context, members []*Event, optouts map[id.UserID]bool, out map[id.EventID]json.RawMessage) error {
	if len(members) == 0 {
		return nil
	}
	if s.dialect == sqlite && !s.noDirect {
		direct, err := s.directPreviousMembership(ctx, members, optouts, out)
		if err != nil {
			return fmt.Errorf("previous membership: %w", err)
		}
		if direct {
			return nil
		}
	}
	subject := make(map[id.EventID]id.UserID, len(members))
	for _, e := range members {
		subject[e.ID] = id.UserID(*e.StateKey)
	}
	for len(members) > 0 {
		n := min(len(members), maxIDsPerQuery)
		rows, args, err := memberRows(s.dialect, members[:n])
		if err != nil {
			return fmt.Errorf("previous membership: %w", err)
		}
		members = members[n:]
		if err := s.previousMembership(ctx, fmt.Sprintf(previousMembershipSQL, rows), args, subject, optouts, out); err != nil {
			return fmt.Errorf("previous membership: %w", err)
		}
	}
	return nil
}

// previousMemberSQL is previousStateSQL for a member event, its type in
// the text: SQLite compiles a statement again whenever a parameter whose
// value decided whether a partial index may serve it is bound again (the
// type's, compared with events_meeting's), so PreviousState's text was
// compiled anew for every lookup, four times the cost of the lookup
// (TestDirectReadKeepsItsStatementsCompiled).
const previousMemberSQL = `SELECT raw FROM events
	WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2 AND public
	  AND origin_ts <= $3 AND (origin_ts, nid) < ($3, $4)
	ORDER BY origin_ts DESC, nid DESC LIMIT 1`

// directPreviousMembership is PreviousMembership's reads on SQLite: a
// lookup for each member event (previousMemberSQL), through SQLite's API,
// in one read transaction (directProbes). In-process, that costs less
// than one query of them all, whose rows SQLite parsed from a JSON
// parameter (json_each, then ->> five times a row) and database/sql
// boxed: 400 lookups took 1.4 ms against 3.3
// (BenchmarkPreviousMembershipInRun), and the first day pages of the 1M
// replay, some 90 users each, 0.39-0.80 ms against 0.73-1.18. direct is
// false where they could not be read so.
func (s *Store) directPreviousMembership(ctx context.Context, members []*Event, optouts map[id.UserID]bool, out map[id.EventID]json.RawMessage) (bool, error) {
	args := make([][]any, len(members))
	for i, e := range members {
		args[i] = []any{string(e.RoomID), *e.StateKey, e.OriginTS, e.NID}
	}
	return s.directProbes(ctx, previousMemberSQL, args, func(i int, raw []byte) {
		out[members[i].ID] = previousShown(bytes.Clone(event.ContentOf(raw)), optouts[id.UserID(*members[i].StateKey)])
	})
}

// PreviousMembershipInRun is PreviousMembership for evs that are a run of
// one room's events as DayPage and DayPageBefore list them: every public
// member event between the run's first and last is in it. So a member
// event with an earlier one of its user in the run replaced that one,
// whose content is taken from the run (as the query would read it:
// without the profile of a user who opted out), and only the first of
// each user is looked up. A day of an IRC channel is mostly joins and
// quits, and their lookups were a tenth of its first page's CPU.
func (s *Store) PreviousMembershipInRun(ctx context.Context, evs []Event) (map[id.EventID]json.RawMessage, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	_, optouts, err := s.consentView(ctx)
	if err != nil {
		return nil, fmt.Errorf("previous membership: %w", err)
	}
	latest := map[string]int{} // a user's latest member event so far, by index
	out := map[id.EventID]json.RawMessage{}
	var first []*Event
	for i := range evs {
		e := &evs[i]
		if e.Type != event.TypeMember || e.StateKey == nil {
			continue
		}
		if j, ok := latest[*e.StateKey]; ok && evs[j].RoomID == e.RoomID {
			out[e.ID] = previousShown(evs[j].Content, optouts[id.UserID(*e.StateKey)])
		} else {
			first = append(first, e)
		}
		latest[*e.StateKey] = i
	}
	if err := s.lookUpPreviousMembership(ctx, first, optouts, out); err != nil {
		return nil, err
	}
	return out, nil
}

// memberRows is the rows of previousMembershipSQL for evs, and its
// arguments: on SQLite sqliteMemberRows and its JSON; on PostgreSQL a
// VALUES list padded as inListPadded pads (so that the query's text takes
// one of a few forms) with rows of no room, which match nothing. The casts
// type PostgreSQL's parameters, which a VALUES list leaves as text.
func memberRows(d dialect, evs []*Event) (string, []any, error) {
	if d == sqlite {
		list := make([][5]any, len(evs))
		for i, e := range evs {
			list[i] = [5]any{e.ID, e.RoomID, *e.StateKey, e.OriginTS, e.NID}
		}
		arg, err := json.Marshal(list)
		if err != nil {
			return "", nil, fmt.Errorf("member events as JSON: %w", err)
		}
		return sqliteMemberRows, []any{string(arg)}, nil
	}
	n := paddedLen(len(evs))
	const cols = 5
	rows := append(make([]byte, 0, n*110+7), "VALUES "...)
	args := make([]any, 0, n*cols)
	for i := range n {
		if i > 0 {
			rows = append(rows, ',')
		}
		k := int64(i*cols + 1)
		rows = fmt.Appendf(rows, "(CAST($%d AS TEXT),CAST($%d AS TEXT),CAST($%d AS TEXT),CAST($%d AS BIGINT),CAST($%d AS BIGINT))", k, k+1, k+2, k+3, k+4)
		if i < len(evs) {
			e := evs[i]
			args = append(args, string(e.ID), string(e.RoomID), *e.StateKey, e.OriginTS, e.NID)
		} else {
			args = append(args, "", "", "", int64(0), int64(0))
		}
	}
	return string(rows), args, nil
}

func (s *Store) previousMembership(ctx context.Context, query string, args []any, subject map[id.EventID]id.UserID, optouts map[id.UserID]bool, out map[id.EventID]json.RawMessage) error {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var evID string
		var raw *string // NULL: no earlier member event
		if err := rows.Scan(&evID, &raw); err != nil {
			return err
		}
		if raw == nil {
			continue
		}
		out[id.EventID(evID)] = previousShown(event.ContentOf([]byte(*raw)), optouts[subject[id.EventID(evID)]])
	}
	return rows.Err()
}

// previousShown is the content of a previous member event as the store
// gives it: without the profile of a user who opted out (optedOut), whose
// membership stays.
func previousShown(content json.RawMessage, optedOut bool) json.RawMessage {
	if optedOut {
		return withdrawnProfile(content, false)
	}
	return content
}
