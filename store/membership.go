package store

import (
	"context"
	"encoding/json"
	"fmt"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// previousMembershipSQL is previousStateSQL for many member events at once:
// one correlated subquery per event, on the same index, instead of one
// round trip each (a day page holds up to a page of member events). Only
// public state, as in PreviousState. Both bounds are there for the index
// scan to start at the event: SQLite starts at origin_ts's, PostgreSQL at
// the row value's (on events_state, which ends with nid), and with the
// bound as an OR both walked every later member event of the user first.
const previousMembershipSQL = `SELECT e.event_id,
	(SELECT p.raw FROM events p
	 WHERE p.room_id = e.room_id AND p.type = e.type AND p.state_key = e.state_key AND p.public
	   AND p.origin_ts <= e.origin_ts AND (p.origin_ts, p.nid) < (e.origin_ts, e.nid)
	 ORDER BY p.origin_ts DESC, p.nid DESC LIMIT 1)
	FROM events e WHERE e.event_id IN (%s) AND e.type = 'm.room.member' AND e.state_key IS NOT NULL`

// PreviousMembership is PreviousState for every m.room.member event among
// evs, in one query per maxIDsPerQuery events: the content of the member
// event each replaced, keyed by its event ID. An event with no earlier
// public member event for its user is absent; events of other types are
// ignored.
func (s *Store) PreviousMembership(ctx context.Context, evs []Event) (map[id.EventID]json.RawMessage, error) {
	var ids []id.EventID
	subject := map[id.EventID]id.UserID{}
	for _, e := range evs {
		if e.Type == event.TypeMember && e.StateKey != nil {
			ids = append(ids, e.ID)
			subject[e.ID] = id.UserID(*e.StateKey)
		}
	}
	out := make(map[id.EventID]json.RawMessage, len(ids))
	if len(ids) == 0 {
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
	for len(ids) > 0 {
		n := min(len(ids), maxIDsPerQuery)
		ph, args := inListPadded(ids[:n])
		ids = ids[n:]
		if err := s.previousMembership(ctx, fmt.Sprintf(previousMembershipSQL, ph), args, subject, optouts, out); err != nil {
			return nil, fmt.Errorf("previous membership: %w", err)
		}
	}
	return out, nil
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
		c := event.ContentOf([]byte(*raw))
		if optouts[subject[id.EventID(evID)]] {
			c = withdrawnProfile(c, false)
		}
		out[id.EventID(evID)] = c
	}
	return rows.Err()
}
